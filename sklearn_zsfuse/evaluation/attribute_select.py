"""A dimensional evaluation's choices on one fold's training clips: (N_a, N_t), the line, the fusion.

As for categories (:mod:`.zero_shot_select`, :mod:`.fusion_select`), with CCC for UA:

- (N_a, N_t) by inner CV: each candidate's scores, mapped onto the corpus's scale
  (no learning: ``low + score * (high - low)``), scored by CCC on the validation
  clips of the inner splits only;
- the line that maps the chosen score onto the ratings, fitted on the training
  clips (least squares), the ``zero_shot+rescaled`` row;
- each fusion row's :class:`~sklearn_zsfuse.LateFusionRegressor` settings by
  :func:`~sklearn_zsfuse.estimators.fusion_regression_selection.select_regression_fusion`
  on the inner splits, the choice :class:`~sklearn_zsfuse.LateFusionRegressorCV` makes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import clone

from ..estimators.fusion_regression import LateFusionRegressor, fit_linear_map
from ..estimators.fusion_regression_selection import select_regression_fusion
from .attribute_features import AttributeFeatures
from .fitted_fusion import FittedSelection
from .fusion_select import local_splits
from .regression_metrics import concordance_cc

__all__ = ["AttributeChoice", "FittedRegression", "choose_attribute", "fit_regression_fusion", "on_scale"]


def on_scale(scores, scale) -> np.ndarray:
    """Scores in [0, 1] placed on the scale ``(low, high)``: ``low + score * (high - low)``."""
    low, high = scale
    return low + np.asarray(scores, dtype=np.float64) * (high - low)


@dataclass(frozen=True)
class AttributeChoice:
    """One ALM's scores of one dimension and what inner CV chose on one fold's training clips.

    The zero-shot rows read it (each system's ``scores``, on the corpus's scale);
    the fusion rows fuse ``raw`` (the chosen scores in [0, 1]).
    """

    features: AttributeFeatures
    column: int  # the dimension's column in the scores
    scale: tuple  # (low, high) of the corpus's ratings
    audio_repeats: int
    text_repeats: int
    line: tuple  # (a, b): ratings ~ a * score + b on the training clips
    candidates: list
    inner_ccc: list

    @property
    def raw(self) -> np.ndarray:
        return self.features.ensemble[(self.audio_repeats, self.text_repeats)][:, self.column]

    @property
    def single(self) -> np.ndarray:
        return on_scale(self.features.single[:, self.column], self.scale)

    @property
    def ensemble(self) -> np.ndarray:
        return on_scale(self.features.ensemble[(1, 1)][:, self.column], self.scale)

    @property
    def amplified(self) -> np.ndarray:
        return on_scale(self.raw, self.scale)

    @property
    def rescaled(self) -> np.ndarray:
        a, b = self.line
        return a * self.raw + b

    @property
    def params(self) -> dict:
        return {"templates": "ensemble", "audio_repeats": self.audio_repeats, "text_repeats": self.text_repeats}


def choose_attribute(features: AttributeFeatures, column: int, scale, ratings, fold, configs: list) -> AttributeChoice:
    """(N_a, N_t) by inner CCC on ``fold.splits`` among ``configs``, and the line on ``fold.train``."""
    ratings = np.asarray(ratings, dtype=np.float64)
    inner = []
    for c in configs:
        mapped = on_scale(features.ensemble[c][:, column], scale)
        inner.append(float(np.mean([concordance_cc(ratings[val], mapped[val]) for _, val in fold.splits])))
    n_a, n_t = configs[int(np.argmax(inner))]  # the earliest on ties
    raw = features.ensemble[(n_a, n_t)][:, column]
    line = fit_linear_map(raw[fold.train], ratings[fold.train])
    return AttributeChoice(features, column, tuple(scale), n_a, n_t, line, list(configs), inner)


class FittedRegression(FittedSelection):
    """A fused regressor fitted on a fold's training clips, with the settings inner CV chose (by CCC)."""

    metric = "ccc"

    def test_scores(self, weights, X, ratings, fold) -> list:
        test, y = fold.test, np.asarray(ratings, dtype=np.float64)[fold.test]
        zero_shot = self.model.zero_shot_predict(X[test])
        if self.model.regressor_ is None:  # weight 1 chosen: the specialist branch was never trained
            branch = clone(self.model).set_params(weight=0.0).fit(X[fold.train], ratings[fold.train]).regressor_
        else:
            branch = self.model.regressor_  # "weighted" trains it on the embedding alone
        specialist = np.asarray(branch.predict(X[test, self.model.n_zero_shot_:]), dtype=np.float64)
        return [concordance_cc(y, w * zero_shot + (1 - w) * specialist) for w in weights]


def fit_regression_fusion(system, X, ratings, fold, grid, base) -> FittedRegression:
    """Fit fusion row ``system`` on ``fold.train`` of ``X`` = ``[score of the dimension | embedding]``.

    Its settings are chosen on ``fold.splits`` by
    :func:`~sklearn_zsfuse.estimators.fusion_regression_selection.select_regression_fusion`
    (CCC; the earliest candidate on ties: the smaller weight).
    """
    train = fold.train
    ratings = np.asarray(ratings, dtype=np.float64)
    candidates = system.candidates(grid)
    selection = select_regression_fusion(X[train, :1], X[train, 1:], ratings[train], local_splits(train, fold.splits),
                                         candidates, regressor=base, scoring="ccc")
    params = selection.best_params
    model = LateFusionRegressor(regressor=base, n_zero_shot=1, **params).fit(X[train], ratings[train])
    return FittedRegression(model, dict(params), candidates, selection.mean_scores.tolist())
