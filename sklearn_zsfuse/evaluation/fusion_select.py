"""The fusion rows: each variant fitted on a fold's training clips, its settings chosen by inner CV.

- ``zs_fuse``: weighted fusion of raw zero-shot logits, the weight chosen;
- ``zs_fuse+calibrated``: weighted fusion of temperature-scaled logits (the
  temperature fitted on the fitting clips by log-loss), the weight chosen;
- ``zs_fuse+concat``: the scores concatenated with the embedding, the
  normalisation (column standardisation or per-clip layer norm) chosen.

The choice is :func:`sklearn_zsfuse.estimators.fusion_selection.select_fusion`, the function
:class:`~sklearn_zsfuse.estimators.fusion_cv.LateFusionClassifierCV` makes its choice
with: given the same training clips and inner splits, the protocol and the
estimator choose the same fusion.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..estimators.fusion import LateFusionClassifier
from ..estimators.fusion_selection import fusion_candidates, select_fusion
from .metrics import unweighted_accuracy

__all__ = ["FUSION_VARIANTS", "FittedFusion", "fit_fusion", "variant_candidates"]

FUSION_VARIANTS = ("zs_fuse", "zs_fuse+calibrated", "zs_fuse+concat")


def variant_candidates(name: str, grid) -> list:
    """The :class:`LateFusionClassifier` settings inner CV chooses from for fusion row ``name``."""
    if name == "zs_fuse":
        return fusion_candidates(("weighted",), grid.weights, (None,))
    if name == "zs_fuse+calibrated":
        return fusion_candidates(("weighted",), grid.weights, ("fit",))
    if name == "zs_fuse+concat":
        return fusion_candidates(("concat",), normalizations=("standard", "layer"))
    raise ValueError(f"Unknown fusion row {name!r}; choose one of {list(FUSION_VARIANTS)}.")


def local_splits(train: np.ndarray, splits: list) -> list:
    """Inner splits as positions within ``train`` (what a CV estimator fitted on ``X[train]`` is given)."""
    return [(np.searchsorted(train, a), np.searchsorted(train, b)) for a, b in splits]


@dataclass
class FittedFusion:
    """A fusion model fitted on the training clips, with the settings inner CV chose."""

    model: LateFusionClassifier
    params: dict
    candidates: list = field(default_factory=list)
    inner_ua: list = field(default_factory=list)  # mean over inner splits, per candidate

    def diagnostics(self, X_test, y_test) -> dict:
        """What chose the settings (inner UA per candidate) and, for weighted fusion, each weight's test UA.

        The test UA is a diagnostic only (it is plotted, never used to choose).
        """
        out = {"candidates": self.candidates, "inner_ua_all": self.inner_ua, "chosen_params": self.params}
        if self.params["method"] != "weighted":
            return out
        chosen = self.model.weight
        weights = [c["weight"] for c in self.candidates]
        test_ua = [unweighted_accuracy(y_test, self.model.set_params(weight=w).predict(X_test)) for w in weights]
        self.model.set_params(weight=chosen)
        return {**out, "weights": weights, "inner_ua": self.inner_ua, "test_ua": test_ua, "chosen": chosen}


def fit_fusion(name, X, labels, fold, classes, grid, base) -> FittedFusion:
    """Fit fusion row ``name`` on ``fold.train`` of ``X = [zero-shot logits | embedding]``.

    Its settings are chosen on ``fold.splits`` by :func:`select_fusion` (UA, the
    earliest candidate on ties: the smaller weight, raw logits, standardisation).
    """
    train = fold.train
    n = len(classes)
    candidates = variant_candidates(name, grid)
    selection = select_fusion(
        X[train, :n], X[train, n:], labels[train], local_splits(train, fold.splits), candidates, classifier=base,
        scoring="balanced_accuracy", zero_shot_classes=list(classes),
    )
    params = selection.best_params
    model = LateFusionClassifier(classifier=base, n_zero_shot=n, zero_shot_classes=list(classes), **params)
    model.fit(X[train], labels[train])
    chosen = dict(params)
    if params.get("temperature") == "fit":
        chosen["temperature"] = float(model.temperature_)
    return FittedFusion(model, chosen, candidates, selection.mean_scores.tolist())
