import numpy as np
import pytest
import torch

from sklearn_zsfuse import FMEmbedder, ModelLoadError, clear_caches
from sklearn_zsfuse.encoders import get_speech_encoder


def test_transform_matches_a_direct_forward_of_one_clip(tiny_wavlm, sine_clips):
    from transformers import AutoFeatureExtractor, AutoModel

    waves, sr = sine_clips
    emb = FMEmbedder(tiny_wavlm, sampling_rate=sr, device="cpu").fit(waves)
    out = emb.transform(waves)
    model = AutoModel.from_pretrained(tiny_wavlm).eval()
    fe = AutoFeatureExtractor.from_pretrained(tiny_wavlm)
    for i, w in enumerate(waves):
        inputs = fe(w, sampling_rate=sr, return_tensors="pt")
        with torch.no_grad():
            last = model(inputs["input_values"]).last_hidden_state[0].mean(0).numpy()
        np.testing.assert_allclose(out[i], last, rtol=1e-4, atol=1e-5)


def test_shapes_layers_and_names(tiny_wavlm, sine_clips):
    waves, sr = sine_clips
    emb = FMEmbedder(tiny_wavlm, sampling_rate=sr, device="cpu").fit(waves)
    assert emb.n_layers_ == 3 and emb.n_features_out_ == 32
    layers = emb.layer_embeddings(waves)
    assert layers.shape == (3, 3, 32)
    np.testing.assert_array_equal(emb.transform(waves), layers[:, -1])
    np.testing.assert_array_equal(emb.set_params(layer=1).fit(waves).transform(waves), layers[:, 1])
    np.testing.assert_allclose(emb.set_params(layer="all").fit(waves).transform(waves), layers.mean(1), rtol=1e-6)
    assert list(emb.get_feature_names_out()[:2]) == ["fm0", "fm1"]
    assert len(emb.get_feature_names_out()) == 32


def test_embedding_does_not_depend_on_its_batch(tiny_wavlm, sine_clips):
    waves, sr = sine_clips
    alone = np.vstack([FMEmbedder(tiny_wavlm, sampling_rate=sr, device="cpu").fit().transform([w]) for w in waves])
    clear_caches()
    together = FMEmbedder(tiny_wavlm, sampling_rate=sr, batch_size=3, device="cpu").fit().transform(waves)
    np.testing.assert_allclose(together, alone, rtol=1e-4, atol=1e-5)
    assert get_speech_encoder(tiny_wavlm, device="cpu").audio_batches >= 1


