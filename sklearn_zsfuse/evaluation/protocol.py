"""The protocol: learning, selection and scoring fold by fold on precomputed features.

For each test fold, every choice ((N_a, N_t), the fusion weight, method options,
the zero-shot temperature) is made on the *training* clips only, by the inner
splits of :func:`inner_splits`; the test fold is then predicted once per system.

Three kinds of run share one loop over the folds (so the inner splits of a fold
are made once and every run sees the same ones):

- an ALM alone: the zero-shot rows, the (N_a, N_t) choice, the calibration;
- a specialist alone: its classifier;
- a pair: the fusion rows, on the zero-shot system the ALM's run chose in that
  fold and the specialist's embedding.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GroupKFold, StratifiedKFold

from ..arrays import softmax
from ..estimators.fusion_proba import default_classifier
from ..estimators.threads import thread_limit
from ..reporting.progress import phase
from . import systems
from .compare import paired_comparison
from .features import Features, FeatureSet, ZeroShotFeatures
from .fusion_select import fit_fusion, joined_rows, local_splits
from .grid import Grid
from .metrics import (
    confusion,
    expected_calibration_error,
    score_all,
    unweighted_accuracy,
)
from .results import Evaluation, Study, SystemResult
from .zero_shot_select import argmax_labels, choose_zero_shot

__all__ = ["Fold", "inner_splits", "plan_folds", "run_study", "select_final"]

_MAX_INNER_FOLDS = 5
_ECE_BINS = 15


@dataclass(frozen=True)
class Fold:
    """One outer split: clips to learn and select on, the test clips, and the inner splits of ``train``."""

    id: int
    train: np.ndarray
    test: np.ndarray
    splits: list


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
        from ..datasets import CorpusError  # the corpus cannot be evaluated: the user's data, not a bug

        raise CorpusError(
            "Cannot select hyper-parameters: the training clips have a single speaker and a class with "
            "one clip, so no validation split exists."
        )
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=0)
    return [(train[a], train[b]) for a, b in splitter.split(train, labels[train])]


def plan_folds(labels, folds, speakers, development=None, *, test=None) -> list:
    """The outer folds: each test fold against all other clips, or one (train, ``test``) split.

    ``test`` (a boolean mask) makes a single fold that tests on those clips and
    learns on all others, e.g. another corpus; the inner splits then come from
    the training clips' own folds.
    """
    return list(_iter_plan(np.asarray(labels, dtype=object), np.asarray(folds), speakers, development, test))


def _iter_plan(labels, folds, speakers, development, test):
    # Lazily, one fold at a time: the protocol logs a fold before its inner splits are
    # used, and looks ``inner_splits`` up in this module when the fold is reached.
    if test is not None:
        test = np.asarray(test, dtype=bool)
        train = np.flatnonzero(~test)
        yield Fold(1, train, np.flatnonzero(test), inner_splits(train, folds, speakers, labels, development))
        return
    for k in np.unique(folds[folds >= 0]):
        train = np.flatnonzero(folds != k)
        yield Fold(int(k), train, np.flatnonzero(folds == k), inner_splits(train, folds, speakers, labels, development))


class _Rows:
    """Predictions and per-fold scores of a set of systems, filled fold by fold."""

    def __init__(self, names, labels, classes):
        self.labels, self.classes = labels, classes
        self.predictions = {s: np.full(len(labels), None, dtype=object) for s in names}
        self.folds = {s: [] for s in names}

    def add(self, name, fold: Fold, predicted, params):
        self.predictions[name][fold.test] = predicted
        y_true = self.labels[fold.test]
        self.folds[name].append({
            "fold": fold.id,
            "n": int(len(fold.test)),
            **score_all(y_true, predicted),
            "params": params,
            "confusion_matrix": confusion(y_true, predicted, self.classes).tolist(),
        })

    def systems(self) -> dict:
        return {s: SystemResult(s, self.predictions[s], self.folds[s]) for s in self.predictions}


class _ZeroShotRun:
    """An ALM alone: its rows (single prompt, ensemble, (N_a, N_t) chosen by inner CV, calibrated), fold by fold."""

    def __init__(self, features: ZeroShotFeatures, labels, classes, grid: Grid):
        self.features, self.labels, self.classes = features, labels, classes
        self.configs = [c for c in grid.amplifications if c in features.ensemble]
        if not self.configs:
            raise ValueError(f"None of the grid's (N_a, N_t) {grid.amplifications} was computed.")
        self.systems = systems.made(has_alm=True, has_fm=False)
        self.rows = _Rows([s.name for s in self.systems], labels, classes)
        self.chosen = {}  # fold id -> the fold's ZeroShotChoice
        self.selection = {"amplification": []}
        self.proba = {"before": np.full((len(labels), len(classes)), np.nan), "after": None}
        self.proba["after"] = self.proba["before"].copy()
        self.calibration = {"temperatures": [], "ece_before_folds": [], "ece_after_folds": []}

    steps = 1  # units of the selection's progress per fold

    def step(self, fold: Fold, progress, about: str = ""):
        labels, classes, test = self.labels, self.classes, fold.test
        choice = choose_zero_shot(self.features, labels, classes, fold, self.configs)
        for system in self.systems:
            logits, params = system.scores(choice)
            self.rows.add(system.name, fold, argmax_labels(classes, logits[test]), params)
        self.selection["amplification"].append({
            "fold": fold.id,
            "candidates": [list(c) for c in choice.candidates],
            "inner_ua": choice.inner_ua,
            "test_ua": [unweighted_accuracy(labels[test], argmax_labels(classes, self.features.ensemble[c][test]))
                        for c in choice.candidates],
            "chosen": [choice.audio_repeats, choice.text_repeats],
        })
        self.chosen[fold.id] = choice
        zs, temperature = choice.amplified, choice.temperature
        before, after = softmax(zs[test]), softmax(zs[test] / temperature)
        self.proba["before"][test], self.proba["after"][test] = before, after
        self.calibration["temperatures"].append(temperature)
        self.calibration["ece_before_folds"].append(expected_calibration_error(labels[test], before, classes))
        self.calibration["ece_after_folds"].append(expected_calibration_error(labels[test], after, classes))
        progress.update()

    def calibration_summary(self) -> dict:
        tested = ~np.isnan(self.proba["before"][:, 0])
        y = self.labels[tested]
        before, after = self.proba["before"][tested], self.proba["after"][tested]
        return {
            "system": systems.AMPLIFIED.name,
            "ece_before": expected_calibration_error(y, before, self.classes, n_bins=_ECE_BINS),
            "ece_after": expected_calibration_error(y, after, self.classes, n_bins=_ECE_BINS),
            "n_bins": _ECE_BINS,
            "pooled": "test clips of every fold pooled; temperature fitted on each fold's training clips (log-loss)",
            "reliability": {"before": _reliability(y, before, self.classes), "after": _reliability(y, after, self.classes)},
            **self.calibration,
        }


class _SpecialistRun:
    """A specialist alone: the classifier on its embedding."""

    def __init__(self, embeddings, labels, classes, base):
        self.embeddings, self.labels, self.base = embeddings, labels, base
        self.names = [s.name for s in systems.made(has_alm=False, has_fm=True)]
        self.rows = _Rows(self.names, labels, classes)

    steps = 1

    def step(self, fold: Fold, progress, about: str = ""):
        embeddings = np.asarray(self.embeddings)  # a sweep's stored layer: read once per step
        model = clone(self.base).fit(embeddings[fold.train], self.labels[fold.train])
        predicted = model.predict(embeddings[fold.test])
        for name in self.names:
            self.rows.add(name, fold, predicted, {})
        progress.update()


class _FusionRun:
    """A pair's fusion rows, each with its own inner-CV selection (see ``fusion_select``)."""

    def __init__(self, zero_shot: _ZeroShotRun, embeddings, labels, classes, grid: Grid, base, n_threads=None):
        self.zero_shot, self.embeddings = zero_shot, embeddings
        self.labels, self.classes, self.grid, self.base = labels, classes, grid, base
        self.n_threads = n_threads
        self.systems = systems.fusions()
        self.rows = _Rows([s.name for s in self.systems], labels, classes)
        self.selection = {s.name: [] for s in self.systems}
        self.steps = len(self.systems)

    def step(self, fold: Fold, progress, about: str = ""):
        choice = self.zero_shot.chosen[fold.id]  # the fusion fuses the zero-shot system chosen in this fold
        # the training and test rows apart: the joined matrix of every clip is never held (issue 21);
        # a sweep's stored layer is read once for both
        embeddings = np.asarray(self.embeddings)
        X_train = joined_rows(choice.amplified, embeddings, fold.train)
        X_test = joined_rows(choice.amplified, embeddings, fold.test)
        del embeddings
        y_train, splits = self.labels[fold.train], local_splits(fold.train, fold.splits)
        for system in self.systems:
            progress.describe(f"{about}, {system.name}")
            fitted = fit_fusion(system, X_train, y_train, splits, self.classes, self.grid, self.base, self.n_threads)
            self.rows.add(system.name, fold, fitted.model.predict(X_test), {**choice.params, **fitted.params})
            self.selection[system.name].append(
                {"fold": fold.id, **fitted.diagnostics(X_test, self.labels[fold.test])})
            progress.update()


