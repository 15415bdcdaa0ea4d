"""The zero-shot rows' choice: (N_a, N_t) by inner CV and the temperature, on a fold's training clips.

Zero-shot learns nothing, so inner CV scores each (N_a, N_t) on the validation
clips of the inner splits only; the temperature is fitted by log-loss on the
training clips. The protocol makes the choice on every outer fold, and
:func:`~sklearn_zsfuse.evaluation.select_final` on all clips; the zero-shot rows
of the systems table are read from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..estimators.calibration import fit_temperature
from .features import ZeroShotFeatures
from .metrics import unweighted_accuracy

__all__ = ["ZeroShotChoice", "argmax_labels", "choose_zero_shot", "zero_shot_inner_ua"]


def argmax_labels(classes, scores):
    return classes[np.argmax(scores, axis=1)]


def zero_shot_inner_ua(logits, labels, classes, splits) -> float:
    """Mean UA over the validation folds: zero-shot learns nothing, so only validation rows matter."""
    return float(np.mean([unweighted_accuracy(labels[val], argmax_labels(classes, logits[val])) for _, val in splits]))


def _select(candidates: list, scores: list) -> object:
    """The candidate with the best score; the earliest one on ties."""
    return candidates[int(np.argmax(scores))]


@dataclass(frozen=True)
class ZeroShotChoice:
    """An ALM's logits on every clip and what inner CV chose on one fold's training clips.

    The zero-shot rows are read from it (each system's ``scores``); the fusion
    rows fuse ``amplified``.
    """

    features: ZeroShotFeatures
    audio_repeats: int
    text_repeats: int
    temperature: float  # fitted on the training clips (log-loss) to the amplified ensemble's logits
    candidates: list  # the (N_a, N_t) inner CV chose from ...
    inner_ua: list  # ... and their mean UA over the inner splits

    @property
    def single(self) -> np.ndarray:
        return self.features.single

    @property
    def ensemble(self) -> np.ndarray:
        return self.features.ensemble[(1, 1)]

    @property
    def amplified(self) -> np.ndarray:
        return self.features.ensemble[(self.audio_repeats, self.text_repeats)]

    @property
    def params(self) -> dict:
        return {"templates": "ensemble", "audio_repeats": self.audio_repeats, "text_repeats": self.text_repeats}


def choose_zero_shot(features: ZeroShotFeatures, labels, classes, fold, configs: list) -> ZeroShotChoice:
    """(N_a, N_t) by inner CV on ``fold.splits`` among ``configs``, and the temperature on ``fold.train``."""
    inner = [zero_shot_inner_ua(features.ensemble[c], labels, classes, fold.splits) for c in configs]
    n_a, n_t = _select(configs, inner)
    amplified = features.ensemble[(n_a, n_t)]
    temperature = fit_temperature(amplified[fold.train], labels[fold.train], classes)
    return ZeroShotChoice(features, n_a, n_t, temperature, list(configs), inner)
