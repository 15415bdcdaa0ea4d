"""Speech emotion recognition metrics: WA, UA, macro-F1, per fold and across folds.

- WA (weighted accuracy) is plain accuracy: every clip counts once.
- UA (unweighted accuracy) is balanced accuracy, the mean of per-class recalls:
  the headline number of the ZS-Fuse paper and of most SER work, because
  emotion corpora are imbalanced.
- F1 is the macro average of per-class F1 scores.

``scorers()`` gives them as scikit-learn scorers for ``cross_validate`` and
``GridSearchCV``; ``fold_scores`` and ``summarize`` do the per-fold bookkeeping.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score, make_scorer

__all__ = [
    "METRICS",
    "confusion",
    "fold_scores",
    "macro_f1",
    "scorers",
    "score_all",
    "summarize",
    "unweighted_accuracy",
    "weighted_accuracy",
]


def weighted_accuracy(y_true, y_pred) -> float:
    """WA: the share of clips classified correctly."""
    return float(accuracy_score(y_true, y_pred))


def unweighted_accuracy(y_true, y_pred) -> float:
    """UA: the mean recall over the classes present in ``y_true`` (balanced accuracy)."""
    return float(balanced_accuracy_score(y_true, y_pred))


def macro_f1(y_true, y_pred) -> float:
    """Macro-F1 over the classes in ``y_true`` or ``y_pred``; a class never predicted scores 0."""
    return float(f1_score(y_true, y_pred, average="macro", zero_division=0))


METRICS = {"ua": unweighted_accuracy, "wa": weighted_accuracy, "f1": macro_f1}


def scorers() -> dict:
    """``{"ua", "wa", "f1"}`` scikit-learn scorers, for ``scoring=`` in CV and grid searches.

    In ``GridSearchCV`` pass ``refit="ua"`` to select on UA.
    """
    return {name: make_scorer(fn) for name, fn in METRICS.items()}


def score_all(y_true, y_pred) -> dict:
    """``{"ua": ..., "wa": ..., "f1": ...}`` of one set of predictions."""
    return {name: fn(y_true, y_pred) for name, fn in METRICS.items()}


def confusion(y_true, y_pred, labels: Sequence) -> np.ndarray:
    """Counts, rows = true class, columns = predicted class, both in ``labels`` order."""
    return confusion_matrix(y_true, y_pred, labels=list(labels))


def fold_scores(y_true, y_pred, folds) -> list[dict]:
    """Per test fold (``folds >= 0``): ``{"fold", "n", "ua", "wa", "f1"}``."""
    y_true, y_pred, folds = np.asarray(y_true), np.asarray(y_pred), np.asarray(folds)
    if not len(y_true) == len(y_pred) == len(folds):
        raise ValueError(
            f"y_true, y_pred and folds must have the same length, got {len(y_true)}, {len(y_pred)}, "
            f"{len(folds)}."
        )
    out = []
    for fold in np.unique(folds[folds >= 0]):
        m = folds == fold
        out.append({"fold": int(fold), "n": int(m.sum()), **score_all(y_true[m], y_pred[m])})
    return out


def summarize(per_fold: Sequence[dict]) -> dict:
    """Mean and standard deviation (over folds, ddof=0) of each metric.

    Returns ``{"ua": mean, "wa": mean, "f1": mean, "ua_std": ..., "wa_std": ..., "f1_std": ...}``.
    """
    if not per_fold:
        raise ValueError("summarize needs at least one fold.")
    out = {}
    for name in METRICS:
        values = np.asarray([f[name] for f in per_fold], dtype=float)
        out[name] = float(values.mean())
        out[f"{name}_std"] = float(values.std())
    return out