def _run_names(has_alm, has_fm):
    return [s.name for s in systems.made(has_alm, has_fm)]


def _evaluation(dataset, classes, labels, names, parts, zero_shot=None, fusion=None, features=None) -> Evaluation:
    found = {}
    for part in parts:
        found.update(part.rows.systems())
    rows = {s: found[s] for s in names}
    selection = {}
    if zero_shot is not None:
        selection.update(zero_shot.selection)
    comparison = {}
    if fusion is not None:
        selection["weight"] = fusion.selection[systems.ZS_FUSE.name]
        selection["fusion"] = fusion.selection
        specialist = rows[systems.SPECIALIST.name].predictions
        tested = np.asarray([p is not None for p in specialist])
        for system in fusion.systems:
            comparison[system.name] = paired_comparison(labels[tested], rows[system.name].predictions[tested],
                                                        specialist[tested])
    return Evaluation(dataset=dataset, classes=classes, systems=rows, selection=selection,
                      calibration={} if zero_shot is None else zero_shot.calibration_summary(),
                      comparison=comparison, features=features)


def run_study(
    feature_set: FeatureSet,
    labels,
    folds,
    speakers,
    *,
    classes=None,
    grid: Grid = Grid(),
    development=None,
    classifier=None,
    dataset="corpus",
    test=None,
    log: Callable[[str], None] | None = None,
    threads=None,
) -> Study:
    """Every ALM alone, every specialist alone and every (ALM, specialist) pair, fold by fold.

    ``folds[i]`` is clip i's test fold (``-1``: training only). With ``test`` (a
    boolean mask) the clips there form the one test set and all others train
    (cross-corpus); see :func:`plan_folds`. ``threads``: BLAS/OpenMP threads of
    every fit (:mod:`sklearn_zsfuse.estimators.threads`; None: the package's choice).
    """
    labels = np.asarray(labels, dtype=object)
    folds = np.asarray(folds)
    speakers = np.asarray(speakers, dtype=object)
    classes = np.unique(labels) if classes is None else np.asarray(classes, dtype=object)
    base = default_classifier() if classifier is None else classifier
    log = log or (lambda message: None)
    alm_runs = {a: _ZeroShotRun(f, labels, classes, grid) for a, f in feature_set.alms.items()}
    fm_runs = {f: _SpecialistRun(e, labels, classes, base) for f, e in feature_set.fms.items()}
    pair_runs = {(a, f): _FusionRun(alm_runs[a], feature_set.fms[f], labels, classes, grid, base, threads)
                 for a in alm_runs for f in fm_runs}
    runs = [*(((a,), r) for a, r in alm_runs.items()), *(((f,), r) for f, r in fm_runs.items()),
            *(((a, f), r) for (a, f), r in pair_runs.items())]
    n_folds = 1 if test is not None else len(np.unique(folds[folds >= 0]))
    progress = phase("selection", n_folds * sum(r.steps for _, r in runs), unit="step")
    with contextlib.closing(progress), thread_limit(threads, "threads"):
        for k, fold in enumerate(_iter_plan(labels, folds, speakers, development, test), 1):
            log(f"fold {fold.id}: {len(fold.train)} training clips, {len(fold.test)} test clips, "
                f"{len(fold.splits)} inner splits")
            for names, run in runs:
                about = f"fold {k}/{n_folds}: {' + '.join(map(str, names))}"
                progress.describe(about)
                run.step(fold, progress, about)
    alm_results = {a: _evaluation(dataset, classes, labels, _run_names(True, False), [r], zero_shot=r,
                                  features=feature_set.pair(a, None)) for a, r in alm_runs.items()}
    fm_results = {f: _evaluation(dataset, classes, labels, _run_names(False, True), [r],
                                 features=feature_set.pair(None, f)) for f, r in fm_runs.items()}
    pair_results = {
        (a, f): _evaluation(dataset, classes, labels, _run_names(True, True), [fm_runs[f], alm_runs[a], r],
                            zero_shot=alm_runs[a], fusion=r, features=feature_set.pair(a, f))
        for (a, f), r in pair_runs.items()
    }
    return Study(dataset=dataset, classes=classes, alms=list(alm_runs), fms=list(fm_runs), alm_runs=alm_results,
                 fm_runs=fm_results, pairs=pair_results, feature_set=feature_set)


