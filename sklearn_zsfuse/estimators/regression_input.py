"""What a fused regressor is given: ``[zero-shot attribute scores | embedding]`` and ratings, checked once.

The zero-shot block's columns are named by dimension: by the scorer's record
(:class:`~sklearn_zsfuse.ALMAttributeScorer`'s output carries its dimensions through
a numpy ``FeatureUnion``, :mod:`.zero_shot_columns`), by a pandas union's
``zs__<dimension>`` names, or by ``zero_shot_dimensions``; the regressor reads
the column of its own ``dimension`` by that name. A plain array with none of
these has ``n_zero_shot`` leading columns (1 by default), and the dimension is
the first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.utils.validation import _check_sample_weight, validate_data

from .fusion_input import _zero_shot_names
from .zero_shot_columns import zero_shot_blocks

__all__ = ["RegressionInput", "check_regression_fit_input", "check_regression_predict_input"]


@dataclass(frozen=True)
class RegressionInput:
    """``fit``'s checked input: ``X``'s zero-shot block, its names (None: unknown) and y's column in it."""

    X: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray | None
    n_zero_shot: int
    zero_shot_dimensions: tuple | None
    column: int


def _recorded(blocks) -> list | None:
    """The dimensions the scorer recorded for ``X``'s leading columns, or None without a record."""
    if not blocks:
        return None
    spans = ", ".join(f"{start}:{stop}" for start, stop, _ in blocks)
    if len(blocks) > 1 or blocks[0][0] != 0:
        raise ValueError(f"X's zero-shot scores are columns {spans}; the fused regressor reads one block, the first "
                         "columns: put one ALMAttributeScorer first in the FeatureUnion, e.g. "
                         "FeatureUnion([('zs', scorer), ('fm', embedder)]).")
    return [str(d) for d in blocks[0][2]]


def _names(estimator, n_features, feature_names, blocks) -> tuple[int, tuple | None]:
    """``(n_zero_shot, names)`` of the leading block: ``zero_shot_dimensions``, the record, the names, or a count."""
    count = estimator.n_zero_shot
    recorded = _recorded(blocks)
    named = _zero_shot_names(feature_names, n_features)
    given = None if estimator.zero_shot_dimensions is None else [str(d) for d in estimator.zero_shot_dimensions]
    if given is not None:
        if not given or len(set(given)) != len(given):
            raise ValueError(f"zero_shot_dimensions must name each zero-shot column once, got {given}.")
        for seen, where in ((recorded, "score the scorer's dimensions"), (named, "are named")):
            if seen is not None and seen != given:
                raise ValueError(f"zero_shot_dimensions={given} but X's zero-shot columns {where} {seen}: they must "
                                 "list the same dimensions in the same order.")
        found = given
    else:
        found = recorded if recorded is not None else named
    if found is not None:
        if count != "auto" and int(count) != len(found):
            raise ValueError(f"n_zero_shot={count} but X's zero-shot columns are {found}; leave n_zero_shot='auto'.")
        return len(found), tuple(found)
    return (1 if count == "auto" else int(count)), None


def _column(estimator, names, n_zero_shot) -> int:
    dimension = estimator.dimension
    if dimension is None:
        if n_zero_shot == 1:
            return 0
        if names is None:
            raise ValueError(f"X's first {n_zero_shot} columns are zero-shot scores without names: name them with "
                             "zero_shot_dimensions=[...] and say which one y rates with dimension=...")
        raise ValueError(f"X's zero-shot columns score {list(names)}: say which one y rates with dimension=... "
                         f"(e.g. dimension={names[0]!r}).")
    if names is None:
        if n_zero_shot == 1:
            return 0
        raise ValueError(f"dimension={dimension!r} but X's {n_zero_shot} zero-shot columns carry no names: pass "
                         "zero_shot_dimensions=[...] (the scorer's dimensions_, in column order).")
    if dimension not in names:
        raise ValueError(f"dimension={dimension!r} is not among X's zero-shot columns {list(names)}.")
    return names.index(dimension)


def check_regression_fit_input(estimator, X, y, sample_weight=None) -> RegressionInput:
    """Validate ``fit(X, y, sample_weight)`` of a fused regressor (sets ``n_features_in_`` etc. on it)."""
    blocks = zero_shot_blocks(X)  # read before validation makes X a plain array
    X, y = validate_data(estimator, X, y, y_numeric=True)
    y = np.asarray(y, dtype=np.float64)
    if sample_weight is not None:
        sample_weight = _check_sample_weight(sample_weight, X)
        if np.any(sample_weight < 0):
            raise ValueError(f"sample_weight must be >= 0; it is negative at position(s) "
                             f"{np.flatnonzero(sample_weight < 0)[:10].tolist()}.")
    n_zero_shot, names = _names(estimator, X.shape[1], getattr(estimator, "feature_names_in_", None), blocks)
    if X.shape[1] <= n_zero_shot:
        raise ValueError(
            f"X has {X.shape[1]} feature(s) but the first {n_zero_shot} are zero-shot scores: no embedding columns "
            "are left for the regressor. Pass [zero-shot scores | embedding], e.g. from a FeatureUnion of "
            "ALMAttributeScorer and FMEmbedder."
        )
    return RegressionInput(X, y, sample_weight, n_zero_shot, names, _column(estimator, names, n_zero_shot))


def check_regression_predict_input(estimator, X, fitted):
    """``X`` validated against what ``estimator`` saw at fit; its recorded dimensions must be ``fitted``'s."""
    blocks = zero_shot_blocks(X)
    names = fitted.zero_shot_dimensions_
    if blocks and (len(blocks) != 1 or blocks[0][:2] != (0, fitted.n_zero_shot_)
                   or (names is not None and tuple(str(d) for d in blocks[0][2]) != names)):
        seen = "; ".join(f"columns {start}:{stop} score {list(dims)}" for start, stop, dims in blocks)
        known = f"{list(names)}" if names is not None else "(unnamed)"
        raise ValueError(f"X's zero-shot scores do not match what {type(estimator).__name__} was fitted on: {seen}, "
                         f"but it was fitted on the first {fitted.n_zero_shot_} columns {known}. The scorer was "
                         "refitted with other dimensions after the regressor: refit the whole pipeline.")
    return validate_data(estimator, X, reset=False)
