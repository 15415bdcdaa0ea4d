"""The fusion rows: each fitted on a fold's training clips, its settings chosen by inner CV.

Each fusion row of the systems table (:mod:`.systems`) says which
:class:`LateFusionClassifier` settings inner CV chooses from (its
``candidates``): for the paper's rows, the weight of a fusion of raw or
temperature-scaled logits, or the normalisation of the scores concatenated
with the embedding.

The choice is :func:`sklearn_zsfuse.estimators.fusion_selection.select_fusion`, the function
:class:`~sklearn_zsfuse.estimators.fusion_cv.LateFusionClassifierCV` makes its choice
with: given the same training clips and inner splits, the protocol and the
estimator choose the same fusion.
"""

from __future__ import annotations

import numpy as np

from ..estimators.fusion import LateFusionClassifier
from ..estimators.fusion_selection import select_fusion
from .fitted_fusion import FittedSelection
from .metrics import unweighted_accuracy

__all__ = ["FittedFusion", "fit_fusion", "joined_rows", "local_splits"]


def local_splits(train: np.ndarray, splits: list) -> list:
    """Inner splits as positions within ``train`` (what a CV estimator fitted on ``X[train]`` is given)."""
    return [(np.searchsorted(train, a), np.searchsorted(train, b)) for a, b in splits]


def joined_rows(zero_shot, embeddings, rows) -> np.ndarray:
    """``[zero-shot logits | embedding]`` of ``rows`` (a sweep's stored layer is read once, then dropped)."""
    embeddings = np.asarray(embeddings)
    return np.hstack([zero_shot[rows], embeddings[rows]])


class FittedFusion(FittedSelection):
    """A fusion classifier fitted on the training clips, with the settings inner CV chose (by UA)."""

    metric = "ua"

    def test_scores(self, weights, X_test, y_test) -> list:
        chosen = self.model.weight
        scores = [unweighted_accuracy(y_test, self.model.set_params(weight=w).predict(X_test)) for w in weights]
        self.model.set_params(weight=chosen)
        return scores


def fit_fusion(system, X_train, y_train, splits, classes, grid, base, n_threads=None) -> FittedFusion:
    """Fit fusion row ``system`` (a :class:`~.systems.System`) on a fold's training clips.

    ``X_train`` is ``[zero-shot logits | embedding]`` of those clips only, ``y_train``
    their labels, ``splits`` the inner splits as positions in them (:func:`local_splits`):
    the protocol never holds the joined matrix of every clip.

    Its settings are chosen on ``splits`` by :func:`select_fusion` (UA, the
    earliest candidate on ties: the smaller weight, raw logits, standardisation).
    ``n_threads``: the fusion's BLAS/OpenMP threads (:mod:`sklearn_zsfuse.estimators.threads`).
    """
    n = len(classes)
    candidates = system.candidates(grid)
    selection = select_fusion(
        X_train[:, :n], X_train[:, n:], y_train, splits, candidates, classifier=base,
        scoring="balanced_accuracy", zero_shot_classes=list(classes), n_threads=n_threads,
    )
    params = selection.best_params
    model = LateFusionClassifier(classifier=base, n_zero_shot=n, zero_shot_classes=list(classes), n_threads=n_threads,
                                 **params)
    model.fit(X_train, y_train)
    chosen = dict(params)
    if params.get("temperature") == "fit":
        chosen["temperature"] = float(model.temperature_)
    return FittedFusion(model, chosen, candidates, selection.mean_scores.tolist())
