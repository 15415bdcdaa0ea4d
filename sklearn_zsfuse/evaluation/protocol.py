"""The protocol: learning, selection and scoring fold by fold on precomputed features.

For each test fold, every choice ((N_a, N_t), the fusion weight) is made by an
inner cross-validation on the *training* clips only; the test fold is then
predicted once per system.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GroupKFold, StratifiedKFold

from ..fusion import LateFusionClassifier, default_classifier
from ..metrics import confusion, score_all, unweighted_accuracy
from .features import Features
from .grid import Grid
from .results import SYSTEMS, Evaluation, SystemResult

__all__ = ["inner_splits", "run_protocol", "select_final"]

_MAX_INNER_FOLDS = 5


def inner_splits(train: np.ndarray, folds, speakers, labels, development=None) -> list:
    """Validation splits of the training clips ``train`` (global indices) for model selection.

    In order of preference: the corpus's official development set; the other
    test folds (leave one training fold out); speaker-grouped folds; label-
    stratified folds. Every index returned lies in ``train``.
    """
    train = np.asarray(train)
    folds, speakers, labels = np.asarray(folds), np.asarray(speakers), np.asarray(labels)
    if development is not None:
        dev = np.asarray(development, dtype=bool)[train]
        if dev.any() and (~dev).any():
            return [(train[~dev], train[dev])]
    train_folds = folds[train]
    ids = np.unique(train_folds[train_folds >= 0])
    if len(ids) >= 2:
        return [(train[train_folds != k], train[train_folds == k]) for k in ids]
    groups = speakers[train]
    n_groups = len(np.unique(groups))
    if n_groups >= 2:
        splitter = GroupKFold(n_splits=min(_MAX_INNER_FOLDS, n_groups))
        return [(train[a], train[b]) for a, b in splitter.split(train, labels[train], groups)]
    counts = np.unique(labels[train], return_counts=True)[1]
    k = min(_MAX_INNER_FOLDS, int(counts.min()))
    if k < 2:
        raise ValueError(
            "Cannot select hyper-parameters: the training clips have a single speaker and a class with "
            "one clip, so no validation split exists."
        )
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=0)
    return [(train[a], train[b]) for a, b in splitter.split(train, labels[train])]


def _argmax_labels(classes, scores):
    return classes[np.argmax(scores, axis=1)]


def _zero_shot_inner_ua(logits, labels, classes, splits) -> float:
    """Mean UA over the validation folds: zero-shot learns nothing, so only validation rows matter."""
    return float(np.mean([unweighted_accuracy(labels[val], _argmax_labels(classes, logits[val])) for _, val in splits]))


def _select(candidates: list, scores: list) -> object:
    """The candidate with the best score; the earliest one on ties."""
    return candidates[int(np.argmax(scores))]


def run_protocol(
    features: Features,
    labels,
    folds,
    speakers,
    *,
    classes=None,
    grid: Grid = Grid(),
    development=None,
    classifier=None,
    dataset="corpus",
    log: Callable[[str], None] | None = None,
) -> Evaluation:
    """Learn, select and score every system fold by fold on precomputed ``features``.

    ``folds[i]`` is clip i's test fold (``-1``: training only). For each test
    fold k the training clips are all others; selections use
    :func:`inner_splits` of the training clips only.
    """
    labels = np.asarray(labels, dtype=object)
    folds = np.asarray(folds)
    speakers = np.asarray(speakers, dtype=object)
    classes = np.unique(labels) if classes is None else np.asarray(classes, dtype=object)
    base = default_classifier() if classifier is None else classifier
    log = log or (lambda message: None)
    n = len(labels)
    has_fm = features.embeddings is not None
    has_zs = features.zero_shot is not None
    names = [s for s in SYSTEMS if (s == "specialist" and has_fm) or (s.startswith("zero_shot") and has_zs)
             or (s == "zs_fuse" and has_fm and has_zs)]
    predictions = {s: np.full(n, None, dtype=object) for s in names}
    per_fold = {s: [] for s in names}
    amplification_configs = [c for c in grid.amplifications if c in features.ensemble] if has_zs else []
    selection = {"amplification": [], "weight": []}

    for k in np.unique(folds[folds >= 0]):
        test = np.flatnonzero(folds == k)
        train = np.flatnonzero(folds != k)
        splits = inner_splits(train, folds, speakers, labels, development)
        log(f"fold {int(k)}: {len(train)} training clips, {len(test)} test clips, {len(splits)} inner splits")
        params = {}
        if has_fm and not has_zs:
            spec = clone(base).fit(features.embeddings[train], labels[train])
            predictions["specialist"][test] = spec.predict(features.embeddings[test])
            params["specialist"] = {}
        if has_zs:
            predictions["zero_shot"][test] = _argmax_labels(classes, features.zero_shot[test])
            predictions["zero_shot+ensemble"][test] = _argmax_labels(classes, features.ensemble[(1, 1)][test])
            params["zero_shot"] = {"templates": "single", "audio_repeats": 1, "text_repeats": 1}
            params["zero_shot+ensemble"] = {"templates": "ensemble", "audio_repeats": 1, "text_repeats": 1}
            inner = [_zero_shot_inner_ua(features.ensemble[c], labels, classes, splits) for c in amplification_configs]
            chosen = _select(amplification_configs, inner)
            test_ua = [
                unweighted_accuracy(labels[test], _argmax_labels(classes, features.ensemble[c][test]))
                for c in amplification_configs
            ]
            selection["amplification"].append({
                "fold": int(k),
                "candidates": [list(c) for c in amplification_configs],
                "inner_ua": inner,
                "test_ua": test_ua,
                "chosen": list(chosen),
            })
            zs = features.ensemble[chosen]
            predictions["zero_shot+ensemble+amplification"][test] = _argmax_labels(classes, zs[test])
            params["zero_shot+ensemble+amplification"] = {
                "templates": "ensemble", "audio_repeats": chosen[0], "text_repeats": chosen[1]
            }
        if has_fm and has_zs:
            weight, inner_w = _select_weight(zs, features.embeddings, labels, splits, grid.weights, base)
            # One fit serves three systems: the fused model's classifier is the specialist
            # (weight 0 returns its probabilities unchanged), and every weight's test UA is a
            # diagnostic read from the same fit.
            _require_all_classes(labels, train, len(classes), f"the training part of fold {int(k)}")
            fused = LateFusionClassifier(method="weighted", classifier=base)
            fused.fit(np.hstack([zs[train], features.embeddings[train]]), labels[train])
            X_test = np.hstack([zs[test], features.embeddings[test]])
            predictions["specialist"][test] = fused.set_params(weight=0.0).predict(X_test)
            test_w = [unweighted_accuracy(labels[test], fused.set_params(weight=w).predict(X_test)) for w in grid.weights]
            predictions["zs_fuse"][test] = fused.set_params(weight=weight).predict(X_test)
            params["specialist"] = {}
            params["zs_fuse"] = {**params["zero_shot+ensemble+amplification"], "weight": weight}
            selection["weight"].append({
                "fold": int(k), "weights": list(grid.weights), "inner_ua": inner_w, "test_ua": test_w, "chosen": weight
            })
        for s in names:
            y_true, y_pred = labels[test], predictions[s][test]
            per_fold[s].append({
                "fold": int(k),
                "n": int(len(test)),
                **score_all(y_true, y_pred),
                "params": params[s],
                "confusion_matrix": confusion(y_true, y_pred, classes).tolist(),
            })
    systems = {s: SystemResult(s, predictions[s], per_fold[s]) for s in names}
    return Evaluation(dataset=dataset, classes=classes, systems=systems, selection=selection)


def _require_all_classes(labels, rows, n_classes, where):
    """Weighted fusion lines zero-shot columns up with the classifier's classes: all must be seen."""
    missing = sorted(set(np.unique(labels)) - set(np.unique(labels[rows])), key=str)
    if missing:
        raise ValueError(
            f"{where} has no clip of class(es) {missing}, so ZS-Fuse's classifier cannot be trained on all "
            f"{n_classes} classes there. Use folds whose training part holds every class (e.g. a fold column "
            "in metadata.csv), or leave out the rare classes."
        )


