"""CCC, Pearson's r and MAE as functions and scikit-learn scorers; the paired bootstrap of a CCC difference."""

import random

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold, cross_validate

from sklearn_zsfuse.evaluation.regression_compare import paired_ccc_comparison
from sklearn_zsfuse.evaluation.regression_metrics import (
    concordance_cc,
    mean_absolute_error,
    pearson_r,
    regression_scorers,
    regression_scores,
    summarize_regression,
)

Y = [1.0, 2.0, 3.0, 4.0]
P = [2.0, 2.0, 3.0, 5.0]


def test_ccc_equals_a_hand_computation_with_population_moments():
    # means 2.5 and 3.0; population variances 1.25 and 1.5; covariance 1.25:
    # CCC = 2 * 1.25 / (1.25 + 1.5 + 0.5 ** 2) = 2.5 / 3 = 5 / 6
    assert concordance_cc(Y, P) == pytest.approx(5 / 6, abs=1e-15)
    # sample moments (ddof=1) would give 2 * 5/3 / (5/3 + 2 + 1/4) = 0.8511: not what we compute
    assert concordance_cc(Y, P) != pytest.approx(2 * (5 / 3) / (5 / 3 + 2 + 0.25), abs=1e-3)
    assert pearson_r(Y, P) == pytest.approx(1.25 / np.sqrt(1.25 * 1.5), abs=1e-15)
    assert mean_absolute_error(Y, P) == pytest.approx(0.5, abs=1e-15)
    assert regression_scores(Y, P) == pytest.approx({"ccc": 5 / 6, "pearson": 1.25 / np.sqrt(1.875), "mae": 0.5})


def test_ccc_penalises_offset_and_scale_where_pearson_does_not():
    y = np.linspace(1, 7, 50)
    assert concordance_cc(y, y) == 1.0
    assert pearson_r(y, 2 * y + 3) == pytest.approx(1.0)
    assert concordance_cc(y, 2 * y + 3) < 0.5
    assert concordance_cc(y, -y) < 0 and pearson_r(y, -y) == pytest.approx(-1.0)
    # a constant prediction: no concordance, no measurable correlation
    assert concordance_cc(y, np.full(50, 4.0)) == 0.0 and pearson_r(y, np.full(50, 4.0)) == 0.0
    # the one case the formula leaves undefined: constant ratings predicted exactly
    assert concordance_cc(np.full(5, 3.0), np.full(5, 3.0)) == 1.0


def test_columns_weights_and_bad_input():
    rng = np.random.default_rng(0)
    t, p = rng.normal(size=(40, 3)), rng.normal(size=(40, 3))
    raw = concordance_cc(t, p, multioutput="raw_values")
    assert raw.shape == (3,) and concordance_cc(t, p) == pytest.approx(raw.mean())
    assert raw[1] == pytest.approx(concordance_cc(t[:, 1], p[:, 1]))
    # integer weights count a clip that many times
    w = rng.integers(0, 4, 40)
    rows = np.repeat(np.arange(40), w)
    for fn in (concordance_cc, pearson_r, mean_absolute_error):
        assert fn(t[:, 0], p[:, 0], sample_weight=w) == pytest.approx(fn(t[rows, 0], p[rows, 0]))
    assert concordance_cc(np.asarray(Y)[:, None], P) == pytest.approx(5 / 6)  # a column vector is one column
    with pytest.raises(ValueError, match="differ in shape"):
        concordance_cc([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="finite"):
        concordance_cc([1, 2, np.nan], [1, 2, 3])
    with pytest.raises(ValueError, match="multioutput"):
        concordance_cc(t, p, multioutput="variance_weighted")


def test_the_scorers_work_in_grid_search_and_cross_validation():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 5))
    y = 4 + X[:, 0] + 0.3 * rng.normal(size=120)
    scorers = regression_scorers()
    search = GridSearchCV(Ridge(), {"alpha": [0.01, 1e5]}, scoring=scorers["ccc"], cv=KFold(3)).fit(X, y)
    assert search.best_params_ == {"alpha": 0.01}  # a heavily shrunk ridge loses its scale, and CCC sees it
    # the scorer's value is concordance_cc of the fold's predictions
    train, test = next(KFold(3).split(X))
    model = Ridge(alpha=0.01).fit(X[train], y[train])
    assert search.cv_results_["split0_test_score"][0] == pytest.approx(concordance_cc(y[test], model.predict(X[test])))
    scores = cross_validate(Ridge(), X, y, cv=KFold(3), scoring=scorers)
    assert np.all(scores["test_mae"] < 0) and np.all(scores["test_ccc"] > 0.8)


def test_summary_over_folds_uses_the_population_std():
    folds = [{"ccc": 0.2, "pearson": 0.3, "mae": 1.0}, {"ccc": 0.4, "pearson": 0.5, "mae": 2.0}]
    s = summarize_regression(folds)
    assert s["ccc"] == pytest.approx(0.3) and s["ccc_std"] == pytest.approx(0.1) and s["mae_std"] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        summarize_regression([])


def test_paired_ccc_bootstrap_is_seeded_paired_and_leaves_global_rngs_alone():
    rng = np.random.default_rng(3)
    y = rng.normal(size=300)
    good, noisy = y + 0.3 * rng.normal(size=300), y + 1.5 * rng.normal(size=300)
    state = np.random.get_state()[1].copy(), random.getstate()
    first = paired_ccc_comparison(y, good, noisy, n_boot=500, seed=7)
    assert np.array_equal(np.random.get_state()[1], state[0]) and random.getstate() == state[1]
    assert paired_ccc_comparison(y, good, noisy, n_boot=500, seed=7) == first
    assert first["ccc_diff"] == pytest.approx(concordance_cc(y, good) - concordance_cc(y, noisy))
    assert 0 < first["ci_low"] < first["ccc_diff"] < first["ci_high"]
    same = paired_ccc_comparison(y, good, good, n_boot=200)
    assert same["ci_low"] == same["ci_high"] == same["ccc_diff"] == 0.0  # paired: the same clips in both
    # a bootstrap resample's CCC is the metric's own on those clips
    idx = np.random.default_rng(0).integers(0, 300, (1, 300))
    from sklearn_zsfuse.evaluation.regression_compare import _ccc_rows

    assert _ccc_rows(y[idx], good[idx])[0] == pytest.approx(concordance_cc(y[idx[0]], good[idx[0]]))
    with pytest.raises(ValueError, match="differ in length"):
        paired_ccc_comparison(y, good[:10], noisy)
