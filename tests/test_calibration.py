"""Calibrated zero-shot: temperature scaling and expected calibration error (issue 11 item 3)."""

import numpy as np
import pytest
from scipy.special import logsumexp

from sklearn_zsfuse import LateFusionClassifier
from sklearn_zsfuse.arrays import softmax
from sklearn_zsfuse.estimators.calibration import TEMPERATURE_BOUNDS, fit_temperature, temperature_log_loss
from sklearn_zsfuse.evaluation.metrics import expected_calibration_error

CLASSES = np.array(["angry", "happy", "neutral", "sad"], dtype=object)


def overconfident(n=400, seed=0, scale=40.0, accuracy=0.6):
    """CLAP-like logits: right about ``accuracy`` of the time, but with a huge scale."""
    rng = np.random.default_rng(seed)
    y = CLASSES[rng.integers(0, 4, n)]
    hit = np.where(rng.random(n) < accuracy, np.searchsorted(CLASSES, y), rng.integers(0, 4, n))
    logits = scale * (0.1 * rng.normal(size=(n, 4)) + 0.2 * np.eye(4)[hit])
    return logits, y


def test_fit_temperature_is_the_log_loss_minimum():
    logits, y = overconfident()
    t = fit_temperature(logits, y, CLASSES)
    grid = np.exp(np.linspace(np.log(0.1), np.log(100), 4001))
    losses = [temperature_log_loss(logits, y, CLASSES, g) for g in grid]
    assert t == pytest.approx(grid[int(np.argmin(losses))], rel=2e-3)
    assert temperature_log_loss(logits, y, CLASSES, t) <= min(losses) + 1e-9
    assert t > 2  # over-confident logits want softening


def test_log_loss_by_hand():
    logits = np.array([[2.0, 0.0, 0.0, 0.0], [0.0, 1.0, 3.0, 0.0]])
    y = np.array(["angry", "happy"], dtype=object)
    expected = np.mean([logsumexp(logits[0] / 2) - 1.0, logsumexp(logits[1] / 2) - 0.5])
    assert temperature_log_loss(logits, y, CLASSES, 2.0) == pytest.approx(expected, rel=1e-12)


def test_temperature_scales_with_the_logits():
    logits, y = overconfident()
    assert fit_temperature(10 * logits, y, CLASSES) == pytest.approx(10 * fit_temperature(logits, y, CLASSES), rel=1e-4)


def test_weights_equal_repetition_and_perfect_logits_hit_the_bound():
    logits, y = overconfident(n=100)
    w = np.random.default_rng(1).integers(0, 3, len(y))
    assert fit_temperature(logits, y, CLASSES, sample_weight=w) == pytest.approx(
        fit_temperature(np.repeat(logits, w, 0), np.repeat(y, w), CLASSES), rel=1e-5)
    perfect = 5 * np.eye(4)[np.searchsorted(CLASSES, y)]
    t = fit_temperature(perfect, y, CLASSES)  # always right: sharper is better, down to float precision
    assert TEMPERATURE_BOUNDS[0] <= t < 0.1 and temperature_log_loss(perfect, y, CLASSES, t) < 1e-30


def test_fit_temperature_errors_name_the_problem():
    logits, y = overconfident(n=10)
    with pytest.raises(ValueError, match=r"label\(s\) \['joy'\]"):
        fit_temperature(logits, np.where(y == "sad", "joy", y), CLASSES)
    with pytest.raises(ValueError, match="one column per class"):
        fit_temperature(logits[:, :3], y, CLASSES)


def test_ece_by_hand():
    classes = np.array([0, 1])
    proba = np.array([[0.95, 0.05], [0.9, 0.1], [0.35, 0.65], [0.3, 0.7], [0.5, 0.5]])
    y = np.array([0, 1, 1, 1, 1])
    # n_bins=2: bin (0, .5] holds clip 4 (conf .5, predicted 0, wrong);
    # bin (.5, 1] holds clips 0-3 (conf .95, .9, .65, .7; right, wrong, right, right)
    expected = 1 / 5 * abs(0 - 0.5) + 4 / 5 * abs(3 / 4 - (0.95 + 0.9 + 0.65 + 0.7) / 4)
    assert expected_calibration_error(y, proba, classes, n_bins=2) == pytest.approx(expected, rel=1e-12)
    # n_bins=10: bins (.4,.5], (.6,.7], (.8,.9], (.9,1]; 0.7 falls in (.6, .7]
    expected10 = (abs(0 - 0.5) + abs(2 - 1.35) + abs(0 - 0.9) + abs(1 - 0.95)) / 5
    assert expected_calibration_error(y, proba, classes, n_bins=10) == pytest.approx(expected10, rel=1e-12)
    assert expected_calibration_error(y, np.eye(2)[y], classes) == 0.0


