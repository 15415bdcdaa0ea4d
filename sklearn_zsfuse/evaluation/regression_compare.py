"""Is one attribute predictor's CCC gain over another more than noise? A paired bootstrap over the same clips.

Both systems predicted every test clip, so the comparison is paired clip by
clip: clips are resampled with replacement (the same resample for both
systems), the CCC of each recomputed on it, and the percentile interval of the
difference reported. The CCC is that of the pooled test clips (not the mean over
folds), as the categorical comparison pools UA.

The bootstrap draws from its own ``numpy.random.Generator`` seeded by ``seed``:
the same inputs give the same interval, and the global RNG is never touched.
"""

from __future__ import annotations

import numpy as np

from .paired_bootstrap import check_paired, percentile_interval
from .regression_metrics import concordance_cc

__all__ = ["paired_ccc_comparison"]

_BATCH = 64  # resamples per vectorised step: bounds memory at 64 x n_clips indices


def _ccc_rows(t, p):
    """CCC of each row of ``t`` against the same row of ``p`` (population moments)."""
    mt, mp = t.mean(axis=1, keepdims=True), p.mean(axis=1, keepdims=True)
    vt, vp = ((t - mt) ** 2).mean(axis=1), ((p - mp) ** 2).mean(axis=1)
    cov = ((t - mt) * (p - mp)).mean(axis=1)
    denominator = vt + vp + (mt[:, 0] - mp[:, 0]) ** 2
    return np.where(denominator > 0, 2 * cov / np.where(denominator > 0, denominator, 1.0), 1.0)


def paired_ccc_comparison(y_true, pred_a, pred_b, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """System A against system B on the same clips, by CCC.

    Returns ``{"ccc_a", "ccc_b", "ccc_diff", "ci_low", "ci_high", "level", "n_boot",
    "seed", "n_clips"}``: CCC over all clips pooled, and the bootstrap percentile
    interval of ``ccc_a - ccc_b`` at ``level`` (clips resampled with replacement).
    """
    y_true, pred_a, pred_b = (np.asarray(v, dtype=np.float64).ravel() for v in (y_true, pred_a, pred_b))
    check_paired("paired_ccc_comparison", y_true, pred_a, pred_b, level=level, n_boot=n_boot)
    ccc_a, ccc_b = concordance_cc(y_true, pred_a), concordance_cc(y_true, pred_b)
    rng = np.random.default_rng(seed)
    n = len(y_true)
    diffs = np.empty(int(n_boot))
    for start in range(0, int(n_boot), _BATCH):
        stop = min(start + _BATCH, int(n_boot))
        idx = rng.integers(0, n, (stop - start, n))
        t = y_true[idx]
        diffs[start:stop] = _ccc_rows(t, pred_a[idx]) - _ccc_rows(t, pred_b[idx])
    return {
        "ccc_a": ccc_a,
        "ccc_b": ccc_b,
        "ccc_diff": ccc_a - ccc_b,
        **percentile_interval(diffs, level=level, n_boot=n_boot, seed=seed, n_clips=n),
    }
