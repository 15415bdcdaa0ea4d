"""The GE2E specialist (issue 19): front end, LSTM states, pooling, batching, loading, provenance.

Two kinds of test:

* On a GE2E checkpoint with random weights (``random_ge2e``, Resemblyzer's format):
  the front end against librosa, the layers against torch's own 3-layer LSTM, padding
  and blocks, loading and errors. They need neither Resemblyzer nor webrtcvad.
* On the real weights of the installed Resemblyzer wheel, against the package itself
  (``VoiceEncoder``, ``preprocess_wav``): they skip where ``resemblyzer`` cannot be
  imported (it needs webrtcvad: install ``webrtcvad-wheels``), and fail instead under
  ``ZSFUSE_REQUIRE_BACKENDS=1`` (CI's backends environment; .ci/run installs both).

Tolerances: both sides compute in float32 (Resemblyzer's mel in float64 under numpy 2,
cast to float32), with different FFTs and matrix products, so results differ by float32
rounding carried through up to a few hundred LSTM steps: on 15 RAVDESS clips, at most
2.1e-7 on the unit-norm speaker embeddings and 3.9e-7 on the pooled states. The tests
allow 1e-5 (absolute, on values within [-1, 1]), 25 times that, while every wrong
detail we tried moves the embedding by 1e-3 (reflect instead of zero padding, which
changes only the edge frames) to 0.3 (HTK mel scale, magnitude instead of power, 6 dB
of volume): see test_the_tolerance_separates_wrong_details.
"""

from __future__ import annotations

import importlib
import os
import pickle
import warnings

import numpy as np
import pytest

from sklearn_zsfuse import FMEmbedder
from sklearn_zsfuse.encoders import GE2E, MissingExtraError, ModelLoadError, get_speech_encoder
from sklearn_zsfuse.encoders import ge2e as ge2e_module
from sklearn_zsfuse.encoders.ge2e import HOP, N_FFT, partial_starts
from sklearn_zsfuse.encoders.ge2e_preprocess import trimmed_silences

ATOL = 1e-5  # see the module docstring
REQUIRED = os.environ.get("ZSFUSE_REQUIRE_BACKENDS") == "1"


def _encoder(path, pooling="mean", vad=False):
    return get_speech_encoder(GE2E(pooling=pooling, checkpoint=path, vad=vad), device="cpu")


def _speech_like(rng, seconds, rate=16000):
    """A voiced-sounding test signal: a gliding harmonic tone with noise, amplitude-modulated."""
    t = np.arange(int(seconds * rate)) / rate
    f0 = 120 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    tone = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    return (0.05 * envelope * tone + 0.002 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def clips():
    rng = np.random.default_rng(7)
    return [_speech_like(rng, s) for s in (0.3, 1.37, 2.0, 3.21)]


def _torch_states(path, mel, n_layers):
    """Hidden states of torch's own multi-layer LSTM (Resemblyzer's module) with the file's weights."""
    import torch

    state = torch.load(path, weights_only=True)["model_state"]
    lstm = torch.nn.LSTM(40, 256, n_layers, batch_first=True)
    lstm.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("lstm.") and int(k[-1]) < n_layers})
    with torch.no_grad():
        out, _ = lstm(torch.from_numpy(mel)[None])
    return out[0].numpy()


def _librosa_mel(wave):
    """Resemblyzer's ``wav_to_mel_spectrogram``: librosa's power mel, (frames, 40)."""
    import librosa

    return librosa.feature.melspectrogram(y=wave, sr=16000, n_fft=400, hop_length=160, n_mels=40).astype(np.float32).T


# --------------------------------------------------------------------------------------
# Random weights: no Resemblyzer needed
# --------------------------------------------------------------------------------------


def test_mel_front_end_is_librosas(random_ge2e, clips):
    enc = _encoder(random_ge2e)
    import torch

    for wave in clips:
        theirs = _librosa_mel(wave)
        with torch.inference_mode():
            ours = enc._mel(enc._signals([wave], theirs.shape[0]))[0].numpy()
        assert ours.shape == theirs.shape == (1 + wave.size // HOP, 40)
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6 * theirs.max())


