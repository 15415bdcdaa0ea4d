"""The choice of a fused regressor by inner splits: candidate fusions, each scored on every split.

A plain function, :func:`select_regression_fusion`, on arrays and explicit
splits, so the dimensional evaluation makes exactly the same choice on the same
folds as :class:`~sklearn_zsfuse.LateFusionRegressorCV` does.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.metrics import get_scorer

from .fusion_regression import LateFusionRegressor
from .fusion_selection import FusionSelection

__all__ = ["REGRESSION_METHODS", "regression_fusion_candidates", "regression_scorer", "select_regression_fusion"]

REGRESSION_METHODS = ("weighted", "concat")


def regression_fusion_candidates(methods=REGRESSION_METHODS, weights=(0.0, 0.25, 0.5, 0.75, 1.0)) -> list[dict]:
    """The candidate fusions, each a dict of :class:`LateFusionRegressor` parameters.

    "weighted" gives one candidate per weight, "concat" one. The order is the
    tie-break order of :func:`select_regression_fusion`: on equal scores the
    earliest wins, so with the default grid the specialist (weight 0) is preferred
    to a change that buys nothing.
    """
    methods, weights = list(methods), list(weights)
    if not methods or set(methods) - set(REGRESSION_METHODS):
        raise ValueError(f"methods must be a non-empty list of {list(REGRESSION_METHODS)}, got {methods!r}.")
    out = []
    for method in dict.fromkeys(methods):
        if method == "concat":
            out.append({"method": "concat"})
            continue
        if not weights or any(not isinstance(w, Real) or isinstance(w, bool) or not 0 <= w <= 1 for w in weights):
            raise ValueError(f"weights must be a non-empty list of numbers in [0, 1], got {weights!r}.")
        out += [{"method": "weighted", "weight": float(w)} for w in dict.fromkeys(weights)]
    return out


class _FixedPredictions(RegressorMixin, BaseEstimator):
    """A 'regressor' that returns given predictions, so any scikit-learn scorer can score them."""

    def __init__(self, predictions):
        self.predictions = predictions

    def fit(self, X=None, y=None):  # pragma: no cover - never fitted, only scored
        return self

    def predict(self, X):
        return self.predictions


def regression_scorer(scoring):
    """``scoring`` as a scorer: ``"ccc"``, ``"pearson"`` and ``"mae"`` are the attribute track's
    (:func:`~sklearn_zsfuse.evaluation.regression_metrics.regression_scorers`), other names scikit-learn's."""
    if not isinstance(scoring, str):
        return scoring
    from ..evaluation.regression_metrics import regression_scorers

    ours = regression_scorers()
    return ours[scoring] if scoring in ours else get_scorer(scoring)


def select_regression_fusion(zs, emb, y, splits, candidates, *, regressor=None, scoring="ccc",
                             sample_weight=None) -> FusionSelection:
    """Score every candidate fused regressor on every split; the choice of :class:`LateFusionRegressorCV`.

    Parameters
    ----------
    zs : array of shape (n_clips,) or (n_clips, 1)
        The zero-shot score of ``y``'s dimension.
    emb : array of shape (n_clips, n_features)
        The specialist's embeddings.
    y : array of shape (n_clips,)
        Ratings, on the corpus's scale.
    splits : list of (fit_rows, validation_rows)
        Index arrays into the clips; only these rows are used.
    candidates : list of dict
        :class:`LateFusionRegressor` parameters, e.g. from :func:`regression_fusion_candidates`.
    regressor : as in :class:`LateFusionRegressor`.
    scoring : str or callable, default="ccc"
        ``"ccc"`` (the attribute track's), ``"pearson"``, ``"mae"``, another scikit-learn
        scorer name, or ``scorer(estimator, X, y)``.
    sample_weight : array of shape (n_clips,) or None
        Passed to every fit and to the scorer.

    Returns
    -------
    FusionSelection
        ``.scores`` (n_splits, n_candidates), ``.mean_scores``, ``.best_index``,
        ``.best_params`` (the earliest best on ties).

    The regressor is fitted once per split for all weighted candidates (the
    weight only mixes its predictions with the zero-shot line's, itself fitted
    once per split on the split's fitting rows), and once per split for "concat".
    Each score equals that of a ``LateFusionRegressor(**candidate)`` fitted on the
    fitting rows.
    """
    zs = np.asarray(zs, dtype=np.float64)
    if zs.ndim == 2 and zs.shape[1] != 1 or zs.ndim not in (1, 2):
        raise ValueError(f"zs must be the one zero-shot column of y's dimension, shape (n_clips,) or (n_clips, 1); "
                         f"got shape {zs.shape}.")
    zs = zs.reshape(-1, 1)
    emb, y = np.asarray(emb), np.asarray(y, dtype=np.float64)
    scorer = regression_scorer(scoring)
    X = np.hstack([zs, emb])
    common = dict(regressor=regressor, n_zero_shot=1)
    weighted = [j for j, c in enumerate(candidates) if c["method"] == "weighted"]
    scores = np.full((len(splits), len(candidates)), np.nan)

    def score(predictions, rows):
        kwargs = {} if sample_weight is None else {"sample_weight": np.asarray(sample_weight)[rows]}
        return scorer(_FixedPredictions(predictions), X[rows], y[rows], **kwargs)

    for i, (fit_rows, val_rows) in enumerate(splits):
        fit_rows, val_rows = np.asarray(fit_rows), np.asarray(val_rows)
        fit_weight = None if sample_weight is None else np.asarray(sample_weight)[fit_rows]
        if weighted:
            needs_regressor = any(candidates[j]["weight"] < 1 for j in weighted)
            est = LateFusionRegressor("weighted", 0.0 if needs_regressor else 1.0, **common)
            est.fit(X[fit_rows], y[fit_rows], sample_weight=fit_weight)
            zero_shot = est.zero_shot_predict(X[val_rows])
            specialist = est.predict(X[val_rows]) if needs_regressor else None
            for j in weighted:
                w = float(candidates[j]["weight"])
                mixed = zero_shot if w == 1.0 else specialist if w == 0.0 else w * zero_shot + (1 - w) * specialist
                scores[i, j] = score(mixed, val_rows)
        for j, c in enumerate(candidates):
            if c["method"] == "concat":
                est = LateFusionRegressor("concat", **common).fit(X[fit_rows], y[fit_rows], sample_weight=fit_weight)
                scores[i, j] = score(est.predict(X[val_rows]), val_rows)
    return FusionSelection(candidates=[dict(c) for c in candidates], scores=scores)
