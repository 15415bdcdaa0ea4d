import numpy as np
import pytest
import torch

from sklearn_zsfuse import ALMZeroShotScorer, ModelLoadError
from sklearn_zsfuse.audio import fit_to_window, resample
from sklearn_zsfuse.encoders import get_alm_encoder
from sklearn_zsfuse.estimators.prompts import DEFAULT_TEMPLATES, SINGLE_TEMPLATE, build_prompts

LABELS = np.array(["angry", "happy", "sad", "angry", "neutral", "sad"])


def reference_scores(model_dir, waves, sr, classes, templates, text_repeats=1):
    """ZS scores computed straight from transformers, as GUIDE section 1 defines them."""
    from transformers import ClapModel, ClapProcessor

    model = ClapModel.from_pretrained(model_dir).eval()
    proc = ClapProcessor.from_pretrained(model_dir)
    fe = proc.feature_extractor
    audio = [fit_to_window(resample(w, sr, fe.sampling_rate), fe.nb_max_samples) for w in waves]
    feats = fe(audio, sampling_rate=fe.sampling_rate, return_tensors="pt")
    with torch.no_grad():
        out = model.get_audio_features(**feats)
        a = torch.nn.functional.normalize(getattr(out, "pooler_output", out), dim=-1)
        t = []
        for prompts in build_prompts(classes, templates, text_repeats=text_repeats):
            tok = proc.tokenizer(prompts, padding=True, return_tensors="pt")
            out = model.get_text_features(**tok)
            e = torch.nn.functional.normalize(getattr(out, "pooler_output", out), dim=-1)
            t.append(torch.nn.functional.normalize(e.mean(0), dim=-1))
        t = torch.stack(t)
        return (model.logit_scale_a.exp() * a @ t.T).numpy()


def test_scores_match_a_direct_transformers_computation(tiny_clap, sine_clips):
    waves, sr = sine_clips
    y = np.array(["angry", "sad", "happy"])
    zs = ALMZeroShotScorer(tiny_clap, sampling_rate=sr, device="cpu").fit(waves, y)
    expected = reference_scores(tiny_clap, waves, sr, zs.classes_, DEFAULT_TEMPLATES)
    np.testing.assert_allclose(zs.transform(waves), expected, rtol=1e-4, atol=1e-4)


def test_fit_transform_predict_shapes_and_names(tiny_clap, sine_clips):
    waves, sr = sine_clips
    y = LABELS[:3]
    zs = ALMZeroShotScorer(tiny_clap, sampling_rate=sr, device="cpu").fit(waves, y)
    assert list(zs.classes_) == ["angry", "happy", "sad"]
    scores = zs.transform(waves)
    assert scores.shape == (3, 3)
    assert list(zs.get_feature_names_out()) == ["angry", "happy", "sad"]
    proba = zs.predict_proba(waves)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    e = np.exp(scores - scores.max(1, keepdims=True))
    np.testing.assert_allclose(proba, e / e.sum(1, keepdims=True))
    assert list(zs.predict(waves)) == list(zs.classes_[scores.argmax(1)])
    assert zs.text_embeddings_.shape == (3, 16)
    np.testing.assert_allclose(np.linalg.norm(zs.text_embeddings_, axis=1), 1.0, rtol=1e-5)
    assert len(zs.prompts_[0]) == len(DEFAULT_TEMPLATES)


def test_text_repeats_amplify_the_prompts(tiny_clap, sine_clips):
    waves, sr = sine_clips
    y = np.array(["angry", "sad", "happy"])
    zs2 = ALMZeroShotScorer(tiny_clap, sampling_rate=sr, text_repeats=2, device="cpu").fit(waves, y)
    assert zs2.prompts_[0][0] == " ".join([DEFAULT_TEMPLATES[0].format("angry")] * 2)
    expected = reference_scores(tiny_clap, waves, sr, zs2.classes_, DEFAULT_TEMPLATES, text_repeats=2)
    np.testing.assert_allclose(zs2.transform(waves), expected, rtol=1e-4, atol=1e-4)


