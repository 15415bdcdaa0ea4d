"""Metrics of continuous emotion attributes (arousal, valence, dominance): CCC, Pearson's r, MAE.

- CCC, the concordance correlation coefficient (Lin, 1989), is the attribute
  track's headline number (MSP-Podcast's challenges at Odyssey 2024 and
  Interspeech 2025, and most dimensional SER work): it rewards predictions that
  agree with the ratings in location and scale, not only in ranking.
- Pearson's r: the linear association alone (blind to offset and scale).
- MAE: the mean absolute error, in the corpus's own units.

Every moment here is a *population* moment (divided by n, ``ddof=0``), as in Lin's
definition ``CCC = 2 cov(x, y) / (var(x) + var(y) + (mean(x) - mean(y))^2)``.

:func:`regression_scorers` gives them as scikit-learn scorers for
``cross_validate`` and ``GridSearchCV``; :func:`regression_scores` and
:func:`summarize_regression` do the per-fold bookkeeping of the evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

import numpy as np
from sklearn.metrics import make_scorer

__all__ = [
    "REGRESSION_METRICS",
    "concordance_cc",
    "mean_absolute_error",
    "pearson_r",
    "regression_scorers",
    "regression_scores",
    "summarize_regression",
]


def _pair(y_true, y_pred, sample_weight=None):
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.ndim == 2 and y_true.shape[1] == 1:
        y_true = y_true[:, 0]
    if y_pred.ndim == 2 and y_pred.shape[1] == 1:
        y_pred = y_pred[:, 0]
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in shape: {y_true.shape} and {y_pred.shape}.")
    if y_true.ndim not in (1, 2) or len(y_true) == 0:
        raise ValueError(f"expected at least one value per column (1-D or 2-D), got shape {y_true.shape}.")
    if not (np.all(np.isfinite(y_true)) and np.all(np.isfinite(y_pred))):
        raise ValueError("y_true and y_pred must be finite (no NaN or infinity).")
    weights = None
    if sample_weight is not None:
        weights = np.asarray(sample_weight, dtype=np.float64).ravel()
        if len(weights) != len(y_true) or np.any(weights < 0) or weights.sum() <= 0:
            raise ValueError("sample_weight must hold one non-negative weight per clip, not all zero.")
    return y_true, y_pred, weights


def _moments(y_true, y_pred, weights):
    """Population means, variances and covariance (per column): the weights' normalised average."""
    w = np.full(len(y_true), 1.0 / len(y_true)) if weights is None else weights / weights.sum()
    w = w.reshape((-1,) + (1,) * (y_true.ndim - 1))
    mx, my = (w * y_true).sum(axis=0), (w * y_pred).sum(axis=0)
    dx, dy = y_true - mx, y_pred - my
    return mx, my, (w * dx * dx).sum(axis=0), (w * dy * dy).sum(axis=0), (w * dx * dy).sum(axis=0)


def _average(values, multioutput):
    values = np.atleast_1d(values)
    if multioutput == "raw_values":
        return values
    if multioutput != "uniform_average":
        raise ValueError(f"multioutput must be 'uniform_average' or 'raw_values', got {multioutput!r}.")
    return float(values.mean())


def concordance_cc(y_true, y_pred, *, sample_weight=None, multioutput="uniform_average"):
    """Lin's concordance correlation coefficient, with population moments.

    ``CCC = 2 cov(t, p) / (var(t) + var(p) + (mean(t) - mean(p))^2)``, in [-1, 1]:
    1 only when every prediction equals its rating; a constant prediction scores 0
    (and 1 where the ratings are that same constant, the one case the formula
    leaves undefined). Moments are population moments (``ddof=0``), weighted by
    ``sample_weight`` when given.

    2-D inputs (clips x attributes) give one CCC per column, averaged unless
    ``multioutput="raw_values"`` (the challenges' average over arousal, valence
    and dominance is the uniform average).
    """
    y_true, y_pred, weights = _pair(y_true, y_pred, sample_weight)
    mx, my, vx, vy, cov = _moments(y_true, y_pred, weights)
    denominator = vx + vy + (mx - my) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        ccc = np.where(denominator > 0, 2 * cov / np.where(denominator > 0, denominator, 1.0), 1.0)
    return _average(ccc, multioutput)


def pearson_r(y_true, y_pred, *, sample_weight=None, multioutput="uniform_average"):
    """Pearson's correlation coefficient (population moments); 0 where either side is constant.

    A constant prediction (or constant ratings) has no linear association to
    measure; it is scored 0, as an uninformative prediction, rather than NaN.
    """
    y_true, y_pred, weights = _pair(y_true, y_pred, sample_weight)
    _, _, vx, vy, cov = _moments(y_true, y_pred, weights)
    scale = np.sqrt(vx * vy)
    r = np.where(scale > 0, cov / np.where(scale > 0, scale, 1.0), 0.0)
    return _average(np.clip(r, -1.0, 1.0), multioutput)


def mean_absolute_error(y_true, y_pred, *, sample_weight=None, multioutput="uniform_average"):
    """Mean absolute error, in the ratings' units."""
    y_true, y_pred, weights = _pair(y_true, y_pred, sample_weight)
    return _average(np.average(np.abs(y_true - y_pred), axis=0, weights=weights), multioutput)


REGRESSION_METRICS = MappingProxyType({"ccc": concordance_cc, "pearson": pearson_r, "mae": mean_absolute_error})


def regression_scorers() -> dict:
    """``{"ccc", "pearson", "mae"}`` scikit-learn scorers, for ``scoring=`` in CV and grid searches.

    ``"mae"`` is negated (greater is better), as scikit-learn's
    ``neg_mean_absolute_error``. In ``GridSearchCV`` pass ``scoring=regression_scorers()["ccc"]``,
    or all of them with ``refit="ccc"``.
    """
    return {
        "ccc": make_scorer(concordance_cc),
        "pearson": make_scorer(pearson_r),
        "mae": make_scorer(mean_absolute_error, greater_is_better=False),
    }


def regression_scores(y_true, y_pred) -> dict:
    """``{"ccc": ..., "pearson": ..., "mae": ...}`` of one set of predictions."""
    return {name: float(fn(y_true, y_pred)) for name, fn in REGRESSION_METRICS.items()}


def summarize_regression(per_fold: Sequence[dict]) -> dict:
    """Mean and population standard deviation (over folds, ``ddof=0``) of CCC, Pearson's r and MAE.

    Returns ``{"ccc": mean, "pearson": mean, "mae": mean, "ccc_std": ..., "pearson_std": ..., "mae_std": ...}``.
    """
    if not per_fold:
        raise ValueError("summarize_regression needs at least one fold.")
    out = {}
    for name in REGRESSION_METRICS:
        values = np.asarray([f[name] for f in per_fold], dtype=float)
        out[name] = float(values.mean())
        out[f"{name}_std"] = float(values.std())
    return out
