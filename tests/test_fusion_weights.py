"""sample_weight through LateFusionClassifier.fit, with and without metadata routing (issue 12 item 3)."""

import numpy as np
import pytest
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from sklearn_zsfuse import LateFusionClassifier


def data(n=150, n_classes=3, dim=5, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    zs = 3 * rng.normal(size=(n, n_classes)) + 4 * np.eye(n_classes)[y]
    emb = rng.normal(size=(n, dim)) + np.eye(n_classes, dim)[y]
    return np.hstack([zs, emb]), y, rng.integers(0, 4, n)


CONFIGS = [
    dict(method="weighted", weight=0.4),
    dict(method="weighted", weight=0.4, space="log", temperature="fit"),
    dict(method="concat"),
    dict(method="concat", normalize="layer"),
]


@pytest.mark.parametrize("params", CONFIGS, ids=str)
def test_integer_weights_equal_repeated_clips(params):
    X, y, w = data()
    weighted = LateFusionClassifier(**params).fit(X, y, sample_weight=w)
    repeated = LateFusionClassifier(**params).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-4, atol=1e-6)
    if params.get("temperature") == "fit":
        assert weighted.temperature_ == pytest.approx(repeated.temperature_, rel=1e-4)


def test_weights_change_the_fit():
    X, y, w = data()
    plain = LateFusionClassifier(weight=0.0).fit(X, y)
    weighted = LateFusionClassifier(weight=0.0).fit(X, y, sample_weight=w)
    assert not np.allclose(plain.predict_proba(X), weighted.predict_proba(X))


def test_pipeline_fit_params_without_routing():
    X, y, w = data()
    pipe = Pipeline([("features", FunctionTransformer()), ("fusion", LateFusionClassifier())])
    pipe.fit(X, y, fusion__sample_weight=w)
    direct = LateFusionClassifier().fit(X, y, sample_weight=w)
    np.testing.assert_allclose(pipe.predict_proba(X), direct.predict_proba(X))


def test_metadata_routing_through_a_pipeline():
    X, y, w = data()
    direct = LateFusionClassifier(temperature="fit").fit(X, y, sample_weight=w)
    with sklearn.config_context(enable_metadata_routing=True):
        fusion = LateFusionClassifier(temperature="fit").set_fit_request(sample_weight=True)
        pipe = Pipeline([("features", FunctionTransformer()), ("fusion", fusion)]).fit(X, y, sample_weight=w)
        np.testing.assert_allclose(pipe.predict_proba(X), direct.predict_proba(X), rtol=1e-10)
        assert pipe[-1].temperature_ == direct.temperature_
        # your own classifier receives it when it asks for it ...
        own = make_pipeline(StandardScaler().set_fit_request(sample_weight=True),
                            LogisticRegression(max_iter=2000).set_fit_request(sample_weight=True))
        routed = LateFusionClassifier(classifier=own).fit(X, y, sample_weight=w)
        np.testing.assert_allclose(routed.predict_proba(X), direct.set_params(temperature=None).fit(
            X, y, sample_weight=w).predict_proba(X), rtol=1e-10)
        # ... and scikit-learn refuses to drop it silently when it does not say
        with pytest.raises(Exception, match="sample_weight"):
            LateFusionClassifier(classifier=LogisticRegression()).fit(X, y, sample_weight=w)
    assert not sklearn.get_config()["enable_metadata_routing"]


def test_a_classifier_without_sample_weight_is_named():
    X, y, w = data()
    with pytest.raises(ValueError, match="KNeighborsClassifier.fit takes no sample_weight"):
        LateFusionClassifier(classifier=KNeighborsClassifier()).fit(X, y, sample_weight=w)
    with pytest.raises(ValueError, match="final step KNeighborsClassifier.fit takes no sample_weight"):
        LateFusionClassifier(classifier=make_pipeline(StandardScaler(), KNeighborsClassifier())).fit(
            X, y, sample_weight=w)
    LateFusionClassifier(classifier=KNeighborsClassifier()).fit(X, y)  # fine without weights


def test_class_weight_balanced_is_a_route_for_imbalance():
    X, y, _ = data(n=300)
    keep = (y != 2) | (np.arange(len(y)) % 6 == 0)  # class 2 rare
    X, y = X[keep], y[keep]
    fused = LateFusionClassifier(weight=0.0, classifier=LogisticRegression(class_weight="balanced")).fit(X, y)
    counts = np.bincount(y)
    balanced = LateFusionClassifier(weight=0.0, classifier=LogisticRegression()).fit(
        X, y, sample_weight=len(y) / (3 * counts[y]))
    np.testing.assert_allclose(fused.predict_proba(X), balanced.predict_proba(X), rtol=1e-4, atol=1e-6)
    plain = LateFusionClassifier(weight=0.0, classifier=LogisticRegression()).fit(X, y)
    assert (fused.predict(X) == 2).sum() > (plain.predict(X) == 2).sum()
