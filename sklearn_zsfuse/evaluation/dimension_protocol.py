"""The dimensional protocol: learning, selection and scoring fold by fold on precomputed features.

The categorical protocol's loop (:mod:`.protocol`: the same outer folds, the same
inner splits of each fold's training clips) with ratings for labels and CCC for
UA. For each test fold and dimension, every choice ((N_a, N_t), the zero-shot
line, the fusion method and weight) is made on the *training* clips only; the
test fold is then predicted once per system of
:data:`~sklearn_zsfuse.evaluation.dimension_systems.DIMENSION_TABLE`:

- an ALM alone: the zero-shot rows (scores on the corpus's scale, and through a
  line fitted on the training clips);
- a specialist alone: its regressor;
- a pair: the fusion rows, on the zero-shot score the ALM's run chose in that fold.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.base import clone

from ..estimators.fusion_regression import default_regressor
from ..estimators.threads import thread_limit
from . import dimension_systems
from .attribute_features import AttributeFeatureSet
from .attribute_select import choose_attribute, fit_regression_fusion, on_scale
from .dimension_results import DimensionalEvaluation, DimensionalStudy, RegressionResult
from .grid import Grid
from .protocol import Fold, _iter_plan
from .regression_compare import paired_ccc_comparison
from .regression_metrics import concordance_cc, regression_scores

__all__ = ["run_dimensional_study"]


class _Rows:
    """Predictions and per-fold scores of a set of systems on one dimension, filled fold by fold."""

    def __init__(self, names, ratings):
        self.ratings = ratings
        self.predictions = {s: np.full(len(ratings), np.nan) for s in names}
        self.folds = {s: [] for s in names}

    def add(self, name, fold: Fold, predicted, params):
        self.predictions[name][fold.test] = predicted
        self.folds[name].append({"fold": fold.id, "n": int(len(fold.test)),
                                 **regression_scores(self.ratings[fold.test], predicted), "params": params})

    def systems(self) -> dict:
        return {s: RegressionResult(s, self.predictions[s], self.folds[s]) for s in self.predictions}


class _ZeroShotRun:
    """An ALM alone, per dimension: single prompt, ensemble, (N_a, N_t) by inner CV, the fitted line."""

    def __init__(self, features, dimensions, targets, scales, grid: Grid):
        self.features, self.dimensions, self.targets, self.scales = features, dimensions, targets, scales
        self.configs = [c for c in grid.amplifications if c in features.ensemble]
        if not self.configs:
            raise ValueError(f"None of the grid's (N_a, N_t) {grid.amplifications} was computed.")
        self.systems = dimension_systems.dimension_made(has_alm=True, has_fm=False)
        self.rows = {d: _Rows([s.name for s in self.systems], targets[d]) for d in dimensions}
        self.chosen = {}  # (fold id, dimension) -> AttributeChoice
        self.selection = {"amplification": {d: [] for d in dimensions}}

    def step(self, fold: Fold):
        for column, d in enumerate(self.dimensions):
            ratings, test = self.targets[d], fold.test
            choice = choose_attribute(self.features, column, self.scales[d][:2], ratings, fold, self.configs)
            for system in self.systems:
                predicted, params = system.scores(choice)
                self.rows[d].add(system.name, fold, predicted[test], params)
            self.chosen[(fold.id, d)] = choice
            self.selection["amplification"][d].append({
                "fold": fold.id, "candidates": [list(c) for c in choice.candidates], "inner_ccc": choice.inner_ccc,
                "test_ccc": [concordance_cc(ratings[test], on_scale(self.features.ensemble[c][test, column],
                                                                    self.scales[d][:2])) for c in choice.candidates],
                "chosen": [choice.audio_repeats, choice.text_repeats], "line": list(choice.line),
            })


class _SpecialistRun:
    """A specialist alone, per dimension: the regressor on its embedding."""

    def __init__(self, embeddings, dimensions, targets, base):
        self.embeddings, self.dimensions, self.targets, self.base = embeddings, dimensions, targets, base
        self.names = [s.name for s in dimension_systems.dimension_made(has_alm=False, has_fm=True)]
        self.rows = {d: _Rows(self.names, targets[d]) for d in dimensions}

    def step(self, fold: Fold):
        embeddings = np.asarray(self.embeddings)  # a sweep's stored layer: read once per step, not per use
        for d in self.dimensions:
            model = clone(self.base).fit(embeddings[fold.train], self.targets[d][fold.train])
            predicted = np.asarray(model.predict(embeddings[fold.test]), dtype=np.float64)
            for name in self.names:
                self.rows[d].add(name, fold, predicted, {})


class _FusionRun:
    """A pair's fusion rows per dimension, each with its own inner-CV selection."""

    def __init__(self, zero_shot: _ZeroShotRun, embeddings, dimensions, targets, grid: Grid, base):
        self.zero_shot, self.embeddings, self.dimensions = zero_shot, embeddings, dimensions
        self.targets, self.grid, self.base = targets, grid, base
        self.systems = dimension_systems.dimension_fusions()
        self.rows = {d: _Rows([s.name for s in self.systems], targets[d]) for d in dimensions}
        self.selection = {d: {s.name: [] for s in self.systems} for d in dimensions}

    def step(self, fold: Fold):
        embeddings = np.asarray(self.embeddings)  # a sweep's stored layer: read once per step, not per dimension
        for d in self.dimensions:
            choice = self.zero_shot.chosen[(fold.id, d)]  # the zero-shot score chosen in this fold
            X = np.column_stack([choice.raw, embeddings])
            for system in self.systems:
                fitted = fit_regression_fusion(system, X, self.targets[d], fold, self.grid, self.base)
                self.rows[d].add(system.name, fold, fitted.model.predict(X[fold.test]),
                                 {**choice.params, **fitted.params})
                self.selection[d][system.name].append({"fold": fold.id,
                                                       **fitted.diagnostics(X, self.targets[d], fold)})


