import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_zsfuse import LateFusionClassifier
from sklearn_zsfuse.arrays import softmax
from sklearn_zsfuse.estimators.fusion_proba import default_classifier


def fusion_data(n=120, n_classes=3, dim=6, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    zs = rng.normal(size=(n, n_classes)) + 1.5 * np.eye(n_classes)[y]
    emb = rng.normal(size=(n, dim)) + np.eye(n_classes, dim)[y]
    return np.hstack([zs, emb]), y


# Weighted fusion needs one zero-shot column per class plus at least one embedding
# column; many of the checks' data sets (make_blobs: 2 features, 3 classes) have
# fewer. Those checks are run on a concat fusion with one zero-shot column instead,
# which takes any X with two or more features, and the weighted logic is covered by
# the equivalence tests below.
TOO_FEW_FEATURES = "the check's X has fewer features than n_classes + 1"
SHAPE_BOUND_CHECKS = {
    "check_classifier_data_not_an_array", "check_classifiers_classes", "check_classifiers_train",
    "check_classifiers_train(readonly_memmap=True)", "check_classifiers_train(readonly_memmap=True,X_dtype=float32)",
    "check_dict_unchanged", "check_dont_overwrite_parameters", "check_estimators_fit_returns_self",
    "check_estimators_overwrite_params", "check_f_contiguous_array_estimator", "check_fit2d_predict1d",
    "check_fit_check_is_fitted", "check_fit_idempotent", "check_fit_score_takes_y",
    "check_methods_sample_order_invariance", "check_methods_subset_invariance", "check_n_features_in",
    "check_readonly_memmap_input", "check_supervised_y_2d",
    "check_sample_weights_pandas_series", "check_sample_weights_not_an_array", "check_sample_weights_list",
    "check_sample_weights_shape", "check_sample_weights_not_overwritten",
}


# Layer normalisation of a one-column block is constant: on the checks' 2-feature blobs
# (one zero-shot column, one embedding column) it erases the data, so the accuracy
# bar of check_classifiers_train cannot be met. Every other check passes.
ONE_COLUMN_LAYER_NORM = "layer normalisation of the checks' one-column blocks is constant"
LAYER_CHECKS = {
    "check_classifiers_train", "check_classifiers_train(readonly_memmap=True)",
    "check_classifiers_train(readonly_memmap=True,X_dtype=float32)",
}


def _expected_failures(est):
    if est.method == "concat" and est.n_zero_shot == 1:
        return {name: ONE_COLUMN_LAYER_NORM for name in LAYER_CHECKS} if est.normalize == "layer" else {}
    return {name: TOO_FEW_FEATURES for name in SHAPE_BOUND_CHECKS}


@parametrize_with_checks(
    [
        LateFusionClassifier(method="concat", n_zero_shot=1),
        LateFusionClassifier(method="concat", n_zero_shot=1, normalize="layer"),
        LateFusionClassifier(),
        LateFusionClassifier(weight=0.3, space="log"),
        LateFusionClassifier(weight=0.3, temperature="fit"),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_weight_zero_is_the_specialist_alone():
    X, y = fusion_data()
    fused = LateFusionClassifier(weight=0.0).fit(X, y)
    specialist = default_classifier().fit(X[:, 3:], y)
    np.testing.assert_allclose(fused.predict_proba(X), specialist.predict_proba(X[:, 3:]), rtol=1e-14)
    np.testing.assert_array_equal(fused.predict(X), specialist.predict(X[:, 3:]))


def test_weight_one_is_the_zero_shot_classifier_alone():
    X, y = fusion_data()
    fused = LateFusionClassifier(weight=1.0).fit(X, y)
    np.testing.assert_allclose(fused.predict_proba(X), softmax(X[:, :3]), rtol=1e-14)
    np.testing.assert_array_equal(fused.predict(X), X[:, :3].argmax(1))


@pytest.mark.parametrize("space", ["probability", "log"])
def test_intermediate_weights_mix_both(space):
    X, y = fusion_data()
    w = 0.3
    fused = LateFusionClassifier(weight=w, space=space).fit(X, y)
    p_zs, p_fm = softmax(X[:, :3]), default_classifier().fit(X[:, 3:], y).predict_proba(X[:, 3:])
    if space == "probability":
        expected = w * p_zs + (1 - w) * p_fm
    else:
        expected = softmax(w * np.log(p_zs) + (1 - w) * np.log(p_fm))
    np.testing.assert_allclose(fused.predict_proba(X), expected, rtol=1e-10)


def test_fusion_beats_either_branch_when_both_are_informative():
    X, y = fusion_data(n=600, seed=1)
    Xt, yt = fusion_data(n=600, seed=2)
    acc = {w: LateFusionClassifier(weight=w).fit(X, y).score(Xt, yt) for w in (0.0, 0.5, 1.0)}
    assert acc[0.5] > max(acc[0.0], acc[1.0])


def test_concat_trains_on_standardised_scores_and_embedding():
    X, y = fusion_data()
    fused = LateFusionClassifier(method="concat", classifier=LogisticRegression(max_iter=1000)).fit(X, y)
    Z = np.hstack([fused.zs_scaler_.transform(X[:, :3]), fused.embedding_scaler_.transform(X[:, 3:])])
    np.testing.assert_allclose(Z[:, :3].mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(Z.std(0), 1, rtol=1e-8)
    ref = LogisticRegression(max_iter=1000).fit(Z, y)
    np.testing.assert_allclose(fused.predict_proba(X), ref.predict_proba(Z))


def test_string_labels_and_any_classifier():
    from sklearn.ensemble import RandomForestClassifier

    X, y = fusion_data()
    labels = np.array(["angry", "happy", "sad"])[y]
    fused = LateFusionClassifier(classifier=RandomForestClassifier(n_estimators=10, random_state=0)).fit(X, labels)
    assert set(fused.predict(X)) <= set(labels)
    np.testing.assert_allclose(fused.predict_proba(X).sum(1), 1.0)


def test_errors_name_the_problem():
    X, y = fusion_data()
    with pytest.raises(ValueError, match="no embedding columns are left"):
        LateFusionClassifier().fit(X[:, :3], y)
    with pytest.raises(ValueError, match="pass zero_shot_classes"):
        LateFusionClassifier(n_zero_shot=2).fit(X, y)
    with pytest.raises(ValueError, match=r"label\(s\) \[2\] that have no zero-shot column"):
        LateFusionClassifier(n_zero_shot=2, zero_shot_classes=[0, 1]).fit(X, y)
    with pytest.raises(ValueError, match="n_zero_shot=4 but zero_shot_classes names 3"):
        LateFusionClassifier(n_zero_shot=4, zero_shot_classes=[0, 1, 2]).fit(X, y)
    LateFusionClassifier(method="concat", n_zero_shot=2).fit(X, y)  # concat takes any split


def test_clone_keeps_parameters():
    est = LateFusionClassifier(method="concat", weight=0.2, space="log")
    assert clone(est).get_params() == est.get_params()


# ---- zero-shot columns known independently of y (issue 12 item 1) ----

EMOTIONS = np.array(["angry", "calm", "disgust", "fearful", "happy", "neutral", "sad", "surprised"], dtype=object)


def one_hot_clips(missing=(), n_per_class=10, dim=4, seed=0):
    """Perfect one-hot zero-shot logits over all 8 emotions; clips of ``missing`` classes left out."""
    rng = np.random.default_rng(seed)
    y = np.repeat(EMOTIONS, n_per_class)
    y = y[~np.isin(y, list(missing))]
    zs = 5.0 * np.eye(len(EMOTIONS))[np.searchsorted(EMOTIONS, y)]
    emb = rng.normal(size=(len(y), dim)) + np.eye(len(EMOTIONS), dim)[np.searchsorted(EMOTIONS, y)]
    return np.hstack([zs, emb]), y


def test_repro_fixed_label_set_with_a_class_missing_from_training():
    X, y = one_hot_clips(missing=["happy"])
    fused = LateFusionClassifier(weight=1.0, zero_shot_classes=EMOTIONS).fit(X, y)
    assert fused.score(X, y) == 1.0  # was 0.571: columns read shifted by one
    fused = LateFusionClassifier(weight=1.0, n_zero_shot=8, zero_shot_classes=EMOTIONS).fit(X, y)
    assert fused.score(X, y) == 1.0
    assert fused.n_zero_shot_ == 8 and list(fused.classes_) == list(EMOTIONS)
    # happy clips never seen in training are still recognised by the zero-shot branch
    X_all, y_all = one_hot_clips(seed=1)
    assert fused.score(X_all, y_all) == 1.0


def _hand_fused_proba(X, y, missing, method, space, weight):
    """The fused probabilities computed without LateFusionClassifier, in EMOTIONS columns."""
    from sklearn.preprocessing import StandardScaler

    zs, emb = X[:, :8], X[:, 8:]
    seen = np.array([c not in missing for c in EMOTIONS])
    if method == "concat":
        Z = np.hstack([StandardScaler().fit_transform(zs), StandardScaler().fit_transform(emb)])
        p = np.zeros((len(X), 8))
        p[:, seen] = LogisticRegression(max_iter=2000).fit(Z, y).predict_proba(Z)
        return p
    p_fm = np.zeros((len(X), 8))
    p_fm[:, seen] = default_classifier().fit(emb, y).predict_proba(emb)
    p_zs = softmax(zs)
    if space == "probability":
        return weight * p_zs + (1 - weight) * p_fm
    tiny = np.finfo(float).tiny
    return softmax(weight * np.log(np.maximum(p_zs, tiny)) + (1 - weight) * np.log(np.maximum(p_fm, tiny)))


@pytest.mark.parametrize("how", ["zero_shot_classes", "feature_names"])
@pytest.mark.parametrize("space", ["probability", "log"])
@pytest.mark.parametrize("method", ["weighted", "concat"])
@pytest.mark.parametrize("missing", [[c] for c in EMOTIONS] + [["angry", "surprised"], ["calm", "happy", "sad"]])
def test_every_missing_class_is_aligned_by_label(missing, method, space, how):
    pd = pytest.importorskip("pandas")
    X, y = one_hot_clips(missing=missing)
    classifier = LogisticRegression(max_iter=2000) if method == "concat" else None
    est = LateFusionClassifier(method=method, weight=0.4, space=space, classifier=classifier)
    if how == "zero_shot_classes":
        est.set_params(zero_shot_classes=EMOTIONS).fit(X, y)
        X_in = X
    else:
        columns = [f"zs__{c}" for c in EMOTIONS] + [f"fm__fm{i}" for i in range(X.shape[1] - 8)]
        X_in = pd.DataFrame(X, columns=columns)
        est.fit(X_in, y)
        assert est.zero_shot_classes_.tolist() == EMOTIONS.tolist()
    assert est.classes_.tolist() == EMOTIONS.tolist()
    np.testing.assert_allclose(est.predict_proba(X_in), _hand_fused_proba(X, y, missing, method, space, 0.4),
                               rtol=1e-6, atol=1e-9)
    if method == "weighted":
        assert est.set_params(weight=1.0).score(X_in, y) == 1.0


def test_feature_names_from_a_pandas_feature_union():
    pd = pytest.importorskip("pandas")
    from sklearn.pipeline import FeatureUnion
    from sklearn.preprocessing import FunctionTransformer

    X, y = one_hot_clips(missing=["happy"])
    zs = FunctionTransformer(lambda a: np.asarray(a)[:, :8], feature_names_out=lambda *_: np.asarray(EMOTIONS, dtype=object))
    fm = FunctionTransformer(lambda a: np.asarray(a)[:, 8:], feature_names_out=lambda *_: np.asarray(["fm0", "fm1", "fm2", "fm3"], dtype=object))
    union = FeatureUnion([("zs", zs), ("fm", fm)]).set_output(transform="pandas")
    frame = union.fit_transform(pd.DataFrame(X))
    assert list(frame.columns[:2]) == ["zs__angry", "zs__calm"]
    fused = LateFusionClassifier(weight=1.0).fit(frame, y)
    assert fused.score(frame, y) == 1.0
    with pytest.raises(ValueError, match="must list the same classes in the same order"):
        LateFusionClassifier(zero_shot_classes=EMOTIONS[::-1]).fit(frame, y)


def test_zero_shot_labels_that_are_not_labels_of_numeric_y_are_refused():
    pd = pytest.importorskip("pandas")
    X, y = fusion_data()
    frame = pd.DataFrame(X, columns=["zs__a", "zs__b", "zs__c"] + [f"fm__{i}" for i in range(6)])
    with pytest.raises(ValueError, match="pass zero_shot_classes"):
        LateFusionClassifier().fit(frame, y)


def test_a_class_of_y_without_zero_shot_column_is_refused_for_weighted_only():
    X, y = one_hot_clips()
    with pytest.raises(ValueError, match=r"'surprised'\] that have no zero-shot column"):
        LateFusionClassifier(n_zero_shot=8, zero_shot_classes=EMOTIONS[:7].tolist() + ["other"]).fit(X, y)
    est = LateFusionClassifier(method="concat", zero_shot_classes=EMOTIONS[:7].tolist() + ["other"]).fit(X, y)
    assert "other" in est.classes_ and "surprised" in est.classes_
    assert est.predict_proba(X)[:, est.classes_.tolist().index("other")].max() == 0.0


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_grid_search_over_folds_missing_classes_equals_a_hand_computation():
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import GridSearchCV, PredefinedSplit

    X, y = one_hot_clips(n_per_class=12, seed=3)
    rng = np.random.default_rng(4)
    X[:, :8] += rng.normal(0, 4.0, (len(y), 8))  # a noisy zero-shot branch, so weights matter
    folds = np.arange(len(y)) % 3
    folds[y == "happy"] = 0  # training part of fold 0 has no happy clip
    folds[y == "calm"] = 1  # training part of fold 1 has no calm clip
    grid = {"method": ["weighted"], "weight": [0.0, 0.5, 1.0], "space": ["probability", "log"]}
    search = GridSearchCV(LateFusionClassifier(zero_shot_classes=EMOTIONS), grid, cv=PredefinedSplit(folds),
                          scoring="balanced_accuracy").fit(X, y)
    for i, params in enumerate(search.cv_results_["params"]):
        for k in range(3):
            train, test = folds != k, folds == k
            missing = sorted(set(EMOTIONS) - set(y[train]))
            seen = np.array([c not in missing for c in EMOTIONS])
            p_fm = np.zeros((test.sum(), 8))
            p_fm[:, seen] = default_classifier().fit(X[train, 8:], y[train]).predict_proba(X[test, 8:])
            p_zs, w = softmax(X[test, :8]), params["weight"]
            if params["space"] == "probability" or w in (0.0, 1.0):
                p = p_zs if w == 1.0 else p_fm if w == 0.0 else w * p_zs + (1 - w) * p_fm
            else:
                tiny = np.finfo(float).tiny
                p = softmax(w * np.log(np.maximum(p_zs, tiny)) + (1 - w) * np.log(np.maximum(p_fm, tiny)))
            expected = balanced_accuracy_score(y[test], EMOTIONS[p.argmax(1)])
            assert search.cv_results_[f"split{k}_test_score"][i] == pytest.approx(expected, abs=1e-12)


def test_pipeline_passes_the_scorers_fixed_classes(tiny_clap, tiny_wavlm):
    from sklearn_zsfuse import make_zsfuse_pipeline

    pipe = make_zsfuse_pipeline(tiny_clap, tiny_wavlm, classes=["sad", "angry", "happy"], device="cpu")
    assert pipe.named_steps["features"].transformer_list[0][1].classes == ["sad", "angry", "happy"]
    # the scorer's columns are its sorted classes_
    assert list(pipe.named_steps["fusion"].zero_shot_classes) == ["angry", "happy", "sad"]
    assert make_zsfuse_pipeline(tiny_clap, tiny_wavlm).named_steps["fusion"].zero_shot_classes is None


# ---- probabilities (issue 12 item 6) ----

@pytest.mark.parametrize("method", ["weighted", "concat"])
@pytest.mark.parametrize("space", ["probability", "log"])
@pytest.mark.parametrize("weight", [0.0, 0.3, 1.0])
def test_probabilities_are_float64_and_sum_to_one(method, space, weight):
    X, y = fusion_data(n=300, n_classes=5, dim=8, seed=5)
    X = X.astype(np.float32)
    p = LateFusionClassifier(method=method, weight=weight, space=space).fit(X, y).predict_proba(X)
    assert p.dtype == np.float64
    assert np.abs(p.sum(axis=1) - 1.0).max() <= 4 * np.finfo(np.float64).eps


def test_log_loss_does_not_warn_on_fused_probabilities():
    import warnings

    from sklearn.metrics import log_loss

    X, y = fusion_data(n=300, n_classes=5, dim=8, seed=5)
    X = X.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for w in (0.0, 0.5, 1.0):
            fused = LateFusionClassifier(weight=w).fit(X, y)
            log_loss(y, fused.predict_proba(X), labels=fused.classes_)