def test_ece_errors():
    with pytest.raises(ValueError, match="one column per class"):
        expected_calibration_error([0, 1], np.ones((2, 3)) / 3, [0, 1])
    with pytest.raises(ValueError, match="n_bins"):
        expected_calibration_error([0, 1], np.eye(2), [0, 1], n_bins=0)


def fusion_data(n=400, seed=0):
    logits, y = overconfident(n=n, seed=seed)
    rng = np.random.default_rng(seed + 10)
    emb = rng.normal(size=(n, 6)) + np.eye(4, 6)[np.searchsorted(CLASSES, y)]
    return np.hstack([logits, emb]), y


def test_fused_temperature_is_fitted_on_the_training_clips_and_used():
    X, y = fusion_data()
    est = LateFusionClassifier(weight=0.5, temperature="fit").fit(X, y)
    t = fit_temperature(X[:, :4], y, CLASSES)
    assert est.temperature_ == t
    np.testing.assert_allclose(est.zero_shot_proba(X), softmax(X[:, :4] / t), rtol=1e-12)
    raw = LateFusionClassifier(weight=0.5).fit(X, y)
    assert raw.temperature_ == 1.0
    p_fm = raw.set_params(weight=0.0).predict_proba(X)
    np.testing.assert_allclose(est.predict_proba(X), 0.5 * softmax(X[:, :4] / t) + 0.5 * p_fm, rtol=1e-10)
    fixed = LateFusionClassifier(weight=1.0, temperature=7.5).fit(X, y)
    np.testing.assert_allclose(fixed.predict_proba(X), softmax(X[:, :4] / 7.5), rtol=1e-12)
    # the ranking is the zero-shot one whatever the temperature
    np.testing.assert_array_equal(fixed.predict(X), raw.set_params(weight=1.0).predict(X))


def test_fitted_temperature_lowers_ece_on_new_clips():
    X, y = fusion_data(seed=1)
    X_new, y_new = fusion_data(seed=2)
    before = LateFusionClassifier(weight=1.0).fit(X, y)
    after = LateFusionClassifier(weight=1.0, temperature="fit").fit(X, y)
    ece_before = expected_calibration_error(y_new, before.zero_shot_proba(X_new), before.classes_)
    ece_after = expected_calibration_error(y_new, after.zero_shot_proba(X_new), after.classes_)
    assert ece_after < 0.5 * ece_before


def test_concat_layer_normalisation_has_no_learned_parameters():
    from sklearn.linear_model import LogisticRegression

    from sklearn_zsfuse.estimators.fusion_proba import layer_norm

    X, y = fusion_data()
    est = LateFusionClassifier(method="concat", normalize="layer", classifier=LogisticRegression(max_iter=2000)).fit(X, y)
    assert not hasattr(est, "zs_scaler_") and not hasattr(est, "embedding_scaler_")
    Z = np.hstack([layer_norm(X[:, :4]), layer_norm(X[:, 4:])])
    np.testing.assert_allclose(Z[:, :4].mean(1), 0, atol=1e-12)
    np.testing.assert_allclose(Z[:, 4:].std(1), 1, rtol=1e-4)
    ref = LogisticRegression(max_iter=2000).fit(Z, y)
    np.testing.assert_allclose(est.predict_proba(X), ref.predict_proba(Z), rtol=1e-10)
    # per clip: a clip's features do not depend on the other clips it is predicted with
    np.testing.assert_allclose(est.predict_proba(X[:1]), est.predict_proba(X)[:1])
    # a torch.nn.LayerNorm without affine parameters computes the same
    torch = pytest.importorskip("torch")
    ln = torch.nn.LayerNorm(6, elementwise_affine=False, dtype=torch.float64)
    np.testing.assert_allclose(ln(torch.from_numpy(X[:, 4:])).numpy(), Z[:, 4:], rtol=1e-10)


def test_temperature_validation():
    X, y = fusion_data(n=40)
    for bad in (0, -1.0, "auto"):
        with pytest.raises(ValueError, match="temperature"):
            LateFusionClassifier(temperature=bad).fit(X, y)
