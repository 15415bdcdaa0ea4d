"""The encoding engine: bounded streaming, input workers, batch plans, errors, cache counts."""

import os
import threading
import time
import weakref

import numpy as np
import pytest

from sklearn_zsfuse import ALMZeroShotScorer, AudioInputError, FMEmbedder, clear_caches
from sklearn_zsfuse.encoders import get_speech_encoder, register_alm, unregister_alm
from sklearn_zsfuse.engine import adapters
from sklearn_zsfuse.engine.feed import batches_ahead
from sklearn_zsfuse.engine.plan import plan_batches
from sklearn_zsfuse.engine.workers import default_workers


def _many_clips(n, sr=16000, seed=0, low=0.3, high=0.8):
    rng = np.random.default_rng(seed)
    return [(0.1 * rng.standard_normal(int(sr * rng.uniform(low, high)))).astype(np.float32) for _ in range(n)]


def _write(tmp_path, waves, sr=16000):
    import soundfile as sf

    paths = []
    for i, wave in enumerate(waves):  # files: decoding creates the only copy
        paths.append(str(tmp_path / f"{i}.wav"))
        sf.write(paths[-1], wave, sr, subtype="FLOAT")
    return paths


@pytest.mark.parametrize("n_workers", [1, 3])
@pytest.mark.parametrize("estimator", ["fm", "alm"])
def test_transform_holds_a_fixed_number_of_batches_of_decoded_audio(
    monkeypatch, tmp_path, estimator, n_workers, tiny_wavlm, tiny_clap
):
    """Streaming: however fast the workers and slow the model, at most 1 + batches_ahead
    batches of decoded audio are alive; the corpus is never held."""
    batch_size, n = 3, 24
    paths = _write(tmp_path, _many_clips(n))
    alive: list[weakref.ref] = []
    peak = [0]
    real_decode = adapters.decode

    def tracking_decode(clip, rate, *args):
        wave = real_decode(clip, rate, *args)
        alive.append(weakref.ref(wave))
        return wave

    monkeypatch.setattr(adapters, "decode", tracking_decode)
    if estimator == "fm":
        est = FMEmbedder(tiny_wavlm, sampling_rate=16000, batch_size=batch_size, device="cpu", n_workers=n_workers)
        encoder, method = est.fit()._encoder(), "encode"
    else:
        # N_a=1 and a window longer than the clips: the window pads a copy, so decoded
        # waves die once windowed. On a CPU the input workers turn each window into its
        # spectrogram (features_on_host): track what they hand to the model's thread.
        est = ALMZeroShotScorer(
            tiny_clap, classes=["a", "b"], sampling_rate=16000, batch_size=batch_size, device="cpu", n_workers=n_workers
        )
        encoder, method = est.fit()._encoder(), "encode_features"
        assert est._record().abilities.features_on_host
        real_prepare = adapters.ALMAudio.prepare

        def tracking_prepare(self, clip):
            features, silent = real_prepare(self, clip)
            alive.append(weakref.ref(features))
            return features, silent

        monkeypatch.setattr(adapters.ALMAudio, "prepare", tracking_prepare)
    real_encode = getattr(encoder, method)

    def slow_encode(batch):
        time.sleep(0.05)  # the workers could load the whole corpus meanwhile, if allowed
        peak[0] = max(peak[0], sum(ref() is not None for ref in alive))
        return real_encode(batch)

    monkeypatch.setattr(encoder, method, slow_encode)
    out = est.transform(paths)
    assert len(out) == n
    bound = (1 + batches_ahead(n_workers)) * batch_size
    if estimator == "fm":
        assert batch_size <= peak[0] <= bound
    else:  # spectrograms, alive from the input workers on
        assert batch_size <= peak[0] <= bound


def test_workers_give_the_same_results_in_input_order(monkeypatch, tiny_clap, tiny_wavlm):
    clips = _many_clips(13)
    rng = np.random.default_rng(1)
    delays = {id(c): float(d) for c, d in zip(clips, rng.uniform(0, 0.01, len(clips)))}
    real_decode = adapters.decode

    def jittery_decode(clip, *args):  # finish out of order
        time.sleep(delays.get(id(clip.source), 0.0))
        return real_decode(clip, *args)

    monkeypatch.setattr(adapters, "decode", jittery_decode)
    results = {}
    for n_workers in (1, 4):
        clear_caches()
        fm = FMEmbedder(tiny_wavlm, sampling_rate=16000, batch_size=3, device="cpu", n_workers=n_workers).fit()
        zs = ALMZeroShotScorer(
            tiny_clap, classes=["a", "b"], sampling_rate=16000, batch_size=3, device="cpu", n_workers=n_workers
        ).fit()
        results[n_workers] = fm.transform(clips), zs.transform(clips)
    np.testing.assert_array_equal(results[1][0], results[4][0])
    np.testing.assert_array_equal(results[1][1], results[4][1])


