"""The torch CLAP log-mel against transformers' ClapFeatureExtractor, on real RAVDESS clips.

Tolerance: 1e-4 dB, absolute, on every value. The extractor computes in float64
numpy and returns float32; its values span -100 dB (the clamp) to about +45 dB,
where one float32 step is 7.6e-6 dB, so two independent roundings differ by a
step or two. 1e-4 dB (a relative error of 2.3e-5 in power) leaves room for
float32 sums over the filter bank and nothing more: a float32 FFT, the obvious
shortcut, is off by up to a few dB in the quiet bands above 8 kHz of speech
resampled from 16 kHz (test below), and the check must catch that.
"""

import numpy as np
import pytest
import torch

from sklearn_zsfuse.audio import amplified_window, as_clip_list, decode
from sklearn_zsfuse.encoders import clap_mel
from sklearn_zsfuse.encoders.hf_clap import HFClapEncoder

TOLERANCE_DB = 1e-4


@pytest.fixture(scope="module")
def ravdess_windows(ravdess_small):
    """Real speech at 48 kHz in 10 s windows: repeat-padded (1x) and cropped from a tiled clip (4x)."""
    paths = ravdess_small[0][::6][:8]
    waves = [decode(c, 48000) for c in as_clip_list(paths, None)]
    return [amplified_window(w, n, 480000) for w in waves for n in (1, 4)]


def reference_mel(encoder, waves):
    """What the transformers extractor gives these windows (no crop, no padding, no random draw)."""
    truncation = "fusion" if encoder.fusion else "rand_trunc"
    fe = encoder.feature_extractor
    return np.stack(
        [fe._get_input_mel(w.astype(np.float64), fe.nb_max_samples, truncation, "repeatpad")[0] for w in waves]
    ).astype(np.float32)


@pytest.mark.parametrize("fixture", ["tiny_clap", "tiny_clap_fused"])
def test_log_mel_matches_the_transformers_extractor_on_real_clips(request, fixture, ravdess_windows):
    encoder = HFClapEncoder(request.getfixturevalue(fixture), device="cpu")
    features = encoder.audio_features(ravdess_windows)
    expected = reference_mel(encoder, ravdess_windows)
    assert isinstance(features, torch.Tensor) and features.device.type == "cpu"
    assert features.dtype == torch.float32
    assert tuple(features.shape) == expected.shape == (len(ravdess_windows), 4 if encoder.fusion else 1, 1001, 64)
    np.testing.assert_allclose(features.numpy(), expected, rtol=0, atol=TOLERANCE_DB)
    # real speech, not a degenerate input: a wide range of levels, and many values above the clamp
    assert expected.max() - expected.min() > 100 and (expected > -90).mean() > 0.5


def test_a_float32_fft_would_miss_the_tolerance(monkeypatch, tiny_clap_fused, ravdess_windows):
    """Why the FFT runs in float64: the check above is sharp enough to see the difference."""
    encoder = HFClapEncoder(tiny_clap_fused, device="cpu")
    monkeypatch.setattr(encoder.log_mel, "fft_dtype", torch.float32)
    monkeypatch.setattr(encoder.log_mel, "_window", encoder.log_mel._window.float())
    diff = np.abs(encoder.audio_features(ravdess_windows).numpy() - reference_mel(encoder, ravdess_windows))
    assert diff.max() > 100 * TOLERANCE_DB


def test_batches_give_each_clip_its_own_spectrogram(tiny_clap, ravdess_windows):
    encoder = HFClapEncoder(tiny_clap, device="cpu")
    together = encoder.audio_features(ravdess_windows[:4])
    alone = torch.cat([encoder.audio_features([w]) for w in ravdess_windows[:4]])
    torch.testing.assert_close(together, alone, rtol=0, atol=0)


def test_scores_from_torch_features_match_the_extractor_path(tiny_clap, ravdess_windows):
    """The embeddings the model gives from either front end: same within float32 noise."""
    encoder = HFClapEncoder(tiny_clap, device="cpu")
    ours = encoder.encode_features(encoder.audio_features(ravdess_windows))
    theirs = encoder.encode_features(reference_mel(encoder, ravdess_windows))  # numpy input is accepted too
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_windows_of_the_wrong_length_are_refused(tiny_clap):
    encoder = HFClapEncoder(tiny_clap, device="cpu")
    with pytest.raises(ValueError, match="expected 480000 samples per clip, got 100"):
        encoder.audio_features([np.zeros(100, np.float32)])
    with pytest.raises(ValueError, match=r"\(batch, samples\)"):
        clap_mel.ClapLogMel(encoder.feature_extractor, fused=False)(np.zeros(10, np.float32))


