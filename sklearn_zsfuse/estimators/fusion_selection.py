"""The choice of fusion by inner splits: candidate fusions, each scored on every split.

A plain function, :func:`select_fusion`, on arrays and explicit splits, so the
evaluation protocol makes exactly the same choice on the same folds as
:class:`~sklearn_zsfuse.LateFusionClassifierCV` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real

import numpy as np
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import get_scorer, make_scorer

from ..arrays import mean_recall
from ..reporting.progress import progress_bar
from .fusion import LateFusionClassifier
from .fusion_proba import fuse_probabilities, zero_shot_probabilities

__all__ = ["METHODS", "NORMALIZATIONS", "FusionSelection", "cv_results", "fusion_candidates", "select_fusion"]

METHODS = ("weighted", "concat")
NORMALIZATIONS = ("standard", "layer")


def _check_temperature(t):
    if t is None or t == "fit":
        return t
    if isinstance(t, Real) and not isinstance(t, bool) and t > 0:
        return float(t)
    raise ValueError(f"temperatures must hold None, 'fit' or floats > 0, got {t!r}.")


def fusion_candidates(
    methods=METHODS, weights=(0.0, 0.25, 0.5, 0.75, 1.0), temperatures=(None, "fit"), normalizations=("standard",)
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
    if not methods or set(methods) - set(METHODS):
        raise ValueError(f"methods must be a non-empty list of {list(METHODS)}, got {methods!r}.")
    if "weighted" in methods:
        if not weights or any(not isinstance(w, Real) or isinstance(w, bool) or not 0 <= w <= 1 for w in weights):
            raise ValueError(f"weights must be a non-empty list of numbers in [0, 1], got {weights!r}.")
        if not temperatures:
            raise ValueError("temperatures must hold at least one of None, 'fit' or a float > 0.")
    if "concat" in methods and (not normalizations or set(normalizations) - set(NORMALIZATIONS)):
        raise ValueError(f"normalizations must be a non-empty list of {list(NORMALIZATIONS)}, got {normalizations!r}.")
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
    if scoring == "balanced_accuracy":  # the same score, without a warning for a class a split lacks
        return make_scorer(mean_recall)
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
    n_threads=None,
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
    n_threads : as in :class:`LateFusionClassifier`, for every fit and prediction.

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
    common = dict(space=space, classifier=classifier, n_zero_shot=zs.shape[1], zero_shot_classes=zero_shot_classes,
                  n_threads=n_threads)
    weighted = [j for j, c in enumerate(candidates) if c["method"] == "weighted"]
    scores = np.full((len(splits), len(candidates)), np.nan)

    def joined(rows):  # [zs | emb] of these rows only: the whole joined matrix is never held
        return np.hstack([zs[rows], emb[rows]])

    def score(classes, proba, rows, X_rows):
        kwargs = {} if sample_weight is None else {"sample_weight": np.asarray(sample_weight)[rows]}
        return scorer(_FixedProbabilities(classes, proba), X_rows, y[rows], **kwargs)

    bar = progress_bar(len(splits), "inner CV", unit="split", detail=True)  # shown inside a zsfuse run only
    for i, (fit_rows, val_rows) in enumerate(splits):
        fit_rows, val_rows = np.asarray(fit_rows), np.asarray(val_rows)
        fit_weight = None if sample_weight is None else np.asarray(sample_weight)[fit_rows]
        X_fit, X_val = joined(fit_rows), joined(val_rows)
        if weighted:
            wants_fit = any(candidates[j].get("temperature") == "fit" for j in weighted)
            est = LateFusionClassifier("weighted", 0.0, temperature="fit" if wants_fit else None, **common)
            est.fit(X_fit, y[fit_rows], sample_weight=fit_weight)
            p_fm = est.predict_proba(X_val)  # weight 0: the classifier alone
            p_zs = {}
            for j in weighted:
                t, w = candidates[j].get("temperature"), candidates[j]["weight"]
                t = est.temperature_ if t == "fit" else 1.0 if t is None else float(t)
                if w > 0 and t not in p_zs:
                    p_zs[t] = zero_shot_probabilities(zs[val_rows], est.zero_shot_classes_, est.classes_, t)
                proba = fuse_probabilities(p_zs.get(t), p_fm, w, space)
                scores[i, j] = score(est.classes_, proba, val_rows, X_val)
        for j, c in enumerate(candidates):
            if c["method"] == "concat":
                est = LateFusionClassifier("concat", normalize=c.get("normalize", "standard"), **common)
                est.fit(X_fit, y[fit_rows], sample_weight=fit_weight)
                scores[i, j] = score(est.classes_, est.predict_proba(X_val), val_rows, X_val)
        del X_fit, X_val
        bar.update()
    bar.close()
    return FusionSelection(candidates=[dict(c) for c in candidates], scores=scores)


def cv_results(selection: FusionSelection, keys=("method", "weight", "temperature", "normalize")) -> dict:
    """``selection`` as ``GridSearchCV.cv_results_`` lays it out (``param_<name>`` masked where it does not apply).

    ``keys``: the candidates' parameters, one ``param_<key>`` column each.
    """
    candidates, scores = selection.candidates, selection.scores
    results = {"params": [dict(c) for c in candidates]}
    for key in keys:
        values = np.empty(len(candidates), dtype=object)
        values[:] = [c.get(key) for c in candidates]
        results[f"param_{key}"] = np.ma.MaskedArray(values, mask=[key not in c for c in candidates])
    for i, row in enumerate(scores):
        results[f"split{i}_test_score"] = row
    results["mean_test_score"] = scores.mean(axis=0)
    results["std_test_score"] = scores.std(axis=0)
    results["rank_test_score"] = rankdata(-scores.mean(axis=0), method="min").astype(np.int32)
    return results
