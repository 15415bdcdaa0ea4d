"""Small array and label helpers shared across the package (the scorer, the fusions, the engine, the evaluation)."""

from __future__ import annotations

import numpy as np

__all__ = ["has_str", "l2_normalize", "label_array", "softmax"]


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
