"""Label checks shared by the estimators: missing or mixed-type labels at fit, labels at score time fit never saw."""

from __future__ import annotations

import warnings

import numpy as np

from ..arrays import has_str


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


def check_labels(y, name: str = "y") -> None:
    """The checks every estimator that takes labels runs on them, before anything converts them.

    No missing label (:func:`check_no_missing_labels`), and one type for all:
    strings and numbers cannot be sorted together, nor told apart once numpy turns
    a list ``['angry', 1]`` into the strings ``['angry', '1']``.
    """
    if y is None:
        return
    check_no_missing_labels(y, name)
    values = np.asarray(y, dtype=object).ravel().tolist()
    if len({isinstance(v, str) for v in values}) > 1:
        raise ValueError(
            f"Mix of label input types (strings and numbers) in {name}: {values[:6]}; use one type "
            "for all labels."
        )


def check_no_missing_labels(y, name: str = "y") -> None:
    """Refuse NaN/None/pd.NA labels, naming their positions: unchecked, they become a class "nan".

    ``y=None`` itself is left to the caller's own check (a zero-shot scorer needs no ``y``).
    """
    if y is None:
        return
    values = np.asarray(y, dtype=object).ravel().tolist()
    missing = [i for i, v in enumerate(values) if _is_missing(v)]
    if not missing:
        return
    shown = ", ".join(map(str, missing[:20])) + (", ..." if len(missing) > 20 else "")
    raise ValueError(
        f"{name} has no label (NaN or None) at position(s) [{shown}] ({len(missing)} of "
        f"{len(values)}). Every clip needs a label: drop these clips (e.g. "
        "df.dropna(subset=['label'])) or fill their labels in."
    )


def _is_missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return value != value
    return type(value).__name__ in ("NAType", "NaTType")  # pandas' missing markers


def scored_classes(classes, y) -> np.ndarray:
    """The labels a zero-shot scorer scores: ``classes`` (sorted, unique) when given, else ``y``'s.

    Every label of ``y`` must be among ``classes``; both are checked (:func:`check_labels`).
    """
    check_labels(y)
    if classes is not None:
        check_labels(classes, "classes")
        scored = np.unique(np.asarray(classes, dtype=object if has_str(classes) else None))
        if len(scored) < 1:
            raise ValueError("classes must hold at least one label.")
        if y is not None:
            unknown = sorted(set(np.unique(y).tolist()) - set(scored.tolist()), key=str)
            if unknown:
                raise ValueError(f"y holds labels {unknown} that are not in classes={list(scored)}.")
        return scored
    if y is None:
        raise ValueError("ALMZeroShotScorer needs the labels to score: pass y to fit, or set classes=[...].")
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}.")
    return np.unique(y)
