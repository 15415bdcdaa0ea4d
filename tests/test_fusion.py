import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_zsfuse import LateFusionClassifier
from sklearn_zsfuse.fusion import default_classifier
from sklearn_zsfuse.zero_shot import softmax


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
}


def _expected_failures(est):
    if est.method == "concat" and est.n_zero_shot == 1:
        return {}
    return {name: TOO_FEW_FEATURES for name in SHAPE_BOUND_CHECKS}


@parametrize_with_checks(
    [
        LateFusionClassifier(method="concat", n_zero_shot=1),
        LateFusionClassifier(),
        LateFusionClassifier(weight=0.3, space="log"),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_weight_zero_is_the_specialist_alone():
    X, y = fusion_data()
    fused = LateFusionClassifier(weight=0.0).fit(X, y)
    specialist = default_classifier().fit(X[:, 3:], y)
    np.testing.assert_array_equal(fused.predict_proba(X), specialist.predict_proba(X[:, 3:]))
    np.testing.assert_array_equal(fused.predict(X), specialist.predict(X[:, 3:]))


def test_weight_one_is_the_zero_shot_classifier_alone():
    X, y = fusion_data()
    fused = LateFusionClassifier(weight=1.0).fit(X, y)
    np.testing.assert_array_equal(fused.predict_proba(X), softmax(X[:, :3]))
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
    with pytest.raises(ValueError, match="one zero-shot column per class"):
        LateFusionClassifier(n_zero_shot=2).fit(X, y)
    LateFusionClassifier(method="concat", n_zero_shot=2).fit(X, y)  # concat takes any split


def test_clone_keeps_parameters():
    est = LateFusionClassifier(method="concat", weight=0.2, space="log")
    assert clone(est).get_params() == est.get_params()
