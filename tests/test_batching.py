"""Batched encoding: streaming (bounded decoded audio), prefetch, error propagation."""

import weakref

import numpy as np
import pytest

from sklearn_zsfuse import ALMZeroShotScorer, AudioInputError, FMEmbedder, clear_caches
from sklearn_zsfuse import _batching, embedding, zero_shot


def _many_clips(n, sr=16000, seed=0):
    rng = np.random.default_rng(seed)
    return [(0.1 * rng.standard_normal(int(sr * rng.uniform(0.3, 0.8)))).astype(np.float32) for _ in range(n)]


@pytest.mark.parametrize("estimator", ["fm", "alm"])
def test_transform_holds_at_most_two_batches_of_model_input(monkeypatch, tmp_path, estimator, tiny_wavlm, tiny_clap):
    """Streaming: what is prepared for one batch (decoded audio, spectrograms) is freed
    before the batch after next is encoded; the corpus is never held."""
    import soundfile as sf

    batch_size, n = 3, 18
    paths = []
    for i, wave in enumerate(_many_clips(n)):  # files: decoding creates the only copy
        paths.append(str(tmp_path / f"{i}.wav"))
        sf.write(paths[-1], wave, 16000, subtype="FLOAT")
    alive: list[tuple[weakref.ref, int]] = []  # (prepared array, clips it holds)
    peak = [0]

    if estimator == "fm":
        est = FMEmbedder(tiny_wavlm, sampling_rate=16000, batch_size=batch_size, device="cpu").fit()
        encoder, method = est._encoder(), "encode"
        real_decode = embedding.decode

        def tracking_decode(clip, rate, *args):
            wave = real_decode(clip, rate, *args)
            alive.append((weakref.ref(wave), 1))
            return wave

        monkeypatch.setattr(embedding, "decode", tracking_decode)
    else:
        est = ALMZeroShotScorer(
            tiny_clap, classes=["a", "b"], sampling_rate=16000, batch_size=batch_size, device="cpu"
        ).fit()
        encoder, method = est._encoder(), "encode_features"
        real_features = encoder.audio_features

        def tracking_features(waves):
            features = real_features(waves)
            alive.append((weakref.ref(features), len(waves)))
            return features

        monkeypatch.setattr(encoder, "audio_features", tracking_features)
    real_encode = getattr(encoder, method)

    def watching_encode(batch):
        peak[0] = max(peak[0], sum(size for ref, size in alive if ref() is not None))
        return real_encode(batch)

    monkeypatch.setattr(encoder, method, watching_encode)
    out = est.transform(paths)
    assert len(out) == n and sum(size for _, size in alive) == n
    # The batch being encoded plus the one prepared ahead; never the corpus.
    assert batch_size <= peak[0] <= 2 * batch_size


def test_prefetch_gives_the_same_results_as_serial_preparation(monkeypatch, tiny_clap, tiny_wavlm):
    clips = _many_clips(10)
    fm = FMEmbedder(tiny_wavlm, sampling_rate=16000, batch_size=3, device="cpu").fit()
    zs = ALMZeroShotScorer(tiny_clap, classes=["a", "b"], sampling_rate=16000, batch_size=3, device="cpu").fit()
    with_prefetch = fm.transform(clips), zs.transform(clips)
    clear_caches()
    monkeypatch.setattr(_batching, "PREFETCH", False)
    serial = fm.transform(clips), zs.transform(clips)
    np.testing.assert_array_equal(with_prefetch[0], serial[0])
    np.testing.assert_array_equal(with_prefetch[1], serial[1])


def test_a_bad_clip_in_a_prefetched_batch_is_reported_by_name(tiny_wavlm):
    clips = _many_clips(9)
    clips[7] = np.full(8000, np.nan, dtype=np.float32)
    fm = FMEmbedder(tiny_wavlm, sampling_rate=16000, batch_size=2, device="cpu").fit()
    with pytest.raises(AudioInputError, match=r"X\[7\] .*NaN or infinite"):
        fm.transform(clips)
    assert fm.transform(clips[:3]).shape == (3, 32)