@pytest.mark.parametrize("on_host", [True, False], ids=["cpu-model", "device-model"])
def test_decoding_runs_on_the_workers_and_features_where_the_model_says(monkeypatch, tiny_clap, on_host):
    """Spectrograms: on the input workers for a model on the host CPU (they overlap the
    forward pass), else batched on the model's thread, where its device is."""
    import dataclasses

    zs = ALMZeroShotScorer(tiny_clap, classes=["a", "b"], sampling_rate=16000, batch_size=2, device="cpu", n_workers=2).fit()
    record = zs._record()
    encoder = record.encoder
    assert encoder.features_on_host and record.abilities.features_on_host  # a CPU model
    threads = {"decode": set(), "features": set(), "forward": set()}
    real_decode, real_features, real_forward = adapters.decode, encoder.audio_features, encoder.encode_features

    def spy(kind, fn):
        def wrapped(*args):
            threads[kind].add(threading.current_thread().name)
            return fn(*args)

        return wrapped

    monkeypatch.setattr(adapters, "decode", spy("decode", real_decode))
    monkeypatch.setattr(encoder, "audio_features", spy("features", real_features))
    monkeypatch.setattr(encoder, "encode_features", spy("forward", real_forward))
    # as a CUDA model's record says False
    monkeypatch.setattr(record, "abilities", dataclasses.replace(record.abilities, features_on_host=on_host))
    try:
        expected = ALMZeroShotScorer(tiny_clap, classes=["a", "b"], sampling_rate=16000, device="cpu",
                                     n_workers=1, batch_size=6)
        clips = _many_clips(6)
        out = zs.transform(clips)
    finally:
        monkeypatch.undo()
    main = threading.current_thread().name
    assert threads["forward"] == {main}
    assert threads["decode"] and all(t.startswith("zsfuse-input") for t in threads["decode"])
    if on_host:
        assert threads["features"] and all(t.startswith("zsfuse-input") for t in threads["features"])
    else:
        assert threads["features"] == {main}
    clear_caches()  # the same embeddings either way
    np.testing.assert_allclose(out, expected.fit().transform(clips), rtol=1e-5, atol=1e-6)


class TensorFeatures:
    """A dual encoder whose audio_features returns a torch tensor (as on a GPU)."""

    sampling_rate, window, logit_scale, fingerprint = 16000, 8000, 10.0, "tensor-features"

    def audio_features(self, waves):
        import torch

        return torch.from_numpy(np.stack(waves)).reshape(len(waves), 4, -1).mean(-1)

    def encode_features(self, inputs):
        return inputs  # a tensor: the engine converts it

    def encode_audio(self, waves):
        return self.encode_features(self.audio_features(waves))

    def encode_text(self, texts):
        return np.stack([[len(t), 1.0, t.count("a"), 2.0] for t in texts]).astype(np.float32)


def test_the_engine_accepts_tensors_from_audio_features():
    register_alm("tensor-features", lambda ref, **kw: TensorFeatures())
    try:
        clips = _many_clips(5)
        zs = ALMZeroShotScorer("tensor-features", classes=["a", "b"], sampling_rate=16000, device="cpu").fit()
        emb = zs.audio_embeddings(clips)
    finally:
        unregister_alm("tensor-features")
    assert emb.shape == (5, 4) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-6)


def test_a_bad_clip_in_a_prefetched_batch_is_reported_by_name(tiny_wavlm):
    clips = _many_clips(9)
    clips[7] = np.full(8000, np.nan, dtype=np.float32)
    fm = FMEmbedder(tiny_wavlm, sampling_rate=16000, batch_size=2, device="cpu").fit()
    with pytest.raises(AudioInputError, match=r"X\[7\] .*NaN or infinite"):
        fm.transform(clips)
    assert fm.transform(clips[:3]).shape == (3, 32)


