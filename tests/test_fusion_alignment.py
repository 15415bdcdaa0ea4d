"""The fusion reads the zero-shot columns by class however the pipeline is built (issue 18, item 6).

With the scorer's classes set by ``set_params(features__zs__classes=...)`` or in a
Pipeline built by hand, training clips that lack one class and fusion weight 1, the
fused predictions agreed with the zero-shot scorer's on a fraction of the clips only:
with numpy output the fusion took y's 7 classes as the first 7 of the scorer's 8
columns. The scorer's output now carries its classes (ZeroShotColumns) through the
FeatureUnion; a layout the fusion cannot read is an error.
"""

from __future__ import annotations

import pickle
import re

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, PredefinedSplit, cross_validate
from sklearn.pipeline import FeatureUnion, Pipeline

from sklearn_zsfuse import (
    ALMZeroShotScorer,
    FMEmbedder,
    LateFusionClassifier,
    LateFusionClassifierCV,
    make_zsfuse_pipeline,
)
from sklearn_zsfuse.arrays import softmax
from sklearn_zsfuse.encoders import register_alm, register_fm, unregister_alm, unregister_fm
from sklearn_zsfuse.estimators.zero_shot_columns import ZeroShotColumns, zero_shot_blocks

EMOTIONS = ["angry", "calm", "disgust", "fearful", "happy", "neutral", "sad", "surprised"]
WORDS = ["angry", "calm", "disgusted", "fearful", "happy", "neutral", "sad", "surprised"]  # the prompts' words
SR = 16000


class OneHotALM:
    """Text: one-hot of the emotion word in the prompt. Audio: one-hot of the clip's DC level, plus jitter."""

    sampling_rate = SR
    window = 4000
    logit_scale = 10.0
    pad_mode = "repeat"

    def __init__(self, tag):
        self.fingerprint = f"one-hot-alm|{tag}"

    def encode_audio(self, waves):
        out = []
        for w in waves:
            k = int(np.clip(round(float(np.mean(w)) / 0.05) - 1, 0, 7))
            rng = np.random.default_rng(int(np.abs(w).sum() * 1000) % 2**32)
            out.append(3.0 * np.eye(8)[k] + rng.normal(0, 1.2, 8))  # argmax is not always the clip's class
        return np.asarray(out, np.float32)

    def encode_text(self, texts):
        out = []
        for text in texts:
            hits = [WORDS.index(w) for w in re.findall(r"[a-z]+", text.lower()) if w in WORDS]
            out.append(np.eye(8)[hits[0]] + 0.01 if hits else np.full(8, 0.1))
        return np.asarray(out, np.float32)


class StatsFM:
    """Three statistics of the clip, as one layer."""

    sampling_rate = SR
    n_layers = 1
    hidden_size = 3

    def __init__(self, tag):
        self.fingerprint = f"stats-fm|{tag}"

    def encode(self, waves):
        return np.asarray([[[w.mean(), w.std(), np.abs(w).max()]] for w in waves], np.float32)

    def probe_embedding(self):
        return np.ones(3, np.float32)


@pytest.fixture(scope="module")
def toy_models():
    register_alm("one-hot-alm:", lambda ref, **kw: OneHotALM(ref), prefix=True)
    register_fm("stats-fm:", lambda ref, **kw: StatsFM(ref), prefix=True)
    yield "one-hot-alm:a", "stats-fm:a"
    unregister_alm("one-hot-alm:")
    unregister_fm("stats-fm:")


