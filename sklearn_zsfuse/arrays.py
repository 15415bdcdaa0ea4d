"""Small array helpers shared across the package."""

from __future__ import annotations

import numpy as np

__all__ = ["l2_normalize"]


def l2_normalize(v: np.ndarray, axis=-1) -> np.ndarray:
    """``v`` divided by its L2 norm along ``axis`` (zero vectors stay zero)."""
    return v / np.maximum(np.linalg.norm(v, axis=axis, keepdims=True), 1e-12)