def test_bad_clips_on_several_workers_are_named_together(tmp_path, tiny_clap):
    paths = _write(tmp_path, _many_clips(10))
    for i in (1, 6, 9):  # damaged past the header: only decoding finds it
        with open(paths[i], "r+b") as f:
            f.truncate(60)
    zs = ALMZeroShotScorer(tiny_clap, classes=["a", "b"], batch_size=2, device="cpu", n_workers=3).fit()
    with pytest.raises(AudioInputError) as info:
        zs.transform(paths)
    message = str(info.value)
    assert message.startswith("3 of 10 clip(s) cannot be used")
    assert all(f"X[{i}]" in message for i in (1, 6, 9))


def test_default_workers_are_the_cores_present():
    import os

    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert default_workers() == expected
    assert FMEmbedder().get_params()["n_workers"] is None


@pytest.mark.skipif(not hasattr(os, "getpriority") or not os.uname().sysname == "Linux",
                    reason="per-thread priorities are Linux's")
def test_input_workers_yield_the_cores_to_the_models_thread(monkeypatch, tiny_clap, sine_clips):
    # A CPU model runs on the caller's thread while the workers prepare the next batches:
    # at equal priority three threads share two cores and the forward pass, the pipeline's
    # slowest stage, loses a third of its core. The workers run at a lower priority; the
    # caller's own is left as it was.
    seen = []

    def spy(clip):
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return clip

    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    waves, sr = sine_clips
    zs = ALMZeroShotScorer(tiny_clap, classes=["a", "b"], sampling_rate=sr, device="cpu", n_workers=2).fit()
    real = adapters.decode
    monkeypatch.setattr(adapters, "decode", lambda clip, *a, **k: real(spy(clip), *a, **k))
    zs.transform(waves)
    assert len(seen) == 3 and all(p > before for p in seen)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before


# --------------------------------------------------------------------------------------
# Batch plans: count cap, padded-seconds cap, longest first
# --------------------------------------------------------------------------------------


def test_plan_caps_count_and_padded_seconds_longest_first():
    seconds = [5.0, 40.0, 1.0, 30.0, 2.0, 2.0, 200.0]
    batches = plan_batches(list(range(7)), 3, seconds, 60.0)
    assert batches == [[6], [1], [3, 0], [4, 5, 2]]
    for b in batches:
        assert len(b) <= 3 and (len(b) == 1 or len(b) * seconds[b[0]] <= 60.0)
    assert plan_batches(list(range(5)), 2) == [[0, 1], [2, 3], [4]]  # fixed-size inputs: input order


def test_fm_batches_are_capped_by_padded_seconds(monkeypatch, tiny_wavlm):
    clips = _many_clips(12, low=0.5, high=3.0)
    fm = FMEmbedder(tiny_wavlm, sampling_rate=16000, batch_size=4, max_batch_seconds=4.0, device="cpu").fit()
    encoder = fm._encoder()
    seen = []
    real = encoder.encode

    def spy(waves):
        seen.append([len(w) / 16000 for w in waves])
        return real(waves)

    monkeypatch.setattr(encoder, "encode", spy)
    capped = fm.transform(clips)
    assert sum(map(len, seen)) == 12
    for batch in seen:
        assert len(batch) <= 4 and batch == sorted(batch, reverse=True)
        assert len(batch) == 1 or len(batch) * batch[0] <= 4.0 + 1e-9
    assert any(len(b) < 4 for b in seen[:-1])  # the cap, not the count, closed some batches
    clear_caches()
    monkeypatch.setattr(encoder, "encode", real)
    uncapped = FMEmbedder(tiny_wavlm, sampling_rate=16000, batch_size=4, max_batch_seconds=None, device="cpu").fit()
    np.testing.assert_allclose(capped, uncapped.transform(clips), rtol=1e-4, atol=1e-5)


class WholeClips:
    """A whole-clip dual encoder (window=None, like CLSP) that records its batches."""

    sampling_rate, window, logit_scale, fingerprint = 16000, None, 10.0, "whole-clips"

    def __init__(self):
        self.batches = []

    def encode_audio(self, waves):
        self.batches.append([len(w) for w in waves])
        return np.stack([[w.mean(), w.std(), len(w) / 16000, 1.0] for w in waves]).astype(np.float32)

    def encode_text(self, texts):  # distinct per class word, or fit refuses identical classes
        return np.stack([[1.0, len(t), sum(map(ord, t)) % 7, 2.0] for t in texts]).astype(np.float32)


