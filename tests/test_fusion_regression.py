"""LateFusionRegressor and LateFusionRegressorCV: a zero-shot attribute score fused with a specialist (issue 20.3)."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge
from sklearn.model_selection import GroupKFold, KFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_sample_weight_equivalence_on_dense_data, parametrize_with_checks

from sklearn_zsfuse import LateFusionRegressor, LateFusionRegressorCV
from sklearn_zsfuse.estimators.fusion_regression import default_regressor, fit_linear_map
from sklearn_zsfuse.estimators.fusion_regression_selection import (
    regression_fusion_candidates,
    select_regression_fusion,
)
from sklearn_zsfuse.estimators.zero_shot_columns import ZeroShotColumns
from sklearn_zsfuse.evaluation.regression_metrics import concordance_cc

# The default regressor chooses its ridge penalty by leave-one-out (RidgeCV), where a repeated
# clip is its own neighbour: repeats and weights can then choose different penalties. With a
# fixed penalty the fusion is weight-equivalent (test_a_fixed_penalty_is_weight_equivalent).
LOO_CHOICE = "RidgeCV's leave-one-out penalty choice differs between repeated and weighted clips"


def _expected_failures(est):
    if isinstance(est, LateFusionRegressor) and est.regressor is None:
        return {"check_sample_weight_equivalence_on_dense_data": LOO_CHOICE}
    return {}


@parametrize_with_checks(
    [LateFusionRegressor(method="concat"), LateFusionRegressor(), LateFusionRegressor(weight=0.3),
     LateFusionRegressor(weight=0.3, regressor=make_pipeline(StandardScaler(), Ridge())),  # every check passes
     LateFusionRegressorCV(cv=3)],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_a_fixed_penalty_is_weight_equivalent():
    for method in ("weighted", "concat"):
        est = LateFusionRegressor(method, 0.4, regressor=make_pipeline(StandardScaler(), Ridge()))
        check_sample_weight_equivalence_on_dense_data("LateFusionRegressor", est)


def data(n=120, dim=5, seed=0):
    """Ratings on 1-7; a zero-shot score in [0, 1] that is an exact line of them; a noisy embedding."""
    rng = np.random.default_rng(seed)
    y = rng.uniform(1, 7, n)
    score = (y - 1) / 6
    emb = np.column_stack([y + rng.normal(0, 1.5, n), rng.normal(size=(n, dim - 1))])
    return score, emb, y


def test_the_ends_are_each_branch_alone_and_the_line_maps_the_score_onto_the_scale():
    score, emb, y = data()
    X = np.column_stack([score, emb])
    zero_shot = LateFusionRegressor(weight=1.0).fit(X, y)
    assert zero_shot.regressor_ is None
    assert zero_shot.zero_shot_coef_ == pytest.approx(6.0) and zero_shot.zero_shot_intercept_ == pytest.approx(1.0)
    np.testing.assert_allclose(zero_shot.predict(X), y, rtol=1e-12)
    assert concordance_cc(y, zero_shot.predict(X)) == pytest.approx(1.0, abs=1e-12)
    specialist = LateFusionRegressor(weight=0.0).fit(X, y)
    np.testing.assert_allclose(specialist.predict(X), default_regressor().fit(emb, y).predict(emb), rtol=1e-12)
    half = LateFusionRegressor(weight=0.5).fit(X, y)
    np.testing.assert_allclose(half.predict(X), 0.5 * y + 0.5 * specialist.predict(X), rtol=1e-12)
    np.testing.assert_allclose(half.zero_shot_predict(X), y, rtol=1e-12)
    # a constant score says nothing: its line is the mean
    assert fit_linear_map(np.full(10, 0.3), np.arange(10.0)) == (0.0, 4.5)


def test_it_reads_its_dimension_by_name_from_the_scorers_columns():
    score, emb, y = data()
    rng = np.random.default_rng(2)
    scores = np.column_stack([rng.uniform(size=len(y)), score, rng.uniform(size=len(y))])
    block = ZeroShotColumns(scores, ["arousal", "valence", "dominance"])
    X = np.hstack([block, emb])  # what a numpy FeatureUnion does
    est = LateFusionRegressor(weight=1.0, dimension="valence").fit(X, y)
    assert est.n_zero_shot_ == 3 and est.zero_shot_column_ == 1
    assert est.zero_shot_dimensions_ == ("arousal", "valence", "dominance")
    np.testing.assert_allclose(est.predict(X), y, rtol=1e-12)
    with pytest.raises(ValueError, match=r"score \['arousal', 'valence', 'dominance'\]: say which one y rates"):
        LateFusionRegressor().fit(X, y)
    with pytest.raises(ValueError, match="dimension='power' is not among"):
        LateFusionRegressor(dimension="power").fit(X, y)
    with pytest.raises(ValueError, match="carry no names"):
        LateFusionRegressor(dimension="valence", n_zero_shot=3).fit(np.asarray(X), y)
    plain = LateFusionRegressor(weight=1.0, dimension="valence",
                                zero_shot_dimensions=["arousal", "valence", "dominance"]).fit(np.asarray(X), y)
    np.testing.assert_allclose(plain.predict(np.asarray(X)), y, rtol=1e-12)
    # scores of other dimensions at predict time: refused, not read by position
    other = np.hstack([ZeroShotColumns(scores, ["valence", "arousal", "dominance"]), emb])
    with pytest.raises(ValueError, match="do not match what LateFusionRegressor was fitted on"):
        est.predict(other)
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(np.asarray(X), columns=["zs__arousal", "zs__valence", "zs__dominance"] +
                         [f"fm__{i}" for i in range(emb.shape[1])])
    named = LateFusionRegressor(weight=1.0, dimension="valence").fit(frame, y)
    assert named.zero_shot_column_ == 1 and named.zero_shot_dimensions_ == ("arousal", "valence", "dominance")


def test_selection_scores_equal_separately_fitted_fusions():
    score, emb, y = data(seed=3)
    emb[:, 0] += np.random.default_rng(4).normal(0, 2, len(y))
    splits = list(KFold(3).split(emb))
    candidates = regression_fusion_candidates(weights=(0, 0.3, 1))
    sel = select_regression_fusion(score, emb, y, splits, candidates)
    X = np.column_stack([score, emb])
    for j, c in enumerate(candidates):
        for i, (a, b) in enumerate(splits):
            est = LateFusionRegressor(**c).fit(X[a], y[a])
            assert sel.scores[i, j] == pytest.approx(concordance_cc(y[b], est.predict(X[b])), abs=1e-12)
    assert sel.best_params == {"method": "weighted", "weight": 1.0}  # the exact score wins


class SpyRegressor(RegressorMixin, BaseEstimator):
    """Ridge on columns 1: that records the clip indices (column 0) it is fitted on."""

    fitted_on: list = []

    def fit(self, X, y, sample_weight=None):
        SpyRegressor.fitted_on.append(X[:, 0].astype(int))
        self.model_ = Ridge().fit(X[:, 1:], y)
        return self

    def predict(self, X):
        return self.model_.predict(X[:, 1:])


def spied_data(n_speakers=6, per_speaker=20, seed=0):
    score, emb, y = data(n_speakers * per_speaker, seed=seed)
    speakers = np.repeat([f"spk{i}" for i in range(n_speakers)], per_speaker)
    return np.column_stack([score, np.arange(len(y)), emb]), y, speakers


def test_inner_selection_never_sees_the_outer_test_fold():
    X, y, speakers = spied_data()
    for train, test in GroupKFold(3).split(X, y, speakers):
        SpyRegressor.fitted_on = []
        LateFusionRegressorCV(("weighted",), (0.0, 0.5), regressor=SpyRegressor(), cv=GroupKFold(2)).fit(
            X[train], y[train], groups=speakers[train])
        # per inner split: one fit for every weighted candidate; then the refit
        assert len(SpyRegressor.fitted_on) == 2 + 1
        for rows in SpyRegressor.fitted_on:
            assert not set(rows) & set(test)
        for rows in SpyRegressor.fitted_on[:-1]:  # inner fits hold all or none of a speaker's clips
            for spk in np.unique(speakers[train]):
                mine = set(np.flatnonzero(speakers == spk))
                assert mine <= set(rows) or not mine & set(rows)


def test_a_candidate_perfect_only_on_the_outer_test_fold_is_not_chosen():
    score, emb, y = data(seed=5)
    test = np.arange(len(y)) < 40
    # the zero-shot score is exact on the test clips and noise on the training clips
    noisy = np.where(test, score, np.random.default_rng(6).uniform(size=len(y)))
    X = np.column_stack([noisy, emb])
    cv = LateFusionRegressorCV(cv=KFold(3)).fit(X[~test], y[~test])
    assert cv.best_params_ != {"method": "weighted", "weight": 1.0}
    assert concordance_cc(y[test], LateFusionRegressor(weight=1.0).fit(X[~test], y[~test]).zero_shot_predict(
        X[test])) < 0.5  # the line fitted on noise maps the exact score badly too
    assert cv.best_params_["method"] == "concat" or cv.best_params_["weight"] < 0.5


def test_the_cv_regressor_reports_its_choice_like_a_grid_search():
    score, emb, y = data(seed=7)
    X = np.column_stack([score, emb])
    cv = LateFusionRegressorCV(weights=(0.0, 0.5, 1.0), cv=3).fit(X, y)
    assert cv.best_params_ == {"method": "weighted", "weight": 1.0} and cv.best_score_ == pytest.approx(1.0)
    assert list(cv.cv_results_["param_weight"].mask) == [False, False, False, True]
    assert cv.cv_results_["rank_test_score"][2] == 1
    np.testing.assert_allclose(cv.predict(X), y, rtol=1e-10)
    scores = cross_validate(LateFusionRegressorCV(cv=3, scoring="r2"), X, y, cv=KFold(3), scoring="r2")
    assert np.all(scores["test_score"] > 0.99)
    with pytest.warns(UserWarning, match="does not use them"):
        LateFusionRegressorCV(cv=3).fit(X, y, groups=np.arange(len(y)) % 4)
