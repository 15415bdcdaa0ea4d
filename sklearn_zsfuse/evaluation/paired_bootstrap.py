"""What both paired comparisons (UA and CCC) share: the checks of their inputs and the percentile interval.

:func:`~sklearn_zsfuse.evaluation.paired_comparison` and
:func:`~sklearn_zsfuse.evaluation.paired_ccc_comparison` differ in the metric and in
how they resample; they check their arguments and report the interval of the
differences the same way.
"""

from __future__ import annotations

import numpy as np

__all__ = ["check_paired", "percentile_interval"]


def check_paired(caller: str, y_true, pred_a, pred_b, *, level, n_boot) -> None:
    """One clear error for arguments a paired comparison cannot use."""
    if not len(y_true) == len(pred_a) == len(pred_b):
        raise ValueError(f"y_true, pred_a and pred_b differ in length: {len(y_true)}, {len(pred_a)}, {len(pred_b)}.")
    if len(y_true) == 0:
        raise ValueError(f"{caller} needs at least one clip.")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}.")
    if isinstance(n_boot, bool) or int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"n_boot must be a whole number >= 1, got {n_boot!r}.")


def percentile_interval(diffs: np.ndarray, *, level: float, n_boot: int, seed, n_clips: int) -> dict:
    """The bootstrap percentile interval of ``diffs`` at ``level``, with what it was drawn from."""
    tail = (1 - level) / 2
    return {
        "ci_low": float(np.quantile(diffs, tail)),
        "ci_high": float(np.quantile(diffs, 1 - tail)),
        "level": level,
        "n_boot": int(n_boot),
        "seed": seed,
        "n_clips": int(n_clips),
    }