def test_whole_clip_alms_get_length_sorted_batches_capped_by_padded_seconds():
    made = []
    register_alm("whole-clips", lambda ref, **kw: made.append(WholeClips()) or made[-1])
    try:
        clips = _many_clips(10, low=0.5, high=3.0)
        zs = ALMZeroShotScorer(
            "whole-clips", classes=["a", "b"], sampling_rate=16000, audio_repeats=2, batch_size=3,
            max_batch_seconds=9.0, device="cpu",
        ).fit()
        made[0].batches.clear()  # fit's probe clip for the model check
        zs.transform(clips)
    finally:
        unregister_alm("whole-clips")
    batches = made[0].batches
    assert sum(map(len, batches)) == 10
    flat = [n for b in batches for n in b]
    assert flat == sorted(flat, reverse=True)  # longest first: padding only within equal-ish lengths
    for b in batches:
        assert len(b) <= 3 and (len(b) == 1 or len(b) * b[0] / 16000 <= 9.0)


# --------------------------------------------------------------------------------------
# Cache summary: this call's counts only
# --------------------------------------------------------------------------------------


def test_cache_summary_counts_are_per_encoder_and_never_negative(monkeypatch, tmp_path, tiny_wavlm, tiny_clap, capsys):
    """While one encoder runs, another one reading the same disk cache must not change its summary."""
    clips = _many_clips(4)
    fm = FMEmbedder(tiny_wavlm, sampling_rate=16000, device="cpu", cache_dir=tmp_path, verbose=1).fit()
    zs = ALMZeroShotScorer(tiny_clap, classes=["a", "b"], sampling_rate=16000, device="cpu", cache_dir=tmp_path).fit()
    zs.transform(clips)  # on disk now
    fm.transform(clips[:2])
    clear_caches()
    encoder = get_speech_encoder(tiny_wavlm, device="cpu")
    real = encoder.encode

    def meanwhile(waves):  # the other branch reads 4 entries from the shared disk cache
        zs.transform(clips)
        return real(waves)

    monkeypatch.setattr(encoder, "encode", meanwhile)
    capsys.readouterr()
    fm.transform(clips + clips[:1])
    out = capsys.readouterr().out
    assert "[FMEmbedder] 5 clips: 2 encoded, 1 reused from memory, 2 from disk" in out, out
    assert "-" not in out.split("clips:")[-1].split("(")[0]


def test_n_workers_reaches_both_estimators_from_the_pipeline_and_the_cli(capsys):
    from sklearn_zsfuse import make_zsfuse_pipeline
    from sklearn_zsfuse.cli import build_parser
    from sklearn_zsfuse.cli.common import estimator_params

    pipe = make_zsfuse_pipeline(n_workers=3)
    assert pipe.get_params()["features__zs__n_workers"] == pipe.get_params()["features__fm__n_workers"] == 3
    parser = build_parser()
    for command in (["embed", "--fm", "egemaps", "a.wav", "--out", "x.npy"], ["evaluate", "--dataset", "ravdess", "--root", "r"]):
        args = parser.parse_args([*command, "--workers", "3"])
        assert estimator_params(args)["n_workers"] == 3
        assert "n_workers" not in estimator_params(parser.parse_args(command))
    assert parser.parse_args(["predict", "m.joblib", "a.wav", "--workers", "2"]).workers == 2
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["embed", "--fm", "egemaps", "a.wav", "--out", "x.npy", "--workers", "0"])
    assert exit_info.value.code == 2 and "--workers" in capsys.readouterr().err


def test_a_disk_entry_of_another_shape_is_recomputed(tmp_path, tiny_wavlm):
    from sklearn_zsfuse.audio import as_clip_list
    from sklearn_zsfuse.engine.cache import disk_cache

    clips = _many_clips(2)
    fm = FMEmbedder(tiny_wavlm, sampling_rate=16000, device="cpu", cache_dir=tmp_path).fit()
    first = fm.transform(clips)
    key = fm._layers(fm._record()).key_prefix + (as_clip_list(clips, 16000)[0].content_key(),)
    disk = disk_cache(tmp_path)
    assert disk.get(key) is not None  # the key the embedder wrote
    disk.put(key, np.zeros((2, 5), np.float32))  # someone else's array under that key
    clear_caches()
    again = fm.transform(clips)
    assert again.shape == first.shape
    np.testing.assert_allclose(again, first, rtol=1e-4, atol=1e-5)  # clip 0 recomputed alone
