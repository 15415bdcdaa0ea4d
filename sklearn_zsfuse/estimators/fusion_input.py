"""What a fusion is given: ``[zero-shot scores | embedding]`` and labels, checked once for both fusion estimators.

:class:`~sklearn_zsfuse.LateFusionClassifier` and
:class:`~sklearn_zsfuse.LateFusionClassifierCV` validate their input here, so
they refuse the same mistakes with the same messages, and resolve here which
leading columns of ``X`` are zero-shot scores of which class: from
``zero_shot_classes``, from the scorer's own record of its classes
(:class:`~.zero_shot_columns.ZeroShotColumns`, numpy output) or from pandas column
names (``zs__<class>``); ``y``'s classes are only a last guess, for plain arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, validate_data

from ..arrays import has_str, label_array
from .label_checks import check_labels
from .zero_shot_columns import zero_shot_blocks

__all__ = ["FusionInput", "check_fit_input", "check_predict_input", "class_union", "resolve_zero_shot"]


@dataclass(frozen=True)
class FusionInput:
    """``fit``'s checked input and the resolved zero-shot block (``zero_shot_classes`` None: unknown)."""

    X: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray | None
    y_classes: np.ndarray
    n_zero_shot: int
    zero_shot_classes: np.ndarray | None


def check_fit_input(estimator, X, y, sample_weight=None) -> FusionInput:
    """Validate ``fit(X, y, sample_weight)`` of a fusion estimator (sets ``n_features_in_`` etc. on it)."""
    check_labels(y)
    blocks = zero_shot_blocks(X)  # read before validation makes X a plain array
    X, y = validate_data(estimator, X, y)
    check_classification_targets(y)
    y_classes = np.unique(y)
    if len(y_classes) < 2:
        raise ValueError(
            f"y holds a single class, {y_classes.tolist()[0]!r} ({len(y)} samples): the fusion "
            "classifier needs at least two classes to train. In cross-validation this means a "
            "training fold holds only this class; use a stratified splitter (StratifiedKFold, "
            "StratifiedGroupKFold) or check how the folds are made."
        )
    if sample_weight is not None:
        sample_weight = _check_sample_weight(sample_weight, X)
        if np.any(sample_weight < 0):  # a negative weight turns a loss term into a reward
            raise ValueError(f"sample_weight must be >= 0; it is negative at position(s) "
                             f"{np.flatnonzero(sample_weight < 0)[:10].tolist()}.")
    n_zero_shot, labels = resolve_zero_shot(
        estimator, X.shape[1], y_classes, getattr(estimator, "feature_names_in_", None), blocks
    )
    if X.shape[1] <= n_zero_shot:
        raise ValueError(
            f"X has {X.shape[1]} feature(s) but the first {n_zero_shot} are zero-shot "
            "scores: no embedding columns are left for the classifier. Pass "
            "[zero-shot scores | embedding], e.g. from a FeatureUnion of ALMZeroShotScorer "
            "and FMEmbedder."
        )
    return FusionInput(X, y, sample_weight, y_classes, n_zero_shot, labels)


def check_predict_input(estimator, X, fusion):
    """``X`` validated against what ``estimator`` saw at fit; ``fusion`` is the fitted LateFusionClassifier.

    Where ``X`` says which classes its zero-shot columns score, they must be those
    the fusion was fitted on: a scorer refitted with other classes is refused rather
    than read by position.
    """
    blocks = zero_shot_blocks(X)
    fitted = fusion.zero_shot_classes_
    if blocks and (
        len(blocks) != 1
        or blocks[0][:2] != (0, fusion.n_zero_shot_)
        or (fitted is not None and list(blocks[0][2]) != fitted.tolist())
    ):
        seen = "; ".join(f"columns {start}:{stop} score {list(classes)}" for start, stop, classes in blocks)
        known = f"of classes {fitted.tolist()}" if fitted is not None else "(classes unknown)"
        raise ValueError(
            f"X's zero-shot scores do not match what {type(estimator).__name__} was fitted on: {seen}, but it "
            f"was fitted on the first {fusion.n_zero_shot_} columns {known}. The scorer was refitted with other "
            "classes after the fusion: refit the whole pipeline."
        )
    return validate_data(estimator, X, reset=False)


def _scored_classes(blocks):
    """The classes of ``X``'s zero-shot columns as the scorer recorded them (a list), or None without a record."""
    if not blocks:
        return None
    spans = ", ".join(f"{start}:{stop}" for start, stop, _ in blocks)
    if len(blocks) > 1:
        raise ValueError(
            f"X holds {len(blocks)} blocks of zero-shot scores (columns {spans}); the fusion takes one, in the "
            "first columns: put one ALMZeroShotScorer in the FeatureUnion, first."
        )
    if blocks[0][0] != 0:
        raise ValueError(
            f"X's zero-shot scores are columns {spans}, but the fusion reads them from the first columns: list "
            "the scorer first in the FeatureUnion, e.g. FeatureUnion([('zs', scorer), ('fm', embedder)])."
        )
    return list(blocks[0][2])