@pytest.mark.parametrize("pooling", ["mean", "stats"])
def test_layers_are_the_lstm_layers_states_pooled_over_frames(random_ge2e, clips, pooling):
    enc = _encoder(random_ge2e, pooling)
    pooled = enc.encode(clips)
    assert pooled.shape == (len(clips), 3, 512 if pooling == "stats" else 256)
    for wave, ours in zip(clips, pooled):
        mel = _librosa_mel(ge2e_module.normalized_volume(wave))
        for k in range(3):
            states = _torch_states(random_ge2e, mel, k + 1)  # (frames, 256) of layer k
            expected = states.mean(0) if pooling == "mean" else np.concatenate([states.mean(0), states.std(0)])
            np.testing.assert_allclose(ours[k], expected, atol=ATOL)


@pytest.mark.parametrize("pooling", ["mean", "stats", "utterance"])
def test_a_clip_alone_equals_the_clip_in_a_padded_batch(random_ge2e, clips, pooling):
    enc = _encoder(random_ge2e, pooling)
    together = enc.encode(clips[::-1])[::-1]
    alone = np.stack([enc.encode([w])[0] for w in clips])
    np.testing.assert_allclose(together, alone, atol=ATOL)


def test_long_clips_run_in_blocks_carrying_the_lstm_state(random_ge2e, clips):
    """Blocks of frames with the state carried are one pass: any block size gives the same result."""
    rng = np.random.default_rng(3)
    waves = [_speech_like(rng, 9.0), clips[1], _speech_like(rng, 5.5)]
    for pooling in ("mean", "stats"):
        enc = _encoder(random_ge2e, pooling)
        whole = enc.encode(waves)
        enc.block_frames = 37  # clips span 4 to 25 blocks, and end in different ones
        try:
            blocked = enc.encode(waves)
        finally:
            enc.block_frames = ge2e_module.BLOCK_FRAMES
        np.testing.assert_allclose(blocked, whole, atol=ATOL)


def test_embedder_gives_a_layer_or_the_layer_mean(random_ge2e, clips):
    spec = GE2E(checkpoint=random_ge2e, vad=False)
    layers = FMEmbedder(spec, sampling_rate=16000, device="cpu").fit().layer_embeddings(clips)
    assert layers.shape == (len(clips), 3, 256)
    for layer in (0, 1, -1):
        emb = FMEmbedder(spec, layer=layer, sampling_rate=16000, device="cpu").fit(clips)
        np.testing.assert_allclose(emb.transform(clips), layers[:, layer], atol=1e-6)
    emb = FMEmbedder(spec, layer="all", sampling_rate=16000, device="cpu").fit(clips)
    np.testing.assert_allclose(emb.transform(clips), layers.mean(1), atol=1e-6)
    with pytest.raises(ValueError, match="layer=3 is out of range"):
        FMEmbedder(spec, layer=3, sampling_rate=16000, device="cpu").fit()


def test_pooling_and_trimming_are_in_the_fingerprint(random_ge2e, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "webrtcvad", _FakeVad)
    specs = [GE2E(pooling=p, checkpoint=random_ge2e, vad=v) for p in ("mean", "stats", "utterance") for v in (True, False)]
    assert len({spec.load().fingerprint for spec in specs}) == 6  # so the embedding cache never mixes them
    stats = _encoder(random_ge2e, "stats")
    assert list(stats.feature_names[:2]) == ["mean0", "mean1"] and stats.feature_names[256] == "std0"


