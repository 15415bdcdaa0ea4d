"""Speech emotion recognition metrics: WA, UA, macro-F1, per fold and across folds.

- WA (weighted accuracy) is plain accuracy: every clip counts once.
- UA (unweighted accuracy) is balanced accuracy, the mean of per-class recalls:
  the headline number of the ZS-Fuse paper and of most SER work, because
  emotion corpora are imbalanced.
- F1 is the macro average of per-class F1 scores.

``expected_calibration_error`` measures how honest a classifier's probabilities are.

``scorers()`` gives them as scikit-learn scorers for ``cross_validate`` and
``GridSearchCV``; ``fold_scores`` and ``summarize`` do the per-fold bookkeeping.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    make_scorer,
)

from ..arrays import mean_recall

__all__ = [
    "METRICS",
    "confusion",
    "expected_calibration_error",
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
    """UA: the mean recall over the classes present in ``y_true`` (balanced accuracy).

    No warning when ``y_pred`` holds a class absent from ``y_true`` (routine in a fold).
    """
    return mean_recall(y_true, y_pred)


def macro_f1(y_true, y_pred) -> float:
    """Macro-F1 over the classes in ``y_true`` or ``y_pred``; a class never predicted scores 0."""
    return float(f1_score(y_true, y_pred, average="macro", zero_division=0))


METRICS = MappingProxyType({"ua": unweighted_accuracy, "wa": weighted_accuracy, "f1": macro_f1})


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


def summarize(per_fold: Sequence[dict], metrics=None) -> dict:
    """Mean and standard deviation (over folds, ddof=0) of each metric.

    ``metrics``: the names to summarise (default: :data:`METRICS`, UA, WA and F1).
    Returns ``{"ua": mean, "wa": mean, "f1": mean, "ua_std": ..., "wa_std": ..., "f1_std": ...}``.
    """
    if not per_fold:
        raise ValueError("summarize needs at least one fold.")
    out = {}
    for name in METRICS if metrics is None else metrics:
        values = np.asarray([f[name] for f in per_fold], dtype=float)
        out[name] = float(values.mean())
        out[f"{name}_std"] = float(values.std())
    return out


def expected_calibration_error(y_true, proba, classes, n_bins: int = 15) -> float:
    """Top-label expected calibration error (ECE) of predicted probabilities.

    Each clip's confidence is its largest probability and its prediction that
    column's label. Clips are grouped by confidence into ``n_bins`` equal-width bins
    on [0, 1] (bin b holds confidences in ``(b/n_bins, (b+1)/n_bins]``, the first
    also 0), and ECE is the clip-weighted mean over bins of
    ``|accuracy(bin) - mean confidence(bin)|`` (Guo et al., 2017). 0 is perfectly
    calibrated; an over-confident zero-shot softmax scores high.

    ``proba`` has shape (n_clips, len(classes)), columns in ``classes`` order.
    """
    proba = np.asarray(proba, dtype=np.float64)
    y_true = np.asarray(y_true).ravel()
    classes = np.asarray(classes)
    if proba.ndim != 2 or proba.shape[1] != len(classes):
        raise ValueError(f"proba must have one column per class: got shape {proba.shape} for {len(classes)} classes.")
    if len(proba) != len(y_true):
        raise ValueError(f"proba has {len(proba)} rows but y_true has {len(y_true)} labels.")
    if len(y_true) == 0:
        raise ValueError("expected_calibration_error needs at least one clip.")
    if int(n_bins) != n_bins or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}.")
    confidence = proba.max(axis=1)
    correct = classes[proba.argmax(axis=1)] == y_true
    bins = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, int(n_bins) - 1)
    ece = 0.0
    for b in np.unique(bins):
        m = bins == b
        ece += m.sum() / len(y_true) * abs(correct[m].mean() - confidence[m].mean())
    return float(ece)
