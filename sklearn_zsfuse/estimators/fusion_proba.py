"""Probability fusion: the specialist's default classifier, the zero-shot branch's probabilities, their mix."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.metadata_routing import _routing_enabled

from ..arrays import softmax

__all__ = [
    "default_classifier",
    "fuse_probabilities",
    "layer_norm",
    "renormalise",
    "zero_shot_probabilities",
]

# torch.nn.LayerNorm's default epsilon: a constant row (one zero-shot column) maps to zeros.
LAYER_NORM_EPS = 1e-5


def default_classifier(class_weight=None):
    """Standardise, then multinomial logistic regression.

    With metadata routing enabled both steps request ``sample_weight``, so a clip of
    weight k counts as k clips in the standardisation and in the regression alike.
    ``class_weight`` is the regression's (``"balanced"``: every class weighs the same
    in the loss, whatever its number of clips; IEMOCAP and MSP-Podcast are imbalanced).
    """
    steps = [StandardScaler(), LogisticRegression(max_iter=2000, class_weight=class_weight)]
    if _routing_enabled():
        steps = [step.set_fit_request(sample_weight=True) for step in steps]
    return make_pipeline(*steps)


def layer_norm(v: np.ndarray) -> np.ndarray:
    """Per-row layer normalisation without learned parameters: zero mean, unit variance per clip."""
    v = np.asarray(v, dtype=np.float64)
    mean = v.mean(axis=1, keepdims=True)
    var = v.var(axis=1, keepdims=True)
    return (v - mean) / np.sqrt(var + LAYER_NORM_EPS)


def renormalise(p: np.ndarray) -> np.ndarray:
    """Rows divided by their sums, so that each sums to 1 within float64 rounding."""
    return p / p.sum(axis=1, keepdims=True)


def zero_shot_probabilities(zs, zero_shot_classes, classes, temperature) -> np.ndarray:
    """``softmax(zs / temperature)`` placed in the columns of ``classes``, float64.

    ``zs[:, j]`` is the logit of ``zero_shot_classes[j]``; every zero-shot class must
    be in ``classes``. A class without a zero-shot column gets probability 0.
    """
    index = {c: i for i, c in enumerate(np.asarray(classes).tolist())}
    columns = [index[c] for c in np.asarray(zero_shot_classes).tolist()]
    logits = np.full((len(zs), len(index)), -np.inf)
    logits[:, columns] = np.asarray(zs, dtype=np.float64) / float(temperature)
    return softmax(logits)


def fuse_probabilities(p_zs, p_fm, weight: float, space: str = "probability") -> np.ndarray:
    """``weight * p_zs + (1 - weight) * p_fm`` (or its log-space analogue), float64, rows summing to 1.

    ``space="log"`` is the weighted geometric mean, renormalised. Weights 0 and 1
    return the other branch untouched (but renormalised), so they reproduce each
    system exactly; ``p_fm`` may be None at weight 1.
    """
    w = float(weight)
    if w == 1.0:
        return renormalise(np.asarray(p_zs, dtype=np.float64))
    p_fm = np.asarray(p_fm, dtype=np.float64)
    if w == 0.0:
        return renormalise(p_fm)
    p_zs = np.asarray(p_zs, dtype=np.float64)
    if space == "log":
        tiny = np.finfo(np.float64).tiny  # a class the classifier never saw has p = 0
        logp = w * np.log(np.maximum(p_zs, tiny)) + (1 - w) * np.log(np.maximum(p_fm, tiny))
        return renormalise(softmax(logp))
    return renormalise(w * p_zs + (1 - w) * p_fm)