def _zero_shot_names(feature_names, n_features):
    """Labels of the leading zero-shot block read from FeatureUnion-style names, or None.

    A ``FeatureUnion([("zs", scorer), ("fm", embedder)])`` with
    ``set_output(transform="pandas")`` names its columns ``zs__<class>`` then
    ``fm__<feature>``: the leading run of columns sharing the first column's prefix
    is the zero-shot block and the rest of each name is its class.
    """
    if feature_names is None:
        return None
    names = [str(n) for n in feature_names]
    prefix, sep, _ = names[0].partition("__")
    if not sep:
        return None
    block = []
    for name in names:
        if not name.startswith(prefix + "__"):
            break
        block.append(name[len(prefix) + 2 :])
    return block if 0 < len(block) < n_features else None


def resolve_zero_shot(estimator, n_features, y_classes, feature_names=None, blocks=()):
    """``(n_zero_shot, labels)`` of ``X``'s leading zero-shot columns; ``labels`` is None when unknown.

    In order: ``zero_shot_classes``; the scorer's record of its classes
    (``blocks``, from :func:`~.zero_shot_columns.zero_shot_blocks`); the union's
    feature names (``zs__<class>``); else ``n_zero_shot`` columns that are ``y``'s
    classes in sorted order when there are as many (``"auto"``), unknown otherwise.
    Where two of the first three are there, they must agree.
    """
    count = estimator.n_zero_shot
    scored = _scored_classes(blocks)
    names = _zero_shot_names(feature_names, n_features)
    if estimator.zero_shot_classes is not None:
        labels = label_array(estimator.zero_shot_classes)
        if labels.ndim != 1 or len(labels) < 1:
            raise ValueError("zero_shot_classes must be a non-empty 1-D list of labels, one per zero-shot column.")
        if len(set(labels.tolist())) != len(labels):
            raise ValueError(f"zero_shot_classes holds a label twice: {labels.tolist()}.")
        if count != "auto" and int(count) != len(labels):
            raise ValueError(
                f"n_zero_shot={count} but zero_shot_classes names {len(labels)} columns; give one of them "
                "or make them agree."
            )
        if names is not None and names != [str(c) for c in labels.tolist()]:
            raise ValueError(
                f"zero_shot_classes={labels.tolist()} but X's zero-shot columns are named "
                f"{names}: they must list the same classes in the same order."
            )
        if scored is not None and scored != labels.tolist():
            raise ValueError(
                f"zero_shot_classes={labels.tolist()} but X's zero-shot columns score the scorer's classes "
                f"{scored}: they must list the same classes in the same order. Leave zero_shot_classes=None "
                "and the fusion reads the scorer's classes."
            )
        return len(labels), labels
    if scored is not None:
        if count != "auto" and int(count) != len(scored):
            raise ValueError(
                f"n_zero_shot={count} but X's first {len(scored)} columns are zero-shot scores of {scored}; "
                "leave n_zero_shot='auto'."
            )
        return len(scored), label_array(scored)
    if names is not None and (count == "auto" or int(count) == len(names)):
        lookup = {str(c): c for c in np.asarray(y_classes).tolist()}
        labels = [lookup.get(name, name) for name in names]
        if has_str(labels) and not has_str(y_classes):
            raise ValueError(
                f"X's zero-shot columns are named {names}, which are not all labels of y "
                f"{np.asarray(y_classes).tolist()}; pass zero_shot_classes=[...] to say which class each is."
            )
        return len(labels), label_array(labels)
    n_classes = len(y_classes)
    n = n_classes if count == "auto" else int(count)
    return n, (np.asarray(y_classes) if n == n_classes else None)


def class_union(y_classes, labels) -> np.ndarray:
    """The fusion's ``classes_``: ``y``'s classes and the zero-shot ones, sorted."""
    if labels is None or set(labels.tolist()) <= set(np.asarray(y_classes).tolist()):
        return np.asarray(y_classes)
    if has_str(labels) != has_str(y_classes):
        raise ValueError(
            f"zero_shot_classes {labels.tolist()} and the labels of y {np.asarray(y_classes).tolist()} are of "
            "different types (text vs numbers); use the same labels in both."
        )
    return np.unique(np.concatenate([np.asarray(y_classes), labels]))