@pytest.fixture(scope="module")
def clips():
    """5 clips per emotion (the class in the DC level); the training part lacks 'happy'."""
    rng = np.random.default_rng(0)
    t = np.arange(SR // 2) / SR
    waves, labels = [], []
    for k, c in enumerate(EMOTIONS):
        for _ in range(5):
            waves.append((0.05 * (k + 1) + 0.02 * np.sin(2 * np.pi * rng.uniform(100, 800) * t)).astype(np.float32))
            labels.append(c)
    y = np.asarray(labels, dtype=object)
    train = y != "happy"
    return waves, y, [w for w, keep in zip(waves, train) if keep], y[train]


def hand_built(alm, fm, fusion=None, **scorer):
    """The Pipeline README's diagram shows, built by hand."""
    features = FeatureUnion([
        ("zs", ALMZeroShotScorer(alm, sampling_rate=SR, device="cpu", **scorer)),
        ("fm", FMEmbedder(fm, sampling_rate=SR, device="cpu")),
    ])
    return Pipeline([("features", features), ("fusion", fusion or LateFusionClassifier(weight=1.0))])


def set_params_built(alm, fm):
    pipe = make_zsfuse_pipeline(alm, fm, weight=1.0, sampling_rate=SR, device="cpu")
    return pipe.set_params(features__zs__classes=EMOTIONS)


def scorer_of(pipe):
    return pipe.named_steps["features"].transformer_list[0][1]


def assert_weight_one_is_the_scorer(pipe, waves):
    scorer = scorer_of(pipe)
    assert np.mean(pipe.predict(waves) == scorer.predict(waves)) == 1.0  # was 0.5 with these clips
    p_zs = softmax(np.asarray(scorer.transform(waves), dtype=np.float64))
    np.testing.assert_allclose(pipe.predict_proba(waves), p_zs, rtol=1e-10)


@pytest.mark.parametrize("build", [set_params_built, lambda a, f: hand_built(a, f, classes=EMOTIONS)],
                         ids=["set_params", "hand-built"])
def test_the_repro_weight_one_agrees_with_the_scorer_on_every_clip(toy_models, clips, build):
    waves, y, train_waves, train_y = clips
    pipe = build(*toy_models).fit(train_waves, train_y)
    fusion = pipe.named_steps["fusion"]
    assert fusion.zero_shot_classes_.tolist() == EMOTIONS and fusion.classes_.tolist() == EMOTIONS
    assert 0 < np.mean(scorer_of(pipe).predict(waves) == y) < 1  # the scorer is not trivially right
    assert_weight_one_is_the_scorer(pipe, waves)


def test_the_cv_fusion_reads_the_scorers_classes_too(toy_models, clips):
    waves, _, train_waves, train_y = clips
    fusion = LateFusionClassifierCV(methods=("weighted",), weights=(1.0,), temperatures=(None,), cv=2)
    pipe = hand_built(*toy_models, fusion=fusion, classes=EMOTIONS).fit(train_waves, train_y)
    assert pipe.named_steps["fusion"].classes_.tolist() == EMOTIONS
    assert_weight_one_is_the_scorer(pipe, waves)


def test_pandas_output_and_explicit_classes_still_align(toy_models, clips):
    pd = pytest.importorskip("pandas")
    waves, _, train_waves, train_y = clips
    pipe = hand_built(*toy_models, classes=EMOTIONS)
    pipe.named_steps["features"].set_output(transform="pandas")
    pipe.fit(train_waves, train_y)
    assert isinstance(pipe.named_steps["features"].transform(waves[:2]), pd.DataFrame)
    assert_weight_one_is_the_scorer(pipe, waves)
    explicit = make_zsfuse_pipeline(*toy_models, classes=EMOTIONS[::-1], weight=1.0, sampling_rate=SR, device="cpu")
    assert_weight_one_is_the_scorer(explicit.fit(train_waves, train_y), waves)
    given = hand_built(*toy_models, fusion=LateFusionClassifier(weight=1.0, zero_shot_classes=EMOTIONS),
                       classes=EMOTIONS)
    assert_weight_one_is_the_scorer(given.fit(train_waves, train_y), waves)


def test_fusion_classes_that_contradict_the_scorers_columns_are_refused(toy_models, clips):
    _, _, train_waves, train_y = clips
    # make_zsfuse_pipeline told the fusion 7 classes; the scorer was then given 8
    pipe = make_zsfuse_pipeline(*toy_models, classes=EMOTIONS[:7], sampling_rate=SR, device="cpu")
    pipe.set_params(features__zs__classes=EMOTIONS)
    with pytest.raises(ValueError, match=r"zero_shot_classes=\['angry', .*'sad'\] but X's zero-shot columns score "
                                         r"the scorer's classes \['angry', .*'surprised'\]"):
        pipe.fit(train_waves, train_y)
    with pytest.raises(ValueError, match="n_zero_shot=7 but X's first 8 columns are zero-shot scores"):
        hand_built(*toy_models, fusion=LateFusionClassifier(n_zero_shot=7), classes=EMOTIONS).fit(train_waves, train_y)


def test_a_union_with_the_scorer_second_is_refused_not_misread(toy_models, clips):
    _, _, train_waves, train_y = clips
    alm, fm = toy_models
    features = FeatureUnion([
        ("fm", FMEmbedder(fm, sampling_rate=SR, device="cpu")),
        ("zs", ALMZeroShotScorer(alm, classes=EMOTIONS, sampling_rate=SR, device="cpu")),
    ])
    pipe = Pipeline([("features", features), ("fusion", LateFusionClassifier())])
    with pytest.raises(ValueError, match=r"zero-shot scores are columns 3:11, but the fusion reads them from the first"):
        pipe.fit(train_waves, train_y)


def test_a_scorer_refitted_with_other_classes_is_refused_at_predict(toy_models, clips):
    waves, _, train_waves, train_y = clips
    pipe = hand_built(*toy_models, classes=EMOTIONS).fit(train_waves, train_y)
    # as many classes, so only the classes tell the columns apart
    renamed = [c if c != "calm" else "bored" for c in EMOTIONS]
    scorer_of(pipe).set_params(classes=renamed).fit()
    with pytest.raises(ValueError, match=r"columns 0:8 score \['angry', 'bored', .*\], but it was fitted on the first "
                                         r"8 columns of classes \['angry', 'calm', .*refit the whole pipeline"):
        pipe.predict(waves)


def test_pickled_pipelines_and_scores_keep_the_classes(toy_models, clips, tmp_path):
    waves, _, train_waves, train_y = clips
    pipe = set_params_built(*toy_models).fit(train_waves, train_y)
    joblib.dump(pipe, tmp_path / "pipe.joblib")
    restored = joblib.load(tmp_path / "pipe.joblib")
    np.testing.assert_array_equal(restored.predict(waves), pipe.predict(waves))
    features = pipe.named_steps["features"].transform(waves)
    again = pickle.loads(pickle.dumps(features))
    assert zero_shot_blocks(again) == ((0, 8, tuple(EMOTIONS)),)
    np.testing.assert_array_equal(np.asarray(again), np.asarray(features))


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_grid_search_and_cross_validate_align_every_fold(toy_models, clips):
    waves, y, _, _ = clips
    folds = np.arange(len(y)) % 2
    folds[y == "happy"] = 0  # the training part of fold 0 has no happy clip
    pipe = hand_built(*toy_models, classes=EMOTIONS)
    search = GridSearchCV(pipe, {"fusion__weight": [0.0, 1.0]}, cv=PredefinedSplit(folds), scoring="accuracy")
    search.fit(waves, y)
    zs_pred = scorer_of(pipe).fit().predict(waves)
    one = search.cv_results_["params"].index({"fusion__weight": 1.0})
    for k in range(2):
        expected = np.mean(zs_pred[folds == k] == y[folds == k])
        assert search.cv_results_[f"split{k}_test_score"][one] == pytest.approx(expected, abs=1e-12)
    out = cross_validate(pipe, waves, y, cv=PredefinedSplit(folds), return_estimator=True)
    for k, est in enumerate(out["estimator"]):
        test = [w for w, f in zip(waves, folds) if f == k]
        np.testing.assert_array_equal(est.predict(test), zs_pred[folds == k])


def test_transformer_weights_keep_the_classes(toy_models, clips):
    waves, _, train_waves, train_y = clips
    pipe = hand_built(*toy_models, classes=EMOTIONS)
    pipe.named_steps["features"].set_params(transformer_weights={"zs": 0.5, "fm": 2.0})
    pipe.fit(train_waves, train_y)
    assert np.mean(pipe.predict(waves) == scorer_of(pipe).predict(waves)) == 1.0


# ---- the array itself ----

def test_zero_shot_columns_keep_their_classes_only_where_every_column_stays_put():
    scores = ZeroShotColumns(np.arange(12.0).reshape(4, 3), np.array(["a", "b", "c"], dtype=object))
    emb = np.ones((4, 2))
    block = (0, 3, ("a", "b", "c"))
    X = np.hstack([scores, emb])
    assert zero_shot_blocks(X) == (block,)
    assert zero_shot_blocks(np.hstack([emb, scores])) == ((2, 5, ("a", "b", "c")),)
    assert zero_shot_blocks(np.concatenate([scores, scores], axis=1)) == (block, (3, 6, ("a", "b", "c")))
    assert zero_shot_blocks(np.vstack([scores, scores])) == (block,)
    # kept: rows, copies, dtype, numbers
    for same in (X[[0, 2]], X[1:3], X[np.array([True, False, True, True])], X[np.array([1, 3]), ...], X[:, :],
                 X.copy(), X.astype(np.float32), X * 2.0, 0.5 * X, np.exp(X), -X):
        assert zero_shot_blocks(same) == (block,)
    # dropped: anything that may move or mix columns
    for moved in (X[:, :3], X[:, ::-1], X.T, X + X[:, :1], X - X.max(axis=1, keepdims=True), np.vstack([scores, emb[:, :1] @ np.ones((1, 3))]),
                  np.asarray(X), X.sum(axis=0)):
        assert zero_shot_blocks(moved) == ()
    inplace = X.copy()
    inplace *= 3
    assert zero_shot_blocks(inplace) == (block,)
    inplace += np.ones((4, 5))
    assert zero_shot_blocks(inplace) == ()
    assert type(softmax(scores)) is np.ndarray
    with pytest.raises(ValueError, match="do not have one column per class"):
        ZeroShotColumns(np.zeros((2, 3)), ["a", "b"])


def test_plain_arrays_keep_the_documented_guess():
    """A plain array carries no classes: the fusion still takes y's classes, in sorted order (the old rule)."""
    rng = np.random.default_rng(0)
    y = np.repeat(["a", "b", "c"], 10)
    X = np.hstack([rng.normal(size=(30, 3)) + 2 * np.eye(3)[np.searchsorted(["a", "b", "c"], y)],
                   rng.normal(size=(30, 2))])
    labelled = np.hstack([ZeroShotColumns(X[:, :3], ["a", "b", "c"]), X[:, 3:]])
    plain = LateFusionClassifier(weight=0.5).fit(X, y)
    read = LateFusionClassifier(weight=0.5).fit(labelled, y)
    np.testing.assert_allclose(read.predict_proba(labelled), plain.predict_proba(X), rtol=1e-12)
    np.testing.assert_allclose(read.predict_proba(X), plain.predict_proba(X), rtol=1e-12)  # plain at predict: by position
