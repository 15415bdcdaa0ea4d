"""Is one system's gain over another more than noise? A paired comparison over the same test clips.

Both systems predicted every test clip, so the comparison is paired clip by clip:

- a bootstrap interval of the UA difference: clips are resampled with
  replacement (within each class, so every resample holds every class as the
  corpus does and UA stays defined), UA of both systems recomputed on each
  resample;
- McNemar's exact test on the clips exactly one of the two gets right
  (two-sided binomial test with p = 1/2).

The bootstrap draws from its own ``numpy.random.Generator`` seeded by ``seed``:
the same inputs give the same interval, and the global RNG is never touched.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest

from .paired_bootstrap import check_paired, percentile_interval

__all__ = ["paired_comparison"]


def _ua(correct: np.ndarray, codes: np.ndarray, n_classes: int) -> float:
    hits = np.bincount(codes, weights=correct, minlength=n_classes)
    totals = np.bincount(codes, minlength=n_classes)
    present = totals > 0
    return float(np.mean(hits[present] / totals[present]))


def paired_comparison(y_true, pred_a, pred_b, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """System A against system B on the same clips.

    Returns ``{"ua_a", "ua_b", "ua_diff", "ci_low", "ci_high", "level", "n_boot", "seed",
    "n_clips", "a_only", "b_only", "mcnemar_p"}``: UA over all clips pooled (not the
    mean over folds), the bootstrap percentile interval of ``ua_a - ua_b`` at
    ``level``, the number of clips only A (only B) gets right, and McNemar's exact
    two-sided p-value.
    """
    y_true, pred_a, pred_b = (np.asarray(v, dtype=object) for v in (y_true, pred_a, pred_b))
    check_paired("paired_comparison", y_true, pred_a, pred_b, level=level, n_boot=n_boot)
    classes, codes = np.unique(y_true.astype(str), return_inverse=True)
    right_a = (pred_a == y_true).astype(float)
    right_b = (pred_b == y_true).astype(float)
    k = len(classes)
    ua_a, ua_b = _ua(right_a, codes, k), _ua(right_b, codes, k)
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(codes == c) for c in range(k)]
    diffs = np.empty(int(n_boot))
    for b in range(int(n_boot)):
        idx = np.concatenate([m[rng.integers(0, len(m), len(m))] for m in members])
        diffs[b] = _ua(right_a[idx], codes[idx], k) - _ua(right_b[idx], codes[idx], k)
    a_only = int(np.sum((right_a == 1) & (right_b == 0)))
    b_only = int(np.sum((right_a == 0) & (right_b == 1)))
    p = 1.0 if a_only + b_only == 0 else float(binomtest(a_only, a_only + b_only, 0.5).pvalue)
    return {
        "ua_a": ua_a,
        "ua_b": ua_b,
        "ua_diff": ua_a - ua_b,
        **percentile_interval(diffs, level=level, n_boot=n_boot, seed=seed, n_clips=len(y_true)),
        "a_only": a_only,
        "b_only": b_only,
        "mcnemar_p": p,
    }