@pytest.mark.gpu
def test_log_mel_runs_on_the_models_cuda_device(tiny_clap_fused, ravdess_windows):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    encoder = HFClapEncoder(tiny_clap_fused, device="cuda")
    features = encoder.audio_features(ravdess_windows[:4])
    assert features.device.type == "cuda"
    np.testing.assert_allclose(
        features.cpu().numpy(), reference_mel(encoder, ravdess_windows[:4]), rtol=0, atol=TOLERANCE_DB
    )


@pytest.mark.parametrize("amplitude", [3e4, 1.2e28])  # int16 counts as floats; far beyond float32 powers
def test_clips_louder_than_full_scale_match_too(tiny_clap, ravdess_windows, amplitude):
    encoder = HFClapEncoder(tiny_clap, device="cpu")
    loud = [(w / np.abs(w).max() * amplitude).astype(np.float32) for w in ravdess_windows[:2]]
    features = encoder.audio_features(loud).numpy()
    expected = reference_mel(encoder, loud)
    assert np.isfinite(features).all() and expected.max() > 80
    # float32 steps grow with the value (3e-5 dB at 500 dB): a relative term covers them
    np.testing.assert_allclose(features, expected, rtol=1e-6, atol=TOLERANCE_DB)


def frames_transformed(monkeypatch):
    """Frames each FFT call of the front end transforms."""
    seen = []
    real = torch.fft.rfft

    def spy(x, *args, **kwargs):
        seen.append(x.shape[:-1].numel())
        return real(x, *args, **kwargs)

    monkeypatch.setattr(torch.fft, "rfft", spy)
    return seen


def test_frames_of_the_zero_padding_are_not_transformed(monkeypatch, tiny_clap, ravdess_windows):
    # A repeat-padded 3.5 s clip is 30 % zeros: frames that see only zeros have a known
    # spectrogram (the -100 dB clamp), so the FFT skips them, and the result stays exact.
    encoder = HFClapEncoder(tiny_clap, device="cpu")

    def tail(w):
        return 480000 - 1 - int(np.flatnonzero(w)[-1])

    padded = max(ravdess_windows[::2], key=tail)  # the repeat-padded (1x) windows
    assert tail(padded) > 48000, "the fixture should hold a clip whose padding is > 1 s"
    seen = frames_transformed(monkeypatch)
    features = encoder.audio_features([padded]).numpy()
    assert 0 < sum(seen) <= 1001 - tail(padded) // 480 + 2
    np.testing.assert_allclose(features, reference_mel(encoder, [padded]), rtol=0, atol=TOLERANCE_DB)
    assert (features[0, 0, -1] == -100.0).all()


@pytest.mark.parametrize("tail", [0, 1, 100, 511, 512, 513, 600, 959, 960, 961, 1500, 479999, 480000])
def test_any_zero_tail_gives_the_extractors_spectrogram(tiny_clap, ravdess_windows, tail):
    # Around the edges: the last frames see the clip's end through the reflect padding,
    # and a frame starts every 480 samples.
    encoder = HFClapEncoder(tiny_clap, device="cpu")
    wave = ravdess_windows[1].copy()  # cropped from a tiled clip: sound up to its last sample
    wave[480000 - tail :] = 0
    np.testing.assert_allclose(
        encoder.audio_features([wave]).numpy(), reference_mel(encoder, [wave]), rtol=0, atol=TOLERANCE_DB
    )


def test_a_batch_of_clips_with_different_tails_matches_each_alone(monkeypatch, tiny_clap, ravdess_windows):
    # On a GPU one STFT call takes many clips: it transforms up to the longest one's sound.
    monkeypatch.setattr(clap_mel, "_CPU_CHUNK", 8)
    encoder = HFClapEncoder(tiny_clap, device="cpu")
    together = encoder.audio_features(ravdess_windows[:8]).numpy()
    np.testing.assert_allclose(together, reference_mel(encoder, ravdess_windows[:8]), rtol=0, atol=TOLERANCE_DB)


def test_reused_buffers_carry_nothing_from_one_clip_or_thread_to_the_next(tiny_clap, ravdess_windows):
    # The CPU front end reuses its intermediates per thread: a short clip after a long
    # one, a quiet one after a loud one, and two threads at once each get their own.
    from concurrent.futures import ThreadPoolExecutor

    encoder = HFClapEncoder(tiny_clap, device="cpu")
    loud = (ravdess_windows[1] * 3e4).astype(np.float32)
    order = [ravdess_windows[1], ravdess_windows[0], loud, ravdess_windows[2], ravdess_windows[0]]
    expected = reference_mel(encoder, order)
    serial = np.stack([encoder.audio_features([w]).numpy()[0] for w in order])
    np.testing.assert_allclose(serial, expected, rtol=1e-6, atol=TOLERANCE_DB)
    with ThreadPoolExecutor(2) as pool:
        threaded = np.stack(list(pool.map(lambda w: encoder.audio_features([w]).numpy()[0], order * 4)))
    np.testing.assert_array_equal(threaded, np.concatenate([serial] * 4))
