"""Small array and label helpers shared across the package (the scorer, the fusions, the engine, the evaluation)."""

from __future__ import annotations

import numpy as np

__all__ = ["has_str", "l2_normalize", "label_array", "mean_recall", "softmax"]


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax; a column of ``-inf`` gets probability 0."""
    z = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def l2_normalize(v: np.ndarray, axis=-1) -> np.ndarray:
    """``v`` divided by its L2 norm along ``axis`` (a zero vector stays zero)."""
    return v / np.maximum(np.linalg.norm(v, axis=axis, keepdims=True), 1e-12)


def has_str(values) -> bool:
    """Whether any of ``values`` (any nesting of sequences or arrays) is a string."""
    return any(isinstance(v, str) for v in np.asarray(values, dtype=object).ravel().tolist())


def label_array(values) -> np.ndarray:
    """Labels as an array: object dtype when any is a string, else numpy's own dtype for them."""
    values = list(values)
    return np.asarray(values, dtype=object) if has_str(values) else np.asarray(values)


def mean_recall(y_true, y_pred, sample_weight=None) -> float:
    """Balanced accuracy (UA): the mean recall over the classes in ``y_true``.

    Exactly scikit-learn's ``balanced_accuracy_score``, without its warning when
    ``y_pred`` holds a class that ``y_true`` lacks: a validation fold without some
    class is routine in inner CV, and the score is defined for it.
    """
    from sklearn.metrics import confusion_matrix

    counts = confusion_matrix(y_true, y_pred, sample_weight=sample_weight)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_class = np.diag(counts) / counts.sum(axis=1)
    return float(np.mean(per_class[~np.isnan(per_class)]))