def test_group_norm_models_never_mix_lengths_in_a_batch(tmp_path, sine_clips):
    """wav2vec2-base style models take no attention mask: padding would change results."""
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    cfg = Wav2Vec2Config(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        conv_dim=(8,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
        feat_extract_norm="group",
    )
    torch.manual_seed(0)
    Wav2Vec2Model(cfg).save_pretrained(tmp_path)
    Wav2Vec2FeatureExtractor(return_attention_mask=False, do_normalize=False).save_pretrained(tmp_path)
    waves, sr = sine_clips
    alone = np.vstack([FMEmbedder(str(tmp_path), sampling_rate=sr, device="cpu").fit().transform([w]) for w in waves])
    clear_caches()
    together = FMEmbedder(str(tmp_path), sampling_rate=sr, batch_size=3, device="cpu").fit().transform(waves)
    np.testing.assert_allclose(together, alone, rtol=1e-4, atol=1e-5)


def test_clip_shorter_than_the_receptive_field_is_padded(tiny_wavlm):
    emb = FMEmbedder(tiny_wavlm, sampling_rate=16000, device="cpu").fit()
    out = emb.transform([np.full(50, 0.1, dtype=np.float32), np.ones(1, dtype=np.float32)])
    assert out.shape == (2, 32) and np.all(np.isfinite(out))


def test_layer_out_of_range_is_refused_at_fit(tiny_wavlm):
    with pytest.raises(ValueError, match=r"layer=7 is out of range .* 3 hidden states"):
        FMEmbedder(tiny_wavlm, layer=7).fit()


def test_missing_model_directory(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        FMEmbedder(str(tmp_path / "nope")).fit()


def test_cache_serves_repeated_transforms(tiny_wavlm, sine_clips):
    waves, sr = sine_clips
    enc = get_speech_encoder(tiny_wavlm, device="cpu")
    emb = FMEmbedder(tiny_wavlm, sampling_rate=sr, device="cpu").fit()
    before = enc.audio_clips
    first = emb.transform(waves)
    second = emb.set_params(layer=0).fit().transform(waves)  # another layer: same forward pass
    third = emb.transform(waves + waves)  # duplicates are encoded once
    assert enc.audio_clips - before == 3
    assert second.shape == first.shape and third.shape == (6, 32)


def test_egemaps_specialist_gives_88_named_functionals(sine_clips):
    pytest.importorskip("opensmile")
    import opensmile

    waves, sr = sine_clips
    emb = FMEmbedder("egemaps", sampling_rate=sr).fit(waves)
    assert emb.n_layers_ == 1 and emb.n_features_out_ == 88
    out = emb.transform(waves)
    assert out.shape == (3, 88) and out.dtype == np.float32 and np.isfinite(out).all()
    names = emb.get_feature_names_out()
    assert names[0] == "F0semitoneFrom27.5Hz_sma3nz_amean" and len(names) == 88
    # The same numbers openSMILE gives for the clip directly (it is at 16 kHz already).
    smile = opensmile.Smile(opensmile.FeatureSet.eGeMAPSv02, opensmile.FeatureLevel.Functionals)
    np.testing.assert_allclose(out[1], smile.process_signal(waves[1], sr).to_numpy()[0], rtol=1e-5, atol=1e-5)
    # Different clips, different functionals (F0 of the 220 vs 440 Hz tones).
    assert out[0, 0] < out[2, 0]
    np.testing.assert_array_equal(emb.set_params(layer="all").fit().transform(waves), out)
    with pytest.raises(ValueError, match="out of range"):
        emb.set_params(layer=1).fit()


def test_egemaps_pads_very_short_clips_and_uses_the_cache(sine_clips):
    pytest.importorskip("opensmile")
    from sklearn_zsfuse.engine.cache import caches

    waves, sr = sine_clips
    tiny = waves[0][:400]  # 25 ms: openSMILE alone returns NaN
    emb = FMEmbedder("egemaps", sampling_rate=sr).fit()
    assert np.isfinite(emb.transform([tiny])).all()
    encoder = get_speech_encoder("egemaps")
    before = encoder.audio_clips
    emb.transform([tiny] + waves)
    emb.transform(waves)
    assert encoder.audio_clips - before == 3 and len(caches.audio) == 4


def test_egemaps_without_opensmile_names_the_extra(monkeypatch, sine_clips):
    import sys

    from sklearn_zsfuse import clear_models

    clear_models()
    monkeypatch.setitem(sys.modules, "opensmile", None)
    waves, sr = sine_clips
    with pytest.raises(ImportError, match=r"pip install 'sklearn-zsfuse\[egemaps\]'"):
        FMEmbedder("egemaps", sampling_rate=sr).fit(waves)
    clear_models()


# --------------------------------------------------------------------------------------
# Long clips: chunks, pooled over the whole clip
# --------------------------------------------------------------------------------------


def test_clips_within_one_chunk_give_exactly_the_unchunked_embeddings(tiny_wavlm, sine_clips):
    waves, sr = sine_clips  # 0.5, 1.3 and 2.0 s
    chunked = FMEmbedder(tiny_wavlm, sampling_rate=sr, chunk_seconds=2.0, device="cpu").fit().layer_embeddings(waves)
    clear_caches()
    whole = FMEmbedder(tiny_wavlm, sampling_rate=sr, chunk_seconds=None, device="cpu").fit().layer_embeddings(waves)
    np.testing.assert_array_equal(chunked, whole)
    assert FMEmbedder().get_params()["chunk_seconds"] == 30.0


def _spy_forwards(monkeypatch, encoder):
    """Record the padded samples of every model forward."""
    lengths = []
    real = encoder._hidden_states

    def spy(waves):
        lengths.append((len(waves), max(len(w) for w in waves)))
        return real(waves)

    monkeypatch.setattr(encoder, "_hidden_states", spy)
    return lengths


def test_a_long_clip_is_the_frame_weighted_mean_of_its_chunks(monkeypatch, tiny_wavlm):
    from transformers import AutoFeatureExtractor, AutoModel

    sr = 16000
    wave = (0.1 * np.random.default_rng(3).standard_normal(int(5.2 * sr))).astype(np.float32)
    emb = FMEmbedder(tiny_wavlm, sampling_rate=sr, chunk_seconds=2.0, device="cpu").fit()
    forwards = _spy_forwards(monkeypatch, emb._encoder())
    out = emb.transform([wave])[0]
    # Three equal chunks of 1.73 s, forwarded in one padded batch, never the whole clip.
    assert forwards == [(3, int(np.ceil(len(wave) / 3)))]
    model = AutoModel.from_pretrained(tiny_wavlm).eval()
    fe = AutoFeatureExtractor.from_pretrained(tiny_wavlm)
    sums, frames = 0.0, 0
    for chunk in np.array_split(wave, 3):
        with torch.no_grad():
            last = model(fe(chunk, sampling_rate=sr, return_tensors="pt")["input_values"]).last_hidden_state[0]
        sums, frames = sums + last.sum(0).numpy(), frames + last.shape[0]
    np.testing.assert_allclose(out, sums / frames, rtol=1e-4, atol=1e-5)


def test_a_ten_minute_clip_encodes_with_attention_bounded_by_the_chunk(monkeypatch, tiny_wavlm):
    """Unchunked, 30,000 frames of self-attention ask torch for ~7 GB and fail."""
    sr = 16000
    wave = (0.1 * np.random.default_rng(0).standard_normal(600 * sr)).astype(np.float32)
    emb = FMEmbedder(tiny_wavlm, sampling_rate=sr, max_duration=None, device="cpu").fit()
    forwards = _spy_forwards(monkeypatch, emb._encoder())
    out = emb.transform([wave])
    assert out.shape == (1, 32) and np.all(np.isfinite(out))
    # 20 chunks of 30 s, four at a time (max_batch_seconds=120): memory of one group.
    assert [n for n, _ in forwards] == [4] * 5
    assert all(samples <= 30 * sr for _, samples in forwards)


def test_egemaps_takes_long_clips_whole(monkeypatch, sine_clips):
    pytest.importorskip("opensmile")
    waves, sr = sine_clips
    long = np.tile(waves[2], 3)  # 6 s
    emb = FMEmbedder("egemaps", sampling_rate=sr, chunk_seconds=2.0).fit()
    encoder = emb._encoder()
    seen = []
    real = encoder.encode
    monkeypatch.setattr(encoder, "encode", lambda w: seen.append([len(x) for x in w]) or real(w))
    emb.transform([long])
    assert seen == [[len(long)]]  # no frame sums: functionals of the whole clip
