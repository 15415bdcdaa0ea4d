"""Temperature scaling of zero-shot logits: one number that makes CLAP's softmax honest.

CLAP multiplies cosine similarities by a learned scale near 100, so its softmax is
close to one-hot and over-confident (the ZS-Fuse paper names over-confidence as the
known weakness of ALMs). Dividing the logits by a temperature ``T`` keeps the ranking
of the classes (the zero-shot predictions do not change) and only spreads the
probabilities; ``T`` is chosen by log-loss on labelled clips (Guo et al., 2017,
"On Calibration of Modern Neural Networks").
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp

__all__ = ["TEMPERATURE_BOUNDS", "fit_temperature", "temperature_log_loss"]

# The search range for T. Over-confident CLAP logits want T of 10-100; a zero-shot
# branch that is right on every training clip drives T towards 0, so the range is
# bounded and the optimum clipped to it.
TEMPERATURE_BOUNDS = (1e-3, 1e4)


def _true_columns(y, classes) -> np.ndarray:
    index = {c: i for i, c in enumerate(np.asarray(classes).tolist())}
    y = np.asarray(y).ravel()
    unknown = sorted({v for v in y.tolist() if v not in index}, key=str)
    if unknown:
        raise ValueError(
            f"y holds label(s) {unknown} that are not among the logits' classes "
            f"{list(np.asarray(classes).tolist())}: a temperature is fitted by the log-loss of the "
            "true class, so every label needs a column."
        )
    return np.fromiter((index[v] for v in y.tolist()), dtype=np.intp, count=len(y))


def temperature_log_loss(logits, y, classes, temperature, sample_weight=None) -> float:
    """Mean (weighted) log-loss of ``softmax(logits / temperature)`` on labels ``y``."""
    logits = np.asarray(logits, dtype=np.float64)
    cols = _true_columns(y, classes)
    z = logits / float(temperature)
    nll = logsumexp(z, axis=1) - z[np.arange(len(cols)), cols]
    return float(np.average(nll, weights=sample_weight))


def fit_temperature(logits, y, classes, sample_weight=None) -> float:
    """The temperature ``T`` that minimises the log-loss of ``softmax(logits / T)`` on ``y``.

    Parameters
    ----------
    logits : array of shape (n_clips, n_classes)
        Zero-shot scores (the output of :class:`ALMZeroShotScorer`), one column per
        label in ``classes``.
    y : array of shape (n_clips,)
        True labels; each must be in ``classes``.
    classes : sequence of labels
        The label of each column of ``logits``, in order.
    sample_weight : array of shape (n_clips,) or None
        A clip of weight k counts as k clips.

    Returns
    -------
    float
        ``T`` in :data:`TEMPERATURE_BOUNDS`. The log-loss is convex in ``1/T``, so a
        bounded one-dimensional search over ``log T`` finds the minimum.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[1] != len(classes):
        raise ValueError(
            f"logits must have one column per class: got shape {logits.shape} for {len(classes)} classes."
        )
    if len(logits) != len(np.asarray(y).ravel()):
        raise ValueError(f"logits has {len(logits)} rows but y has {len(np.asarray(y).ravel())} labels.")
    if len(logits) == 0:
        raise ValueError("fit_temperature needs at least one labelled clip.")
    cols = _true_columns(y, classes)
    rows = np.arange(len(cols))
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)

    def loss(log_t):
        z = logits / np.exp(log_t)
        return float(np.average(logsumexp(z, axis=1) - z[rows, cols], weights=weights))

    lo, hi = np.log(TEMPERATURE_BOUNDS[0]), np.log(TEMPERATURE_BOUNDS[1])
    result = minimize_scalar(loss, bounds=(lo, hi), method="bounded", options={"xatol": 1e-6})
    return float(np.exp(result.x))
