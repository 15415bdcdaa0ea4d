"""LateFusionClassifierCV: late fusion that chooses its own method, weight and temperature by inner CV.

The selection itself is :func:`~.fusion_selection.select_fusion`, a plain
function on arrays and explicit splits, so the evaluation protocol can make
exactly the same choice on the same folds as the estimator does.
"""

from __future__ import annotations

import warnings
from numbers import Integral

from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.metrics import get_scorer_names
from sklearn.model_selection import check_cv
from sklearn.utils._param_validation import HasMethods, Interval, Options, StrOptions
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.validation import check_is_fitted

from .fusion import LateFusionClassifier
from .fusion_input import check_fit_input, check_predict_input
from .fusion_proba import default_classifier
from .fusion_selection import METHODS, cv_results, fusion_candidates, select_fusion
from .label_checks import warn_unseen_labels
from .threads import limited_threads

__all__ = ["LateFusionClassifierCV"]


def _uses_groups(splitter) -> bool:
    return splitter.get_metadata_routing().split.requests.get("groups") is True


class LateFusionClassifierCV(ClassifierMixin, BaseEstimator):
    """Late fusion that chooses method, weight, temperature and normalisation by inner cross-validation.

    Like ``LogisticRegressionCV`` chooses ``C``: ``fit`` splits the clips it is
    given with ``cv``, scores every candidate of :func:`fusion_candidates` on the
    validation parts (:func:`select_fusion`), then refits the best
    :class:`LateFusionClassifier` on all of them. Nothing outside the clips given
    to ``fit`` is seen, so inside an outer ``cross_validate`` or ``GridSearchCV``
    the outer test fold stays unseen, and a plain Pipeline tunes itself.

    Parameters
    ----------
    methods : sequence of {"weighted", "concat"}, default=("weighted", "concat")
    weights : sequence of floats in [0, 1], default=(0, .25, .5, .75, 1)
        Zero-shot shares tried for "weighted".
    temperatures : sequence of None, "fit" or floats > 0, default=(None, "fit")
        Zero-shot temperatures tried for "weighted" ("fit": fitted on each
        split's fitting clips, and on all clips for the refit).
    normalizations : sequence of {"standard", "layer"}, default=("standard",)
        Normalisations tried for "concat".
    space, classifier, n_zero_shot, zero_shot_classes :
        As in :class:`LateFusionClassifier`, shared by every candidate.
    cv : int, splitter or iterable, default=5
        Inner splits; an int means ``StratifiedKFold``. For speaker-independent
        selection pass a group-aware splitter (``GroupKFold``,
        ``StratifiedGroupKFold``) and the speakers as ``groups``.
    scoring : str or callable, default="balanced_accuracy"
        What the selection maximises; "balanced_accuracy" is UA.
    n_threads : int or None, default=None
        BLAS/OpenMP threads of every fit and prediction, as in
        :class:`LateFusionClassifier` (None: the package's choice, 1).

    Attributes
    ----------
    best_params_ : dict
        The chosen candidate's parameters.
    best_score_ : float
        Its mean validation score.
    cv_results_ : dict of arrays
        As ``GridSearchCV``'s: ``params``, ``param_<name>`` (masked where a
        parameter does not apply), ``split<i>_test_score``, ``mean_test_score``,
        ``std_test_score``, ``rank_test_score``.
    best_estimator_ : LateFusionClassifier
        The best candidate refitted on all clips given to ``fit``.
    classes_ : ndarray
    n_splits_ : int
    n_features_in_ : int

    Notes
    -----
    ``fit(X, y, groups=None, sample_weight=None)``: ``groups`` go to the splitter
    (a warning if it does not use them); ``sample_weight`` to every fit and to the
    scorer. With metadata routing enabled, request them with
    ``set_fit_request(groups=True, sample_weight=True)`` to receive them from a
    Pipeline; routing then gives ``groups`` to the splitter that requests them.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_zsfuse import LateFusionClassifierCV
    >>> rng = np.random.default_rng(0)
    >>> y = np.array(["a", "b"] * 20)
    >>> zero_shot = np.where(y[:, None] == np.array(["a", "b"]), 2.0, 0.0) + rng.normal(0, 0.1, (40, 2))
    >>> X = np.hstack([zero_shot, rng.normal(size=(40, 3))])
    >>> fusion = LateFusionClassifierCV(weights=(0.0, 1.0), cv=4, zero_shot_classes=["a", "b"]).fit(X, y)
    >>> fusion.best_params_["method"], fusion.best_score_
    ('weighted', 1.0)
    """

    _parameter_constraints = {
        "methods": ["array-like"],
        "weights": ["array-like"],
        "temperatures": ["array-like"],
        "normalizations": ["array-like"],
        "space": [StrOptions({"probability", "log"})],
        "classifier": [HasMethods(["fit", "predict_proba"]), None],
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable],
        "n_zero_shot": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "zero_shot_classes": ["array-like", None],
        "n_threads": [Interval(Integral, 1, None, closed="left"), Options(Integral, {-1}), None],
    }

    def __init__(
        self,
        methods=METHODS,
        weights=(0.0, 0.25, 0.5, 0.75, 1.0),
        temperatures=(None, "fit"),
        normalizations=("standard",),
        *,
        space="probability",
        classifier=None,
        cv=5,
        scoring="balanced_accuracy",
        n_zero_shot="auto",
        zero_shot_classes=None,
        n_threads=None,
    ):
        self.methods = methods
        self.weights = weights
        self.temperatures = temperatures
        self.normalizations = normalizations
        self.space = space
        self.classifier = classifier
        self.cv = cv
        self.scoring = scoring
        self.n_zero_shot = n_zero_shot
        self.zero_shot_classes = zero_shot_classes
        self.n_threads = n_threads

    @_fit_context(prefer_skip_nested_validation=False)
    @limited_threads
    def fit(self, X, y, groups=None, sample_weight=None):
        data = check_fit_input(self, X, y, sample_weight)
        X, y, sample_weight = data.X, data.y, data.sample_weight
        n_zs, labels = data.n_zero_shot, data.zero_shot_classes
        candidates = fusion_candidates(self.methods, self.weights, self.temperatures, self.normalizations)
        splitter = check_cv(self.cv, y, classifier=True)
        if _routing_enabled():
            split_params = process_routing(self, "fit", groups=groups, sample_weight=sample_weight).splitter.split
        else:
            split_params = {"groups": groups}
        if groups is not None and not _uses_groups(splitter):
            warnings.warn(
                f"groups were given but cv={self.cv!r} ({type(splitter).__name__}) does not use them, so clips of "
                "one group (speaker) can fall on both sides of an inner split. Pass a group-aware splitter, "
                "e.g. cv=GroupKFold(5) or StratifiedGroupKFold(5).",
                UserWarning,
                stacklevel=2,
            )
        splits = list(splitter.split(X, y, **split_params))
        self.n_splits_ = len(splits)
        selection = select_fusion(
            X[:, :n_zs], X[:, n_zs:], y, splits, candidates, classifier=self.classifier, space=self.space,
            scoring=self.scoring, zero_shot_classes=labels, sample_weight=sample_weight, n_threads=self.n_threads,
        )
        self.cv_results_ = cv_results(selection)
        self.best_params_ = selection.best_params
        self.best_score_ = float(selection.mean_scores[selection.best_index])
        self.best_estimator_ = LateFusionClassifier(
            space=self.space, classifier=self.classifier, n_zero_shot=n_zs, zero_shot_classes=labels,
            n_threads=self.n_threads, **self.best_params_,
        ).fit(X, y, sample_weight=sample_weight)
        self.classes_ = self.best_estimator_.classes_
        return self

    def _best(self, X):
        """``X`` checked against what fit saw (before ``best_estimator_`` is touched, for NotFittedError)."""
        check_is_fitted(self)
        return check_predict_input(self, X, self.best_estimator_)

    def predict_proba(self, X):
        X = self._best(X)
        return self.best_estimator_.predict_proba(X)

    def predict_log_proba(self, X):
        X = self._best(X)
        return self.best_estimator_.predict_log_proba(X)

    def predict(self, X):
        X = self._best(X)
        return self.best_estimator_.predict(X)

    def zero_shot_proba(self, X):
        """The zero-shot branch of the chosen fusion (with its temperature), in ``classes_`` columns."""
        X = self._best(X)
        return self.best_estimator_.zero_shot_proba(X)

    def score(self, X, y, sample_weight=None):
        """Accuracy on ``(X, y)``; labels not in ``classes_`` count as errors, with a warning."""
        check_is_fitted(self)
        warn_unseen_labels(self, y, "The classifier only predicts the labels it was trained on.")
        return super().score(X, y, sample_weight=sample_weight)

    def get_metadata_routing(self):
        """``groups`` go to the splitter's ``split``; ``sample_weight`` is used here and by the classifier."""
        classifier = default_classifier() if self.classifier is None else self.classifier
        return (
            MetadataRouter(owner=self)
            .add_self_request(self)
            .add(splitter=check_cv(self.cv), method_mapping=MethodMapping().add(caller="fit", callee="split"))
            .add(classifier=classifier, method_mapping=MethodMapping().add(caller="fit", callee="fit"))
        )