def select_final(features: Features, labels, folds, speakers, *, classes=None, grid: Grid = Grid(),
                 development=None, classifier=None, system: str = systems.ZS_FUSE.name, threads=None) -> dict:
    """(N_a, N_t) and the settings of ``system`` for a model trained on *all* clips.

    The same inner CV as in :func:`run_study`, over every clip (for corpora
    whose clips all have a test fold, this is the outer folds themselves), with
    ``threads`` as there.
    """
    target = systems.find(system)
    labels = np.asarray(labels, dtype=object)
    classes = np.unique(labels) if classes is None else np.asarray(classes, dtype=object)
    base = default_classifier() if classifier is None else classifier
    everything = np.arange(len(labels))
    fold = Fold(0, everything, everything[:0], inner_splits(everything, folds, speakers, labels, development))
    chosen = {}
    if features.zero_shot is not None:
        configs = [c for c in grid.amplifications if c in features.ensemble]
        choice = choose_zero_shot(ZeroShotFeatures(features.zero_shot, features.ensemble), labels, classes, fold,
                                  configs)
        chosen = {"audio_repeats": choice.audio_repeats, "text_repeats": choice.text_repeats}
        if features.embeddings is not None and target.candidates is not None:
            X = joined_rows(choice.amplified, features.embeddings, everything)
            splits = local_splits(everything, fold.splits)
            with thread_limit(threads, "threads"):
                chosen.update(fit_fusion(target, X, labels, splits, classes, grid, base, threads).params)
        elif target.scores is not None:  # what the row sets beyond (N_a, N_t), e.g. a temperature
            row = target.scores(choice)[1]
            chosen.update({k: v for k, v in row.items() if k != "templates" and k not in chosen})
    return chosen


def _reliability(y, proba, classes, n_bins=_ECE_BINS) -> dict:
    """Per confidence bin (the bins of ``expected_calibration_error``): mean confidence, accuracy, clips."""
    confidence = proba.max(axis=1)
    correct = classes[proba.argmax(axis=1)] == y
    bins = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    out = {"confidence": [], "accuracy": [], "count": []}
    for b in range(n_bins):
        m = bins == b
        out["count"].append(int(m.sum()))
        out["confidence"].append(float(confidence[m].mean()) if m.any() else None)
        out["accuracy"].append(float(correct[m].mean()) if m.any() else None)
    return out