def _select_weight(zs, emb, labels, splits, weights, base):
    """The fusion weight with the best mean inner-CV UA, and that UA for every weight.

    The specialist's classifier does not depend on the weight, so it is fitted
    once per inner split and every weight is scored from the same fit.
    """
    inner = np.zeros((len(splits), len(weights)))
    for i, (fit_rows, val_rows) in enumerate(splits):
        _require_all_classes(labels, fit_rows, zs.shape[1], f"inner split {i + 1} of the training clips")
        est = LateFusionClassifier(method="weighted", classifier=base).fit(
            np.hstack([zs[fit_rows], emb[fit_rows]]), labels[fit_rows]
        )
        X_val = np.hstack([zs[val_rows], emb[val_rows]])
        for j, w in enumerate(weights):
            inner[i, j] = unweighted_accuracy(labels[val_rows], est.set_params(weight=w).predict(X_val))
    mean_inner = inner.mean(axis=0).tolist()
    return float(_select(list(weights), mean_inner)), mean_inner


def select_final(features: Features, labels, folds, speakers, *, classes=None, grid: Grid = Grid(),
                 development=None, classifier=None) -> dict:
    """(N_a, N_t) and the fusion weight for a model trained on *all* clips.

    The same inner CV as in :func:`run_protocol`, over every clip (for corpora
    whose clips all have a test fold, this is the outer folds themselves).
    """
    labels = np.asarray(labels, dtype=object)
    classes = np.unique(labels) if classes is None else np.asarray(classes, dtype=object)
    base = default_classifier() if classifier is None else classifier
    everything = np.arange(len(labels))
    splits = inner_splits(everything, folds, speakers, labels, development)
    chosen = {}
    if features.zero_shot is not None:
        configs = [c for c in grid.amplifications if c in features.ensemble]
        inner = [_zero_shot_inner_ua(features.ensemble[c], labels, classes, splits) for c in configs]
        chosen["audio_repeats"], chosen["text_repeats"] = _select(configs, inner)
        if features.embeddings is not None:
            zs = features.ensemble[(chosen["audio_repeats"], chosen["text_repeats"])]
            chosen["weight"], _ = _select_weight(zs, features.embeddings, labels, splits, grid.weights, base)
    return chosen