def test_loading_leaves_torch_rng_alone(random_ge2e):
    import torch

    from sklearn_zsfuse.encoders import clear_models

    clear_models()
    before = torch.random.get_rng_state()
    _encoder(random_ge2e)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_a_checkpoint_of_another_shape_is_named(random_ge2e, tmp_path):
    import torch

    state = torch.load(random_ge2e, weights_only=True)["model_state"]
    state["lstm.weight_hh_l1"] = state["lstm.weight_hh_l1"][:, :128]
    torch.save({"model_state": state}, tmp_path / "bad.pt")
    with pytest.raises(ModelLoadError, match=r"lstm.weight_hh_l1 is of shape \(1024, 128\), expected \(1024, 256\)"):
        GE2E(checkpoint=str(tmp_path / "bad.pt"), vad=False).load()
    del state["linear.bias"]
    torch.save(state, tmp_path / "bare.pt")  # a bare state dict is read too
    with pytest.raises(ModelLoadError, match="linear.bias is missing"):
        GE2E(checkpoint=str(tmp_path / "bare.pt"), vad=False).load()
    with pytest.raises(ModelLoadError, match="does not exist"):
        GE2E(checkpoint=str(tmp_path / "absent.pt"), vad=False).load()
    with pytest.raises(ValueError, match="pooling must be one of"):
        GE2E(pooling="max")


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    import torch

    torch.save({"model_state": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(ModelLoadError, match="refused, nothing from it ran"):
        GE2E(checkpoint=str(tmp_path / "evil.pt"), vad=False).load()


def test_without_the_wheel_the_error_names_the_install_line(monkeypatch):
    from importlib import metadata

    def absent(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", absent)
    with pytest.raises(MissingExtraError, match=r"pip install --no-deps Resemblyzer==0\.1\.4"):
        ge2e_module.resemblyzer_weights()


def test_without_webrtcvad_the_error_names_the_wheels(random_ge2e, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "webrtcvad", None)
    with pytest.raises(MissingExtraError, match=r"webrtcvad-wheels.*sklearn-zsfuse\[ge2e\].*vad=False"):
        GE2E(checkpoint=random_ge2e).load()


def test_registered_names_declare_layers_and_requirements():
    from sklearn_zsfuse.encoders.checks import check_fm_layers

    from sklearn_zsfuse.encoders.registry import resolve_fm

    for name, n_layers in (("ge2e", 3), ("ge2e:stats", 3), ("ge2e:utterance", 1)):
        spec = resolve_fm(name)
        assert spec.n_layers == n_layers
        assert {m for m, _ in spec.requires} == {"resemblyzer", "webrtcvad"}
    check_fm_layers("ge2e", [0, 1, 2, -1, "all"])
    with pytest.raises(ValueError, match="--layer 3 is out of range for 'ge2e'"):
        check_fm_layers("ge2e", [3], "--layer")


def test_partial_windows_follow_resemblyzers_rule():
    """1.6 s windows every 77 frames; a last window less than 75 % covered is dropped, unless alone."""
    assert partial_starts(8000) == [0]  # 0.5 s: one window, whatever its coverage
    assert partial_starts(160 * 160) == [0]  # exactly one window
    # 2.5 s = 251 frames: windows at 0, 77, 154; the one at 154 covers (40000-24640)/25600 = 60 %.
    assert partial_starts(40000) == [0, 77]
    # 3 s: the window at 154 covers (48000-24640)/25600 = 91 %: kept.
    assert partial_starts(48000) == [0, 77, 154]


# --------------------------------------------------------------------------------------
# The voice activity trimming, with a stand-in detector
# --------------------------------------------------------------------------------------


class _FakeVad:
    """A stand-in for webrtcvad: a window is voiced where its mean absolute sample is large."""

    __version__ = "fake"

    class Vad:
        def __init__(self, mode):
            assert mode == 3

        def is_speech(self, buf, sample_rate):
            assert sample_rate == 16000 and len(buf) == 960
            return bool(np.abs(np.frombuffer(buf, dtype=np.int16)).mean() > 1000)


def _naive_keep(voiced):
    """Resemblyzer's smoothing and widening, written out window by window."""
    n = len(voiced)
    avg = [sum(voiced[j] for j in range(i - 3, i + 5) if 0 <= j < n) / 8 for i in range(n)]
    smooth = np.round(avg).astype(bool)
    return np.array([smooth[max(0, i - 3) : i + 4].any() for i in range(n)])


def test_long_silences_are_cut_as_resemblyzer_cuts_them():
    rng = np.random.default_rng(0)
    voiced = np.zeros(60, dtype=bool)
    voiced[[5, 6, 7, 8, 9, 10, 11, 20, 40, 41, 42, 43, 44, 45, 46, 47, 48, 55]] = True
    wave = np.where(np.repeat(voiced, 480), 0.3, 0.001).astype(np.float32) * rng.choice([-1, 1], 60 * 480)
    wave = np.concatenate([wave, np.full(100, 0.3, np.float32)])  # a partial window: dropped
    keep = _naive_keep(voiced)
    assert 0 < keep.sum() < 60  # the example exercises both smoothing and widening
    np.testing.assert_array_equal(trimmed_silences(wave, _FakeVad), wave[:28800][np.repeat(keep, 480)])
    silent = np.full(16000, 0.001, np.float32)
    assert trimmed_silences(silent, _FakeVad) is silent  # no voice found: the clip stays whole
    assert trimmed_silences(wave[:300], _FakeVad).size == 300  # under one window: kept


def test_trimming_comes_before_the_lstm(random_ge2e, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "webrtcvad", _FakeVad)
    rng = np.random.default_rng(1)
    speech = 4 * _speech_like(rng, 1.5)
    silence = np.zeros(16000, np.float32) + 1e-4 * rng.standard_normal(16000).astype(np.float32)
    padded = np.concatenate([silence, speech, silence])
    trimming = GE2E(checkpoint=random_ge2e).load()  # not shared: its detector is the stand-in
    assert trimming.preprocessed(padded).size < padded.size - 16000
    np.testing.assert_allclose(
        trimming.encode([padded]), _encoder(random_ge2e).encode([trimming.preprocessed(padded)]), atol=ATOL
    )


def test_volume_is_raised_only(clips):
    quiet = 0.01 * clips[2]
    raised = ge2e_module.normalized_volume(quiet)
    assert 20 * np.log10(np.sqrt(np.mean(raised.astype(np.float64) ** 2))) == pytest.approx(-30, abs=1e-3)
    loud = 0.9 * clips[2] / np.abs(clips[2]).max()
    assert ge2e_module.normalized_volume(loud) is loud
    silent = np.zeros(1000, np.float32)
    assert ge2e_module.normalized_volume(silent) is silent


# --------------------------------------------------------------------------------------
# The real weights, against the Resemblyzer package
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def resemblyzer():
    """The Resemblyzer package, imported (it needs an importable webrtcvad)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy.ndimage.morphology's deprecation
            return importlib.import_module("resemblyzer")
    except ImportError as exc:
        if REQUIRED:
            raise RuntimeError(f"ZSFUSE_REQUIRE_BACKENDS=1 but resemblyzer cannot be imported: {exc}") from exc
        pytest.skip(f"resemblyzer cannot be imported ({exc}); {ge2e_module.INSTALL}")


@pytest.fixture(scope="module")
def real_clips(resemblyzer, speech_files):
    import soundfile as sf

    return [sf.read(p, dtype="float32")[0] for p in speech_files]


def test_speaker_embedding_equals_embed_utterance(resemblyzer, speech_files, real_clips):
    """From the files, through FMEmbedder: Resemblyzer's preprocess_wav then embed_utterance."""
    voice = resemblyzer.VoiceEncoder("cpu", verbose=False)
    theirs = np.stack([voice.embed_utterance(resemblyzer.preprocess_wav(w)) for w in real_clips])
    ours = FMEmbedder("ge2e:utterance", device="cpu", batch_size=3).fit().transform(speech_files)
    np.testing.assert_allclose(ours, theirs, atol=ATOL)
    assert np.all(np.abs(ours - theirs).max(axis=1) < ATOL)


def test_preprocessing_equals_preprocess_wav(resemblyzer, real_clips):
    enc = get_speech_encoder("ge2e", device="cpu")
    for wave in real_clips:
        theirs = resemblyzer.preprocess_wav(wave)
        ours = enc.preprocessed(wave)
        assert ours.shape == theirs.shape and ours.size < wave.size  # RAVDESS: silences cut
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)


def test_layer_states_equal_the_packages_lstm(resemblyzer, real_clips):
    """Each layer's pooled states, against the package's own LSTM (truncated for layers 0 and 1)."""
    import torch

    voice = resemblyzer.VoiceEncoder("cpu", verbose=False)
    means = get_speech_encoder("ge2e", device="cpu").encode(real_clips)
    stats = get_speech_encoder("ge2e:stats", device="cpu").encode(real_clips)
    for wave, mean, stat in zip(real_clips, means, stats):
        mel = torch.from_numpy(resemblyzer.wav_to_mel_spectrogram(resemblyzer.preprocess_wav(wave)))[None]
        with torch.no_grad():
            last, (h_n, _) = voice.lstm(mel)
            for k in range(3):
                lstm = torch.nn.LSTM(40, 256, k + 1, batch_first=True)
                lstm.load_state_dict({n: p for n, p in voice.lstm.state_dict().items() if int(n[-1]) <= k})
                states = lstm(mel)[0][0]
                if k == 2:
                    torch.testing.assert_close(states, last[0], rtol=0, atol=0)
                np.testing.assert_allclose(states[-1].numpy(), h_n[k, 0].numpy(), atol=1e-6)
                np.testing.assert_allclose(mean[k], states.mean(0).numpy(), atol=ATOL)
                np.testing.assert_allclose(stat[k], torch.cat([states.mean(0), states.std(0, unbiased=False)]).numpy(), atol=ATOL)


def test_provenance_names_the_wheel_and_its_licence(resemblyzer, real_clips, tmp_path):
    import joblib

    emb = FMEmbedder("ge2e", layer=1, sampling_rate=16000, device="cpu").fit()
    joblib.dump(emb, tmp_path / "m.joblib")
    again = joblib.load(tmp_path / "m.joblib")
    assert again.weights_provenance_.startswith("GE2E speaker encoder weights: resemblyzer/pretrained.pt of Resemblyzer 0.1.4 (Apache-2.0")
    assert "sha256 39373b86598fa3da" in again.weights_provenance_  # the 0.1.4 wheel's file
    np.testing.assert_allclose(again.transform(real_clips[:1]), emb.transform(real_clips[:1]), atol=0)
    assert pickle.loads(pickle.dumps(emb)).weights_provenance_ == emb.weights_provenance_


def test_the_tolerance_separates_wrong_details(resemblyzer, real_clips):
    """Each plausible mistake moves the speaker embedding far more than ATOL."""
    import librosa
    import torch

    voice = resemblyzer.VoiceEncoder("cpu", verbose=False)
    wave = resemblyzer.preprocess_wav(real_clips[0])
    right = voice.embed_utterance(wave)

    def embed(mel_of, partial=160, raw=wave):
        mel = mel_of(raw)
        starts = partial_starts(raw.size)
        need = starts[-1] + partial
        mel = np.pad(mel, ((0, max(0, need - len(mel))), (0, 0)))
        with torch.no_grad():
            e = voice(torch.from_numpy(np.stack([mel[s : s + partial] for s in starts])))
        e = e.numpy().mean(0)
        return e / np.linalg.norm(e)

    assert np.abs(embed(_librosa_mel) - right).max() < ATOL  # the harness itself is right
    wrong = {
        "reflect padding": lambda w: librosa.feature.melspectrogram(
            y=w, sr=16000, n_fft=N_FFT, hop_length=HOP, n_mels=40, pad_mode="reflect").T,
        "htk mel scale": lambda w: librosa.feature.melspectrogram(
            y=w, sr=16000, n_fft=N_FFT, hop_length=HOP, n_mels=40, htk=True).T,
        "magnitude, not power": lambda w: librosa.feature.melspectrogram(
            y=w, sr=16000, n_fft=N_FFT, hop_length=HOP, n_mels=40, power=1.0).T,
        "6 dB quieter (the volume raise)": lambda w: _librosa_mel(0.5 * w),
    }
    for what, mel_of in wrong.items():
        assert np.abs(embed(mel_of) - right).max() > 20 * ATOL, what