def test_audio_repeats_tile_the_clip_before_the_window(tiny_clap):
    # At the model's own rate (48 kHz) no resampling happens, so tiling by hand must match.
    sr = 48000
    waves = [np.sin(np.arange(int(sr * d)) * f).astype(np.float32) for d, f in ((0.7, 0.05), (2.1, 0.03), (4.0, 0.01))]
    y = np.array(["angry", "sad", "happy"])
    amplified = ALMZeroShotScorer(tiny_clap, sampling_rate=sr, audio_repeats=3, device="cpu").fit(waves, y)
    by_hand = ALMZeroShotScorer(tiny_clap, sampling_rate=sr, device="cpu").fit(waves, y)
    tiled = [np.tile(w, 3) for w in waves]
    np.testing.assert_allclose(amplified.transform(waves), by_hand.transform(tiled), rtol=1e-5, atol=1e-5)
    assert not np.allclose(amplified.transform(waves), by_hand.transform(waves))


def test_single_template_embedding_and_score_ensembles_agree(tiny_clap, sine_clips):
    waves, sr = sine_clips
    y = np.array(["angry", "sad", "happy"])
    kw = dict(sampling_rate=sr, templates=SINGLE_TEMPLATE, device="cpu")
    a = ALMZeroShotScorer(tiny_clap, ensemble="embedding", **kw).fit(waves, y).transform(waves)
    b = ALMZeroShotScorer(tiny_clap, ensemble="score", **kw).fit(waves, y).transform(waves)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_score_ensemble_averages_per_prompt_scores(tiny_clap, sine_clips):
    waves, sr = sine_clips
    y = np.array(["angry", "sad", "happy"])
    zs = ALMZeroShotScorer(
        tiny_clap, sampling_rate=sr, ensemble="score", class_prompts={"sad": ["sad", "down"]}, device="cpu"
    ).fit(waves, y)
    audio = zs.audio_embeddings(waves)
    sad = list(zs.classes_).index("sad")
    per_prompt = zs.text_embeddings_[sad, : 2 * len(DEFAULT_TEMPLATES)]
    expected = zs.logit_scale_ * (audio @ per_prompt.T).mean(1)
    np.testing.assert_allclose(zs.transform(waves)[:, sad], expected, rtol=1e-5)


def test_logit_scale_override(tiny_clap, sine_clips):
    waves, sr = sine_clips
    y = np.array(["angry", "sad", "happy"])
    own = ALMZeroShotScorer(tiny_clap, sampling_rate=sr, device="cpu").fit(waves, y)
    unit = ALMZeroShotScorer(tiny_clap, sampling_rate=sr, logit_scale=1.0, device="cpu").fit(waves, y)
    np.testing.assert_allclose(own.transform(waves), own.logit_scale_ * unit.transform(waves), rtol=1e-5)
    assert own.logit_scale_ == pytest.approx(1 / 0.07, rel=1e-5)  # ClapConfig's initial value


def test_results_do_not_depend_on_batch_composition(tiny_clap, sine_clips):
    waves, sr = sine_clips
    y = np.array(["angry", "sad", "happy"])
    one = ALMZeroShotScorer(tiny_clap, sampling_rate=sr, batch_size=1, device="cpu").fit(waves, y)
    scores_one = one.transform(waves)
    from sklearn_zsfuse import clear_caches

    clear_caches()
    three = ALMZeroShotScorer(tiny_clap, sampling_rate=sr, batch_size=3, device="cpu").fit(waves, y)
    np.testing.assert_allclose(three.transform(waves[::-1])[::-1], scores_one, rtol=1e-5, atol=1e-5)