def _tables(dataset, dimensions, scales, targets, parts, zero_shot=None, fusion=None) -> dict:
    """``{dimension: DimensionalEvaluation}`` of one model or pair, rows in table order."""
    names = [s.name for s in dimension_systems.DIMENSION_TABLE]
    out = {}
    for d in dimensions:
        found = {}
        for part in parts:
            found.update(part.rows[d].systems())
        rows = {s: found[s] for s in names if s in found}
        selection = {} if zero_shot is None else {"amplification": zero_shot.selection["amplification"][d]}
        comparison = {}
        if fusion is not None:
            selection["fusion"] = fusion.selection[d]
            selection["weight"] = fusion.selection[d][dimension_systems.ZS_FUSE.name]
            specialist = rows[dimension_systems.SPECIALIST.name].predictions
            tested = ~np.isnan(specialist)
            for system in fusion.systems:
                comparison[system.name] = paired_ccc_comparison(targets[d][tested],
                                                                rows[system.name].predictions[tested],
                                                                specialist[tested])
        out[d] = DimensionalEvaluation(dataset=dataset, dimension=d, scale=tuple(scales[d]), systems=rows,
                                       selection=selection, comparison=comparison)
    return out


def run_dimensional_study(
    feature_set: AttributeFeatureSet,
    targets: dict,
    scales: dict,
    labels,
    folds,
    speakers,
    *,
    grid: Grid = Grid(),
    development=None,
    regressor=None,
    dataset="corpus",
    log: Callable[[str], None] | None = None,
    threads=None,
) -> DimensionalStudy:
    """Every ALM alone, every specialist alone and every (ALM, specialist) pair, per dimension, fold by fold.

    ``targets[dimension]`` holds every clip's ratings, ``scales[dimension]`` their
    ``(low, high, source)``; ``feature_set.dimensions`` says which column of the
    zero-shot scores each dimension is. ``labels`` (the categories) only choose
    label-stratified inner splits where a fold has a single speaker. ``threads``:
    BLAS/OpenMP threads of every fit (:mod:`sklearn_zsfuse.estimators.threads`).
    """
    dimensions = tuple(feature_set.dimensions)
    missing = sorted(set(dimensions) - set(targets))
    if missing:
        raise ValueError(f"no ratings for {missing}: targets has {sorted(targets)}.")
    targets = {d: np.asarray(targets[d], dtype=np.float64) for d in dimensions}
    labels = np.asarray(labels, dtype=object)
    folds, speakers = np.asarray(folds), np.asarray(speakers, dtype=object)
    base = default_regressor() if regressor is None else regressor
    log = log or (lambda message: None)
    alm_runs = {a: _ZeroShotRun(f, dimensions, targets, scales, grid) for a, f in feature_set.alms.items()}
    fm_runs = {f: _SpecialistRun(e, dimensions, targets, base) for f, e in feature_set.fms.items()}
    pair_runs = {(a, f): _FusionRun(alm_runs[a], feature_set.fms[f], dimensions, targets, grid, base)
                 for a in alm_runs for f in fm_runs}
    with thread_limit(threads, "threads"):
        for fold in _iter_plan(labels, folds, speakers, development, None):
            log(f"fold {fold.id}: {len(fold.train)} training clips, {len(fold.test)} test clips, "
                f"{len(fold.splits)} inner splits")
            for run in (*alm_runs.values(), *fm_runs.values(), *pair_runs.values()):
                run.step(fold)
    common = (dataset, dimensions, scales, targets)
    return DimensionalStudy(
        dataset=dataset, dimensions=dimensions, scales={d: tuple(scales[d]) for d in dimensions},
        alms=list(alm_runs), fms=list(fm_runs),
        alm_runs={a: _tables(*common, [r], zero_shot=r) for a, r in alm_runs.items()},
        fm_runs={f: _tables(*common, [r]) for f, r in fm_runs.items()},
        pairs={(a, f): _tables(*common, [fm_runs[f], alm_runs[a], r], zero_shot=alm_runs[a], fusion=r)
               for (a, f), r in pair_runs.items()},
        targets=targets, feature_set=feature_set,
    )
