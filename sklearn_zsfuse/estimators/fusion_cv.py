"""LateFusionClassifierCV: late fusion that chooses its own method, weight and temperature by inner CV.

The selection itself is a plain function, :func:`select_fusion`, on arrays and
explicit splits, so the evaluation protocol can make exactly the same choice on
the same folds as the estimator does.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.metrics import get_scorer, get_scorer_names
from sklearn.model_selection import check_cv
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from .fusion import (
    LateFusionClassifier,
    default_classifier,
    fuse_probabilities,
    resolve_zero_shot,
)
from .label_checks import warn_unseen_labels

__all__ = ["FusionSelection", "LateFusionClassifierCV", "fusion_candidates", "select_fusion"]

_METHODS = ("weighted", "concat")
_NORMALIZATIONS = ("standard", "layer")


def _check_temperature(t):
    if t is None or t == "fit":
        return t
    if isinstance(t, Real) and not isinstance(t, bool) and t > 0:
        return float(t)
    raise ValueError(f"temperatures must hold None, 'fit' or floats > 0, got {t!r}.")


def fusion_candidates(
    methods=_METHODS, weights=(0.0, 0.25, 0.5, 0.75, 1.0), temperatures=(None, "fit"), normalizations=("standard",)
) -> list[dict]:
    """The candidate fusions, each a dict of :class:`LateFusionClassifier` parameters.

    "weighted" gives one candidate per (temperature, weight), temperatures outer;
    "concat" one per normalisation (the temperature and the weight do not change
    a concat fusion, so they are not varied for it). The order is the tie-break
    order of :func:`select_fusion`: on equal scores the earliest candidate wins,
    so with the default grid the specialist (weight 0) and raw logits are
    preferred to a change that buys nothing.
    """
    methods, weights = list(methods), list(weights)
    temperatures, normalizations = list(temperatures), list(normalizations)
    if not methods or set(methods) - set(_METHODS):
        raise ValueError(f"methods must be a non-empty list of {list(_METHODS)}, got {methods!r}.")
    if "weighted" in methods:
        if not weights or any(not isinstance(w, Real) or isinstance(w, bool) or not 0 <= w <= 1 for w in weights):
            raise ValueError(f"weights must be a non-empty list of numbers in [0, 1], got {weights!r}.")
        if not temperatures:
            raise ValueError("temperatures must hold at least one of None, 'fit' or a float > 0.")
    if "concat" in methods and (not normalizations or set(normalizations) - set(_NORMALIZATIONS)):
        raise ValueError(f"normalizations must be a non-empty list of {list(_NORMALIZATIONS)}, got {normalizations!r}.")
    out = []
    for method in dict.fromkeys(methods):
        if method == "weighted":
            for t in dict.fromkeys(_check_temperature(t) for t in temperatures):
                out += [{"method": "weighted", "weight": float(w), "temperature": t} for w in dict.fromkeys(weights)]
        else:
            out += [{"method": "concat", "normalize": n} for n in dict.fromkeys(normalizations)]
    return out


@dataclass(frozen=True)
class FusionSelection:
    """What :func:`select_fusion` measured: ``scores[i, j]`` is candidate j's score on split i."""

    candidates: list
    scores: np.ndarray

    @property
    def mean_scores(self) -> np.ndarray:
        return self.scores.mean(axis=0)

    @property
    def best_index(self) -> int:
        """The candidate with the best mean score; the earliest one on ties."""
        return int(np.argmax(self.mean_scores))

    @property
    def best_params(self) -> dict:
        return dict(self.candidates[self.best_index])


class _FixedProbabilities(ClassifierMixin, BaseEstimator):
    """A 'classifier' that returns given probabilities, so any scikit-learn scorer can score them."""

    def __init__(self, classes, proba):
        self.classes = classes
        self.proba = proba

    def fit(self, X=None, y=None):  # pragma: no cover - never fitted, only scored
        return self

    def predict_proba(self, X):
        return self.proba

    def predict(self, X):
        return self.classes_[np.argmax(self.proba, axis=1)]

    @property
    def classes_(self):
        return self.classes


def _scorer(scoring):
    return get_scorer(scoring) if isinstance(scoring, str) else scoring