def test_fused_checkpoint_is_deterministic_and_leaves_global_rng_alone(tiny_clap_fused, sine_clips):
    waves, sr = sine_clips
    y = np.array(["angry", "sad", "happy"])
    state = np.random.get_state()
    zs = ALMZeroShotScorer(tiny_clap_fused, sampling_rate=sr, batch_size=2, device="cpu").fit(waves, y)
    first = zs.transform(waves)
    after = np.random.get_state()
    assert after[0] == state[0] and np.array_equal(after[1], state[1]) and after[2] == state[2]
    from sklearn_zsfuse import clear_caches

    clear_caches()
    single = np.vstack([zs.transform([w]) for w in waves])
    np.testing.assert_allclose(first, single, rtol=1e-5, atol=1e-5)


def test_long_clips_centre_crop_and_seeded_random_crop(tiny_clap):
    sr = 16000
    rng = np.random.default_rng(0)
    long = [rng.standard_normal(sr * 14).astype(np.float32) * 0.1]
    y = ["angry", "sad"]
    centre = ALMZeroShotScorer(tiny_clap, classes=y, sampling_rate=sr, device="cpu").fit()
    r1 = ALMZeroShotScorer(tiny_clap, classes=y, sampling_rate=sr, crop="random", random_state=1, device="cpu").fit()
    r2 = ALMZeroShotScorer(tiny_clap, classes=y, sampling_rate=sr, crop="random", random_state=2, device="cpu").fit()
    a, b = r1.transform(long), r2.transform(long)
    from sklearn_zsfuse import clear_caches

    clear_caches()
    np.testing.assert_array_equal(r1.transform(long), a)
    assert not np.allclose(a, b)
    assert not np.allclose(centre.transform(long), a)
    with pytest.raises(ValueError, match="random_state"):
        ALMZeroShotScorer(tiny_clap, classes=y, sampling_rate=sr, crop="random", device="cpu").fit().transform(long)


def test_classes_given_without_y(tiny_clap, sine_clips):
    waves, sr = sine_clips
    zs = ALMZeroShotScorer(tiny_clap, classes=["sad", "angry"], sampling_rate=sr, device="cpu").fit(waves)
    assert list(zs.classes_) == ["angry", "sad"]
    assert zs.transform(waves).shape == (3, 2)


def test_label_errors(tiny_clap, sine_clips):
    waves, sr = sine_clips
    with pytest.raises(ValueError, match="pass y to fit, or set classes"):
        ALMZeroShotScorer(tiny_clap, sampling_rate=sr).fit(waves)
    with pytest.raises(ValueError, match=r"labels \['happy'\] that are not in classes"):
        ALMZeroShotScorer(tiny_clap, classes=["sad", "angry"], sampling_rate=sr).fit(waves, ["sad", "happy", "sad"])
    with pytest.raises(ValueError, match="3 clips but y has 2"):
        ALMZeroShotScorer(tiny_clap, sampling_rate=sr).fit(waves, ["sad", "angry"])


def test_unknown_local_model_directory_is_named(tmp_path, sine_clips):
    waves, sr = sine_clips
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelLoadError, match=r"model=.*no-such-model.*does not exist"):
        ALMZeroShotScorer(str(missing), sampling_rate=sr).fit(waves, ["a", "b", "a"])


def test_unknown_hub_id_offline_says_so(monkeypatch, sine_clips):
    waves, sr = sine_clips
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match=r"model='nobody/no-such-clap'.*HF_HUB_OFFLINE"):
        ALMZeroShotScorer("nobody/no-such-clap", sampling_rate=sr).fit(waves, ["a", "b", "a"])


def test_encoder_is_loaded_once_and_shared_by_clones(tiny_clap, sine_clips):
    from sklearn.base import clone

    waves, sr = sine_clips
    a = ALMZeroShotScorer(tiny_clap, sampling_rate=sr, device="cpu").fit(waves, LABELS[:3])
    b = clone(a).fit(waves, LABELS[:3])
    assert a._encoder() is b._encoder() is get_alm_encoder(tiny_clap, device="cpu")
    assert "_encoder_" not in vars(a) and all(not k.startswith("model_") for k in vars(b))
