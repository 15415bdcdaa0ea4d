"""Label checks shared by the classifiers: labels at score time that fit never saw."""

from __future__ import annotations

import warnings

import numpy as np


def warn_unseen_labels(estimator, y, hint: str) -> None:
    """Warn (once per call) when ``y`` holds labels outside ``classes_``: they can only count as errors."""
    y = np.asarray(y).ravel()
    known = set(np.asarray(estimator.classes_).tolist())
    unseen = sorted({v for v in y.tolist() if v not in known}, key=str)
    if not unseen:
        return
    n_clips = sum(v not in known for v in y.tolist())
    warnings.warn(
        f"{type(estimator).__name__}.score: y holds label(s) {unseen} that are not in classes_ "
        f"{list(np.asarray(estimator.classes_).tolist())}, so its {n_clips} clip(s) with them count "
        f"as errors. {hint}",
        UserWarning,
        stacklevel=3,
    )