def select_fusion(
    zs,
    emb,
    y,
    splits,
    candidates,
    *,
    classifier=None,
    space="probability",
    scoring="balanced_accuracy",
    zero_shot_classes=None,
    sample_weight=None,
) -> FusionSelection:
    """Score every candidate fusion on every split; the choice of :class:`LateFusionClassifierCV`.

    Parameters
    ----------
    zs : array of shape (n_clips, n_zero_shot)
        Zero-shot logits, one column per label of ``zero_shot_classes``.
    emb : array of shape (n_clips, n_features)
        The specialist's embeddings.
    y : array of shape (n_clips,)
    splits : list of (fit_rows, validation_rows)
        Index arrays into the clips, e.g. ``list(GroupKFold(5).split(zs, y, speakers))``.
        Only these rows are used: give the training clips of an outer fold only.
    candidates : list of dict
        :class:`LateFusionClassifier` parameters, e.g. from :func:`fusion_candidates`.
    classifier, space : as in :class:`LateFusionClassifier`.
    scoring : str or callable, default="balanced_accuracy"
        A scikit-learn scorer name or ``scorer(estimator, X, y)``.
        "balanced_accuracy" is UA.
    zero_shot_classes : labels of the ``zs`` columns, or None for ``y``'s classes
        in sorted order (when there are as many). Give them whenever a split's
        fitting part may lack a class.
    sample_weight : array of shape (n_clips,) or None
        Passed to every fit and to the scorer.

    Returns
    -------
    FusionSelection
        ``.scores`` (n_splits, n_candidates), ``.mean_scores``, ``.best_index``,
        ``.best_params`` (the earliest best on ties).

    The specialist's classifier is fitted once per split for all weighted
    candidates (the weight and the temperature only change how its
    probabilities are mixed with the zero-shot ones; a fitted temperature is
    fitted once per split on that split's fitting rows), and once per split for
    each concat normalisation. Each score equals that of a
    ``LateFusionClassifier(**candidate)`` fitted on the fitting rows.
    """
    zs, emb, y = np.asarray(zs), np.asarray(emb), np.asarray(y)
    if zero_shot_classes is None and zs.shape[1] == len(np.unique(y)):
        zero_shot_classes = np.unique(y)
    scorer = _scorer(scoring)
    common = dict(space=space, classifier=classifier, n_zero_shot=zs.shape[1], zero_shot_classes=zero_shot_classes)
    X = np.hstack([zs, emb])
    weighted = [j for j, c in enumerate(candidates) if c["method"] == "weighted"]
    scores = np.full((len(splits), len(candidates)), np.nan)

    def score(classes, proba, rows):
        kwargs = {} if sample_weight is None else {"sample_weight": np.asarray(sample_weight)[rows]}
        return scorer(_FixedProbabilities(classes, proba), X[rows], y[rows], **kwargs)

    for i, (fit_rows, val_rows) in enumerate(splits):
        fit_rows, val_rows = np.asarray(fit_rows), np.asarray(val_rows)
        fit_weight = None if sample_weight is None else np.asarray(sample_weight)[fit_rows]
        if weighted:
            wants_fit = any(candidates[j].get("temperature") == "fit" for j in weighted)
            est = LateFusionClassifier("weighted", 0.0, temperature="fit" if wants_fit else None, **common)
            est.fit(X[fit_rows], y[fit_rows], sample_weight=fit_weight)
            p_fm = est.predict_proba(X[val_rows])  # weight 0: the classifier alone
            p_zs = {}
            for j in weighted:
                t, w = candidates[j].get("temperature"), candidates[j]["weight"]
                t = est.temperature_ if t == "fit" else 1.0 if t is None else float(t)
                if w > 0 and t not in p_zs:
                    p_zs[t] = est._zero_shot_proba(zs[val_rows], t)
                proba = fuse_probabilities(p_zs.get(t), p_fm, w, space)
                scores[i, j] = score(est.classes_, proba, val_rows)
        for j, c in enumerate(candidates):
            if c["method"] == "concat":
                est = LateFusionClassifier("concat", normalize=c.get("normalize", "standard"), **common)
                est.fit(X[fit_rows], y[fit_rows], sample_weight=fit_weight)
                scores[i, j] = score(est.classes_, est.predict_proba(X[val_rows]), val_rows)
    return FusionSelection(candidates=[dict(c) for c in candidates], scores=scores)


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
    }

    def __init__(
        self,
        methods=_METHODS,
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

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, groups=None, sample_weight=None):
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        y_classes = np.unique(y)
        if len(y_classes) < 2:
            raise ValueError(
                f"y holds a single class, {y_classes.tolist()[0]!r} ({len(y)} samples): the fusion "
                "classifier needs at least two classes to train."
            )
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
            if np.any(sample_weight < 0):  # a negative weight turns a loss term into a reward
                raise ValueError(f"sample_weight must be >= 0; it is negative at position(s) "
                                 f"{np.flatnonzero(sample_weight < 0)[:10].tolist()}.")
        candidates = fusion_candidates(self.methods, self.weights, self.temperatures, self.normalizations)
        n_zs, labels = resolve_zero_shot(self, X.shape[1], y_classes, getattr(self, "feature_names_in_", None))
        if X.shape[1] <= n_zs:
            raise ValueError(
                f"X has {X.shape[1]} feature(s) but the first {n_zs} are zero-shot scores: no embedding "
                "columns are left for the classifier."
            )
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
            scoring=self.scoring, zero_shot_classes=labels, sample_weight=sample_weight,
        )
        self.cv_results_ = _cv_results(selection)
        self.best_params_ = selection.best_params
        self.best_score_ = float(selection.mean_scores[selection.best_index])
        self.best_estimator_ = LateFusionClassifier(
            space=self.space, classifier=self.classifier, n_zero_shot=n_zs, zero_shot_classes=labels,
            **self.best_params_,
        ).fit(X, y, sample_weight=sample_weight)
        self.classes_ = self.best_estimator_.classes_
        return self

    def _best(self, X):
        """``X`` checked against what fit saw (before ``best_estimator_`` is touched, for NotFittedError)."""
        check_is_fitted(self)
        return validate_data(self, X, reset=False)

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


def _cv_results(selection: FusionSelection) -> dict:
    candidates, scores = selection.candidates, selection.scores
    results = {"params": [dict(c) for c in candidates]}
    for key in ("method", "weight", "temperature", "normalize"):
        values = np.empty(len(candidates), dtype=object)
        values[:] = [c.get(key) for c in candidates]
        results[f"param_{key}"] = np.ma.MaskedArray(values, mask=[key not in c for c in candidates])
    for i, row in enumerate(scores):
        results[f"split{i}_test_score"] = row
    results["mean_test_score"] = scores.mean(axis=0)
    results["std_test_score"] = scores.std(axis=0)
    results["rank_test_score"] = rankdata(-scores.mean(axis=0), method="min").astype(np.int32)
    return results
