"""LateFusionRegressor: a zero-shot attribute score fused with a regressor on foundation-model embeddings."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context, clone
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.validation import check_is_fitted, has_fit_parameter

from .regression_input import check_regression_fit_input, check_regression_predict_input

__all__ = ["LateFusionRegressor", "default_regressor", "fit_linear_map"]

# The default regressor's ridge penalties, chosen per fit by efficient leave-one-out.
RIDGE_ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0)


def default_regressor():
    """Standardise, then ridge regression with its penalty chosen by leave-one-out (``RidgeCV``).

    With metadata routing enabled both steps request ``sample_weight``.
    """
    steps = [StandardScaler(), RidgeCV(alphas=RIDGE_ALPHAS)]
    if _routing_enabled():
        steps = [step.set_fit_request(sample_weight=True) for step in steps]
    return make_pipeline(*steps)


def fit_linear_map(score, y, sample_weight=None) -> tuple[float, float]:
    """``(a, b)`` of the least-squares line ``y ~ a * score + b`` (weighted by ``sample_weight``).

    A constant score carries no information: ``a = 0`` and ``b`` the (weighted) mean of ``y``.
    """
    score, y = np.asarray(score, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    mean_s, mean_y = np.average(score, weights=w), np.average(y, weights=w)
    var = np.average((score - mean_s) ** 2, weights=w)
    if not var > 1e-12 * max(1.0, mean_s**2):
        return 0.0, float(mean_y)
    a = np.average((score - mean_s) * (y - mean_y), weights=w) / var
    return float(a), float(mean_y - a * mean_s)


def _fit_params(regressor, sample_weight) -> dict:
    """Fit parameters that give ``sample_weight`` to ``regressor`` (every Pipeline step that takes it)."""
    if isinstance(regressor, Pipeline):
        steps = [(name, step) for name, step in regressor.steps if step not in (None, "passthrough")]
        if not has_fit_parameter(steps[-1][1], "sample_weight"):
            raise ValueError(f"sample_weight was given but the regressor's final step {type(steps[-1][1]).__name__}"
                             ".fit takes no sample_weight; use a regressor that does (e.g. Ridge).")
        return {f"{name}__sample_weight": sample_weight for name, step in steps
                if has_fit_parameter(step, "sample_weight")}
    if not has_fit_parameter(regressor, "sample_weight"):
        raise ValueError(f"sample_weight was given but {type(regressor).__name__}.fit takes no sample_weight; use a "
                         "regressor that does (e.g. Ridge).")
    return {"sample_weight": sample_weight}


class LateFusionRegressor(RegressorMixin, BaseEstimator):
    """Fuse a zero-shot attribute score with a regressor trained on foundation-model embeddings.

    ``X`` is ``[zero-shot scores | embedding]``: the first columns are the zero-shot
    attribute scores (:class:`ALMAttributeScorer`'s output, one column per dimension),
    the rest the specialist's embedding (:class:`FMEmbedder`'s); a ``FeatureUnion``
    of the two makes exactly this layout. ``y`` holds one dimension's ratings, on the
    corpus's scale; the zero-shot column of that dimension is found by name
    (``dimension``; see :mod:`~sklearn_zsfuse.estimators.regression_input`).

    The zero-shot score (in [0, 1]) is mapped onto the ratings' scale by a line
    fitted on the training clips by least squares, ``m(s) = a * s + b``; then

    - "weighted": ``y_hat = weight * m(s) + (1 - weight) * regressor(embedding)``;
    - "concat": the regressor is trained on the standardised score concatenated
      with the standardised embedding.

    Parameters
    ----------
    method : {"weighted", "concat"}, default="weighted"
    weight : float in [0, 1], default=0.5
        The zero-shot share in "weighted" fusion: 0 is the specialist alone, 1 the
        zero-shot score alone (through its fitted line).
    regressor : estimator or None, default=None
        Any scikit-learn regressor; None means :func:`default_regressor`
        (standardisation + ``RidgeCV``).
    n_zero_shot : int or "auto", default="auto"
        Number of leading zero-shot columns; "auto": as many as are named (by the
        scorer's output, pandas names or ``zero_shot_dimensions``), else 1.
    zero_shot_dimensions : sequence of str or None, default=None
        The dimension of each zero-shot column, in order (the scorer's ``dimensions_``).
    dimension : str or None, default=None
        The dimension ``y`` rates (e.g. ``"arousal"``); may be left out when there is
        one zero-shot column.

    Attributes
    ----------
    zero_shot_coef_, zero_shot_intercept_ : float
        The fitted line ``m(s) = zero_shot_coef_ * s + zero_shot_intercept_``.
    regressor_ : the fitted regressor, or None
        None for "weighted" with ``weight=1``, which uses the zero-shot line alone.
    n_zero_shot_ : int
    zero_shot_dimensions_ : tuple of str or None
    zero_shot_column_ : int
        The column of ``dimension`` within the zero-shot block.
    n_features_in_ : int

    Notes
    -----
    ``fit`` takes ``sample_weight``: the line, the scalers and the regressor weigh
    each clip by it (with metadata routing: ``set_fit_request(sample_weight=True)``).
    ``score`` is scikit-learn's R²; the attribute track scores by CCC
    (:func:`sklearn_zsfuse.evaluation.regression_metrics.regression_scorers`).
    """

    _parameter_constraints = {
        "method": [StrOptions({"weighted", "concat"})],
        "weight": [Interval(Real, 0, 1, closed="both")],
        "regressor": [HasMethods(["fit", "predict"]), None],
        "n_zero_shot": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "zero_shot_dimensions": ["array-like", None],
        "dimension": [str, None],
    }

    def __init__(self, method="weighted", weight=0.5, *, regressor=None, n_zero_shot="auto",
                 zero_shot_dimensions=None, dimension=None):
        self.method = method
        self.weight = weight
        self.regressor = regressor
        self.n_zero_shot = n_zero_shot
        self.zero_shot_dimensions = zero_shot_dimensions
        self.dimension = dimension

    def _base_regressor(self):
        return default_regressor() if self.regressor is None else self.regressor

    def _split(self, X):
        return X[:, self.zero_shot_column_], X[:, self.n_zero_shot_:]

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        data = check_regression_fit_input(self, X, y, sample_weight)
        X, y, sample_weight = data.X, data.y, data.sample_weight
        self.n_zero_shot_, self.zero_shot_dimensions_ = data.n_zero_shot, data.zero_shot_dimensions
        self.zero_shot_column_ = data.column
        score, emb = self._split(X)
        self.zero_shot_coef_, self.zero_shot_intercept_ = fit_linear_map(score, y, sample_weight)
        if self.method == "concat":
            self.zs_scaler_ = StandardScaler().fit(score[:, None], sample_weight=sample_weight)
            self.embedding_scaler_ = StandardScaler().fit(emb, sample_weight=sample_weight)
            features = self._concat_features(score, emb)
        else:
            features = emb
        base = self._base_regressor()
        if _routing_enabled():
            fit_params = process_routing(self, "fit", sample_weight=sample_weight).regressor.fit
        else:
            fit_params = {} if sample_weight is None else _fit_params(base, sample_weight)
        if self.method == "weighted" and float(self.weight) == 1.0:
            self.regressor_ = None  # weight 1 is the zero-shot line alone: no regressor to train
        else:
            self.regressor_ = clone(base).fit(features, y, **fit_params)
        return self

    def _concat_features(self, score, emb):
        return np.hstack([self.zs_scaler_.transform(score[:, None]), self.embedding_scaler_.transform(emb)])

    def _zero_shot(self, score):
        return self.zero_shot_coef_ * np.asarray(score, dtype=np.float64) + self.zero_shot_intercept_

    def zero_shot_predict(self, X):
        """The zero-shot branch alone: the score through its fitted line, on ``y``'s scale."""
        check_is_fitted(self)
        X = check_regression_predict_input(self, X, self)
        return self._zero_shot(self._split(X)[0])

    def predict(self, X):
        """Fused predictions, float64, on ``y``'s scale."""
        check_is_fitted(self)
        X = check_regression_predict_input(self, X, self)
        score, emb = self._split(X)
        if self.method == "concat":
            return np.asarray(self.regressor_.predict(self._concat_features(score, emb)), dtype=np.float64)
        w = float(self.weight)
        if w == 1.0:  # each end reproduces its branch exactly
            return self._zero_shot(score)
        specialist = np.asarray(self.regressor_.predict(emb), dtype=np.float64)
        return specialist if w == 0.0 else w * self._zero_shot(score) + (1 - w) * specialist

    def get_metadata_routing(self):
        """Routing of ``fit``'s ``sample_weight``: used here (the line, the scalers) and by the regressor."""
        return (
            MetadataRouter(owner=self)
            .add_self_request(self)
            .add(regressor=self._base_regressor(), method_mapping=MethodMapping().add(caller="fit", callee="fit"))
        )
