"""LateFusionRegressorCV: a fused regressor that chooses its own method and weight by inner CV."""

from __future__ import annotations

import warnings
from numbers import Integral

from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.model_selection import check_cv
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.validation import check_is_fitted

from .fusion_cv import _uses_groups
from .fusion_regression import LateFusionRegressor, default_regressor
from .fusion_regression_selection import REGRESSION_METHODS, regression_fusion_candidates, select_regression_fusion
from .fusion_selection import cv_results
from .regression_input import check_regression_fit_input, check_regression_predict_input

__all__ = ["LateFusionRegressorCV"]


class LateFusionRegressorCV(RegressorMixin, BaseEstimator):
    """A fused regressor that chooses its method and weight by inner cross-validation.

    As :class:`~sklearn_zsfuse.LateFusionClassifierCV` for categories: ``fit``
    splits the clips it is given with ``cv``, scores every candidate of
    :func:`~sklearn_zsfuse.estimators.fusion_regression_selection.regression_fusion_candidates`
    on the validation parts by CCC
    (:func:`~sklearn_zsfuse.estimators.fusion_regression_selection.select_regression_fusion`,
    the choice the dimensional evaluation makes too), then refits the best
    :class:`LateFusionRegressor` on all of them. Nothing outside the clips given to
    ``fit`` is seen, so an outer ``cross_validate`` keeps its test fold unseen.

    Parameters
    ----------
    methods : sequence of {"weighted", "concat"}, default=("weighted", "concat")
    weights : sequence of floats in [0, 1], default=(0, .25, .5, .75, 1)
        Zero-shot shares tried for "weighted".
    regressor, n_zero_shot, zero_shot_dimensions, dimension :
        As in :class:`LateFusionRegressor`, shared by every candidate.
    cv : int, splitter or iterable, default=5
        Inner splits; an int means ``KFold``. For speaker-independent selection pass
        ``GroupKFold`` and the speakers as ``groups``.
    scoring : str or callable, default="ccc"
        What the selection maximises: ``"ccc"``, ``"pearson"``, ``"mae"`` (negated), any
        scikit-learn scorer name, or a callable scorer.

    Attributes
    ----------
    best_params_, best_score_, cv_results_, best_estimator_, n_splits_, n_features_in_ :
        As in :class:`~sklearn_zsfuse.LateFusionClassifierCV`.

    Notes
    -----
    ``fit(X, y, groups=None, sample_weight=None)``: ``groups`` go to the splitter (a
    warning if it does not use them); ``sample_weight`` to every fit and to the scorer.
    """

    _parameter_constraints = {
        "methods": ["array-like"],
        "weights": ["array-like"],
        "regressor": [HasMethods(["fit", "predict"]), None],
        "cv": ["cv_object"],
        "scoring": [str, callable],
        "n_zero_shot": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "zero_shot_dimensions": ["array-like", None],
        "dimension": [str, None],
    }

    def __init__(self, methods=REGRESSION_METHODS, weights=(0.0, 0.25, 0.5, 0.75, 1.0), *, regressor=None, cv=5,
                 scoring="ccc", n_zero_shot="auto", zero_shot_dimensions=None, dimension=None):
        self.methods = methods
        self.weights = weights
        self.regressor = regressor
        self.cv = cv
        self.scoring = scoring
        self.n_zero_shot = n_zero_shot
        self.zero_shot_dimensions = zero_shot_dimensions
        self.dimension = dimension

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, groups=None, sample_weight=None):
        data = check_regression_fit_input(self, X, y, sample_weight)
        X, y, sample_weight = data.X, data.y, data.sample_weight
        candidates = regression_fusion_candidates(self.methods, self.weights)
        splitter = check_cv(self.cv, y, classifier=False)
        if _routing_enabled():
            split_params = process_routing(self, "fit", groups=groups, sample_weight=sample_weight).splitter.split
        else:
            split_params = {"groups": groups}
        if groups is not None and not _uses_groups(splitter):
            warnings.warn(
                f"groups were given but cv={self.cv!r} ({type(splitter).__name__}) does not use them, so clips of "
                "one group (speaker) can fall on both sides of an inner split. Pass a group-aware splitter, "
                "e.g. cv=GroupKFold(5).",
                UserWarning,
                stacklevel=2,
            )
        splits = list(splitter.split(X, y, **split_params))
        self.n_splits_ = len(splits)
        n = data.n_zero_shot
        selection = select_regression_fusion(X[:, data.column], X[:, n:], y, splits, candidates,
                                             regressor=self.regressor, scoring=self.scoring,
                                             sample_weight=sample_weight)
        self.cv_results_ = cv_results(selection, keys=("method", "weight"))
        self.best_params_ = selection.best_params
        self.best_score_ = float(selection.mean_scores[selection.best_index])
        self.best_estimator_ = LateFusionRegressor(
            regressor=self.regressor, n_zero_shot=n, zero_shot_dimensions=data.zero_shot_dimensions,
            dimension=None if data.zero_shot_dimensions is None else data.zero_shot_dimensions[data.column],
            **self.best_params_,
        ).fit(X, y, sample_weight=sample_weight)
        return self

    def _best(self, X):
        """``X`` checked against what fit saw (before ``best_estimator_`` is touched, for NotFittedError)."""
        check_is_fitted(self)
        return check_regression_predict_input(self, X, self.best_estimator_)

    def predict(self, X):
        X = self._best(X)
        return self.best_estimator_.predict(X)

    def zero_shot_predict(self, X):
        """The zero-shot branch of the chosen fusion: the score through its fitted line."""
        X = self._best(X)
        return self.best_estimator_.zero_shot_predict(X)

    def get_metadata_routing(self):
        """``groups`` go to the splitter's ``split``; ``sample_weight`` is used here and by the regressor."""
        regressor = default_regressor() if self.regressor is None else self.regressor
        return (
            MetadataRouter(owner=self)
            .add_self_request(self)
            .add(splitter=check_cv(self.cv), method_mapping=MethodMapping().add(caller="fit", callee="split"))
            .add(regressor=regressor, method_mapping=MethodMapping().add(caller="fit", callee="fit"))
        )
