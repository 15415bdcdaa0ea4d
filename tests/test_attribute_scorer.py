"""ALMAttributeScorer: zero-shot arousal, valence and dominance from pole prompts (issue 20.2)."""

import pickle

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, KFold

from sklearn_zsfuse import ALMAttributeScorer, ALMZeroShotScorer
from sklearn_zsfuse.encoders import register_alm, unregister_alm
from sklearn_zsfuse.estimators.attribute_prompts import POLE_WORDS
from sklearn_zsfuse.estimators.zero_shot_columns import zero_shot_blocks
from sklearn_zsfuse.evaluation.regression_metrics import concordance_cc, regression_scorers

from attribute_toys import AXES, PoleALM, pole_audio, unit_vector, wave_key

SR = 16000


@pytest.fixture
def toy():
    """Register ``pole-alm:<tag>`` loaders; yields ``make(tag, audio_of) -> (name, encoder)``."""
    encoders = {}

    def loader(ref, **kwargs):
        return encoders[ref]

    register_alm("pole-alm:", loader, prefix=True)

    def make(tag, audio_of):
        encoders[tag] = PoleALM(tag, audio_of)
        return f"pole-alm:{tag}", encoders[tag]

    yield make
    unregister_alm("pole-alm:")


def clips(n=12, seed=0):
    rng = np.random.default_rng(seed)
    return [(0.1 * rng.normal(size=SR // 2 + 100 * i)).astype(np.float32) for i in range(n)]


def test_the_score_is_the_expected_pole_position_of_the_pole_probabilities(toy):
    waves = clips(4)
    rng = np.random.default_rng(1)
    vectors = {wave_key(w): rng.normal(size=len(AXES) + 1) for w in waves}
    name, _ = toy("free", lambda w: vectors[wave_key(w)])
    for middle in (False, True):
        est = ALMAttributeScorer(name, middle=middle, sampling_rate=SR, device="cpu").fit()
        scores = est.transform(waves)
        assert scores.shape == (4, 3) and np.all((scores >= 0) & (scores <= 1))
        assert zero_shot_blocks(scores) == ((0, 3, ("arousal", "valence", "dominance")),)
        poles = ("low", "middle", "high") if middle else ("low", "high")
        assert est.poles_ == poles
        for i, w in enumerate(waves):
            v = vectors[wave_key(w)] / np.linalg.norm(vectors[wave_key(w)])
            for j, dim in enumerate(est.dimensions_):
                logits = 50.0 * np.asarray([v[AXES.index((dim, p))] for p in poles])
                p = np.exp(logits - logits.max())
                p /= p.sum()
                expected = p[-1] + (0.5 * p[1] if middle else 0.0)
                assert scores[i, j] == pytest.approx(expected, abs=1e-5)


def test_predict_maps_the_scores_onto_the_scale_and_one_name_gives_one_column(toy):
    waves = clips(6)
    targets = {wave_key(w): t for w, t in zip(waves, np.linspace(0.1, 0.9, 6))}
    name, _ = toy("exact", pole_audio(lambda w: {"arousal": targets[wave_key(w)], "valence": 0.5}))
    one = ALMAttributeScorer(name, dimensions="arousal", scale=(1, 7), sampling_rate=SR, device="cpu").fit()
    predicted = one.predict(waves)
    assert predicted.shape == (6,)
    np.testing.assert_allclose(predicted, 1 + 6 * np.linspace(0.1, 0.9, 6), atol=1e-4)
    two = ALMAttributeScorer(name, dimensions=["valence", "arousal"], scale={"arousal": (1, 5), "valence": (-1, 1)},
                             sampling_rate=SR, device="cpu").fit()
    both = two.predict(waves)
    assert both.shape == (6, 2) and list(two.get_feature_names_out()) == ["valence", "arousal"]
    np.testing.assert_allclose(both[:, 0], 0.0, atol=1e-4)
    np.testing.assert_allclose(both[:, 1], 1 + 4 * np.linspace(0.1, 0.9, 6), atol=1e-4)


def test_templates_and_words_are_parameters_a_grid_search_tunes(toy):
    waves = clips(20)
    truth = np.linspace(1.5, 6.5, 20)
    # the built-in arousal words carry the truth; a replacement wording reads noise
    targets = {wave_key(w): (t - 1) / 6 for w, t in zip(waves, truth)}
    name, _ = toy("grid", pole_audio(lambda w: {"arousal": targets[wave_key(w)]}))
    est = ALMAttributeScorer(name, dimensions="arousal", scale=(1, 7), sampling_rate=SR, device="cpu")
    grid = {"templates": ["single", "ensemble"],
            "pole_prompts": [None, {"arousal": {"low": "dominant", "high": "submissive"}}]}
    search = GridSearchCV(est, grid, scoring=regression_scorers()["ccc"], cv=KFold(4)).fit(waves, truth)
    assert search.best_params_["pole_prompts"] is None
    assert search.best_score_ == pytest.approx(1.0, abs=1e-4)
    flipped = search.cv_results_["params"].index({"templates": "single", "pole_prompts": grid["pole_prompts"][1]})
    assert search.cv_results_["mean_test_score"][flipped] < 0.5
    assert concordance_cc(truth, search.predict(waves)) == pytest.approx(1.0, abs=1e-6)


def test_it_shares_the_audio_embeddings_of_the_category_scorer(toy):
    waves = clips(5)
    name, encoder = toy("shared", lambda w: unit_vector({"arousal": 0.01}))
    ALMZeroShotScorer(name, classes=["angry", "calm"], sampling_rate=SR, device="cpu").fit().transform(waves)
    encoded = encoder.audio_calls
    ALMAttributeScorer(name, sampling_rate=SR, device="cpu").fit().transform(waves)
    assert encoder.audio_calls == encoded  # same model, N_a and clips: no clip encoded again
    ALMAttributeScorer(name, audio_repeats=2, sampling_rate=SR, device="cpu").fit().transform(waves)
    assert encoder.audio_calls > encoded  # another N_a is another input


def test_wording_errors_are_for_people(toy):
    name, _ = toy("words", lambda w: unit_vector({}))
    with pytest.raises(ValueError, match=r"no words for the low pole of 'engagement'.*pole_prompts="):
        ALMAttributeScorer(name, dimensions=["arousal", "engagement"], device="cpu").fit()
    with pytest.raises(ValueError, match=r"names pole\(s\) \['top'\]"):
        ALMAttributeScorer(name, pole_prompts={"arousal": {"top": "wild"}}, device="cpu").fit()
    with pytest.raises(TypeError, match=r"class_prompts\['arousal/low'\] must be a word"):
        ALMAttributeScorer(name, pole_prompts={"arousal": {"low": 3}}, device="cpu").fit()
    with pytest.warns(UserWarning, match=r"wording for \['arousl'\]"):
        ALMAttributeScorer(name, pole_prompts={"arousl": {"low": "calm"}}, device="cpu").fit()
    with pytest.raises(ValueError, match=r"poles \['low', 'high'\] of 'valence' have the same text embedding"):
        ALMAttributeScorer(name, dimensions="valence", pole_prompts={"valence": {"low": "calm", "high": "calm"}},
                           device="cpu").fit()
    with pytest.raises(ValueError, match="scale must give"):
        ALMAttributeScorer(name, scale={"arousal": (1, 7)}, device="cpu").fit()
    with pytest.raises(ValueError, match="low < high"):
        ALMAttributeScorer(name, dimensions="arousal", scale=(7, 1), device="cpu").fit()
    # an unknown dimension with its own words is scored like any other
    own = ALMAttributeScorer(name, dimensions="engagement", device="cpu",
                             pole_prompts={"engagement": {"low": POLE_WORDS["arousal"]["low"],
                                                          "high": POLE_WORDS["arousal"]["high"]}}).fit()
    assert own.dimensions_ == ("engagement",)


def test_a_real_clap_scores_real_speech_and_pickles(tiny_clap, ravdess_small):
    paths, _, _ = ravdess_small
    est = ALMAttributeScorer(tiny_clap, device="cpu", middle=True).fit()
    scores = np.asarray(est.transform(paths[:6]))
    assert scores.shape == (6, 3) and np.all((scores >= 0) & (scores <= 1)) and np.ptp(scores) > 0
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(np.asarray(back.transform(paths[:6])), scores, rtol=1e-6)
    assert len(est.prompts_) == 9 and all(len(p) == 5 * len(POLE_WORDS["arousal"]["low"]) for p in est.prompts_[:1])
