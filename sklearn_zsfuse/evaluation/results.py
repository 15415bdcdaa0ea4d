"""Result records of one evaluation run: per-system fold scores, the tables, the JSON document.

An :class:`Evaluation` holds the rows of one table: one ALM alone, one
specialist alone, or one (ALM, specialist) pair with the paper's ablation
rows. A :class:`Study` holds every table of a run with several models (the
ALM x specialist grid, a layer sweep, a cross-corpus test).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .features import Features, FeatureSet
from .metrics import summarize
from .systems import AMPLIFIED, SPECIALIST, ZS_FUSE, fusions
from .tables import markdown_table

__all__ = ["Evaluation", "Study", "SystemResult"]

_METRICS = ("ua", "wa", "f1")


@dataclass
class SystemResult:
    name: str
    predictions: np.ndarray  # (n,) labels on test clips, None elsewhere
    folds: list  # per fold: fold, n, ua, wa, f1, params, confusion_matrix

    @property
    def summary(self) -> dict:
        return summarize(self.folds)


def _cell(summary: dict, metric: str, n_folds: int) -> str:
    # A standard deviation over one fold is no measure of spread: show none rather than "± 0.00".
    mean = f"{100 * summary[metric]:.2f}"
    return mean if n_folds < 2 else f"{mean} ± {100 * summary[metric + '_std']:.2f}"


@dataclass
class Evaluation:
    """Per-system results and the selection diagnostics of one table."""

    dataset: str
    classes: np.ndarray
    systems: dict  # name -> SystemResult, in the systems table's order
    selection: dict  # diagnostics: inner-CV and test UA of every candidate, per fold
    config: dict = field(default_factory=dict)
    features: Features | None = field(default=None, repr=False)  # what the models computed (not saved)
    calibration: dict = field(default_factory=dict)  # zero-shot ECE before/after, temperatures per fold
    comparison: dict = field(default_factory=dict)  # fusion row -> paired comparison with the specialist

    @property
    def n_folds(self) -> int:
        return max((len(r.folds) for r in self.systems.values()), default=0)

    def best_system(self) -> str:
        return max(self.systems, key=lambda s: self.systems[s].summary["ua"])

    def confusion_matrix(self, system: str) -> np.ndarray:
        """Counts summed over the test folds (rows: true class, columns: predicted)."""
        return np.sum([np.asarray(f["confusion_matrix"]) for f in self.systems[system].folds], axis=0)

    def per_class_recall(self, system: str) -> dict:
        """Class -> recall over all test clips pooled (None for a class with no test clip)."""
        counts = self.confusion_matrix(system)
        totals = counts.sum(axis=1)
        return {str(c): (float(counts[i, i] / totals[i]) if totals[i] else None) for i, c in enumerate(self.classes)}

    def to_json(self) -> dict:
        """``{"dataset", "config", "systems", "calibration", "comparison"}``.

        ``systems[name]``: ``ua``, ``wa``, ``f1`` (means over test folds), ``ua_std``,
        ``wa_std``, ``f1_std`` (population std over folds; ``null`` with one fold),
        ``per_class_recall`` ({class: recall}, test clips pooled) and ``folds``.
        """
        systems = {}
        one_fold = self.n_folds < 2
        for name, res in self.systems.items():
            s = res.summary
            entry = {m: s[m] for m in _METRICS}
            entry.update({f"{m}_std": None if one_fold else s[f"{m}_std"] for m in _METRICS})
            entry["per_class_recall"] = self.per_class_recall(name)
            entry["folds"] = res.folds
            systems[name] = entry
        return {"dataset": self.dataset, "config": self.config, "systems": systems,
                "calibration": self.calibration, "comparison": self.comparison}

    def table_rows(self) -> tuple[list, list]:
        """(header, rows) of the main table: UA, WA and macro-F1 in %, mean ± std over the test folds."""
        rows = [[name, *(_cell(res.summary, m, self.n_folds) for m in _METRICS)] for name, res in self.systems.items()]
        return ["system", "UA (%)", "WA (%)", "F1 (%)"], rows

    def table(self) -> str:
        """The markdown table: UA, WA and macro-F1 in %, mean ± std over the test folds."""
        return markdown_table(*self.table_rows())

    def recall_rows(self) -> tuple[list, list]:
        """(header, rows): per-class recall (%) of every system, test clips pooled."""
        classes = [str(c) for c in self.classes]
        rows = []
        for name in self.systems:
            recall = self.per_class_recall(name)
            rows.append([name, *("—" if recall[c] is None else f"{100 * recall[c]:.1f}" for c in classes)])
        return ["recall (%)", *classes], rows

    def comparison_rows(self) -> tuple[list, list]:
        """(header, rows): each fusion row against the specialist over the same clips."""
        if not self.comparison:
            return [], []
        level = int(round(100 * next(iter(self.comparison.values()))["level"]))
        header = ["system vs specialist", "ΔUA (points)", f"{level} % bootstrap CI", "only system right",
                  "only specialist right", "McNemar p"]
        rows = [[name, f"{100 * c['ua_diff']:+.2f}", f"[{100 * c['ci_low']:+.2f}, {100 * c['ci_high']:+.2f}]",
                 str(c["a_only"]), str(c["b_only"]), _p(c["mcnemar_p"])] for name, c in self.comparison.items()]
        return header, rows

    def calibration_rows(self) -> tuple[list, list]:
        """(header, rows): ECE of the zero-shot probabilities before and after temperature scaling."""
        if not self.calibration:
            return [], []
        c = self.calibration
        temps = ", ".join(f"{t:.3g}" for t in c["temperatures"])
        return (["zero-shot probabilities", "ECE before", "ECE after", "temperature per fold"],
                [[c["system"], f"{c['ece_before']:.3f}", f"{c['ece_after']:.3f}", temps]])


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


@dataclass
class Study:
    """Every table of one run: each ALM alone, each specialist alone, each (ALM, specialist) pair.

    ``alm_runs[alm]``, ``fm_runs[fm]`` and ``pairs[(alm, fm)]`` are
    :class:`Evaluation` records; the pair tables repeat the rows of the two
    models alone (the same predictions), followed by the fusion rows.
    The attributes ``systems``, ``selection``, ``features``, ``table()`` and
    ``best_system()`` are those of the *primary* table: the first pair, else
    the first model alone, so code written for a single (ALM, FM) run reads a
    Study unchanged.
    """

    dataset: str
    classes: np.ndarray
    alms: list
    fms: list
    alm_runs: dict
    fm_runs: dict
    pairs: dict
    config: dict = field(default_factory=dict)
    feature_set: FeatureSet | None = field(default=None, repr=False)
    cross_corpus: dict | None = None  # kept classes and dropped clips when testing on another corpus

    def share_config(self) -> None:
        """Give every table this run's ``config``."""
        for run in [*self.alm_runs.values(), *self.fm_runs.values(), *self.pairs.values()]:
            run.config = self.config

    @property
    def primary(self) -> Evaluation:
        if self.pairs:
            return self.pairs[(self.alms[0], self.fms[0])]
        return self.alm_runs[self.alms[0]] if self.alms else self.fm_runs[self.fms[0]]

    @property
    def systems(self) -> dict:
        return self.primary.systems

    @property
    def selection(self) -> dict:
        return self.primary.selection

    @property
    def features(self) -> Features | None:
        return self.primary.features

    @property
    def calibration(self) -> dict:
        return self.primary.calibration

    @property
    def comparison(self) -> dict:
        return self.primary.comparison

    @property
    def n_folds(self) -> int:
        return self.primary.n_folds

    def best_system(self) -> str:
        return self.primary.best_system()

    def confusion_matrix(self, system: str) -> np.ndarray:
        return self.primary.confusion_matrix(system)

    def table(self) -> str:
        return self.primary.table()

    def tables(self) -> list:
        """(title, Evaluation) of every table in reading order: pairs, then models alone."""
        out = [(f"{a} + {f}", run) for (a, f), run in self.pairs.items()]
        if not self.pairs:
            out += [(a, run) for a, run in self.alm_runs.items()]
            out += [(f, run) for f, run in self.fm_runs.items()]
        return out

    def grid(self, system: str = ZS_FUSE.name, metric: str = "ua") -> dict:
        """``{alm: {fm: value}}`` of ``system``'s ``metric`` (mean over test folds)."""
        return {a: {f: self.pairs[(a, f)].systems[system].summary[metric] for f in self.fms
                    if system in self.pairs[(a, f)].systems} for a in self.alms}

    def grid_rows(self, system: str = ZS_FUSE.name) -> tuple[list, list]:
        """(header, rows): rows ALMs, columns specialists, cells ``system``'s UA (%)."""
        if not self.pairs:
            return [], []
        cells = self.grid(system)
        rows = [[a, *(f"{100 * cells[a][f]:.2f}" if f in cells[a] else "—" for f in self.fms)] for a in self.alms]
        return [f"{system} UA (%): ALM \\ specialist", *self.fms], rows

    def summary_rows(self, system: str = ZS_FUSE.name) -> tuple[list, list]:
        """(header, rows) of the report's grid: :meth:`grid_rows` with ± std, and each model alone.

        A last column gives each ALM's zero-shot system alone (the one the fusions
        fuse), a last row each specialist alone, so a cell reads against both.
        """
        if not self.pairs:
            return [], []
        n = self.n_folds
        zero_shot = AMPLIFIED.name

        def cell(run, name):
            return _cell(run.systems[name].summary, "ua", n) if run is not None and name in run.systems else "—"

        rows = [[a, *(cell(self.pairs.get((a, f)), system) for f in self.fms),
                 cell(self.alm_runs.get(a), zero_shot)] for a in self.alms]
        rows.append([f"{SPECIALIST.name} alone", *(cell(self.fm_runs.get(f), SPECIALIST.name) for f in self.fms), ""])
        return [f"{system} UA (%): ALM \\ specialist", *self.fms, f"{zero_shot} alone"], rows

    def layer_sweep(self) -> dict:
        """``{model: [(layer, {specialist: ua, alm: zs_fuse ua, ...}), ...]}`` for specialists run at several layers."""
        layers = (self.feature_set.fm_layers if self.feature_set is not None else {})
        by_model: dict = {}
        for name in self.fms:
            model, layer = layers.get(name, (name, None))
            by_model.setdefault(model, []).append((layer, name))
        out = {}
        for model, entries in by_model.items():
            if len(entries) < 2:
                continue
            rows = []
            for layer, name in entries:
                specialist = SPECIALIST.name
                cells = {specialist: self.fm_runs[name].systems[specialist].summary["ua"]}
                for a in self.alms:
                    if (a, name) in self.pairs:
                        cells[a] = self.pairs[(a, name)].systems[ZS_FUSE.name].summary["ua"]
                rows.append((layer, cells))
            out[model] = rows
        return out

    def layer_rows(self) -> list:
        """[(model, header, rows)] of every specialist evaluated at several layers."""
        out = []
        for model, rows in self.layer_sweep().items():
            columns = list(rows[0][1])
            header = [f"{model}: layer", "specialist UA (%)", *(f"ZS-Fuse with {a} UA (%)" for a in columns[1:])]
            out.append((model, header, [[str(layer), *(f"{100 * cells[c]:.2f}" for c in columns)]
                                        for layer, cells in rows]))
        return out

    def to_json(self) -> dict:
        """The whole run, keyed so a script reads any cell.

        - ``systems``, ``calibration``, ``comparison``: the primary table (as in
          :meth:`Evaluation.to_json`), so single-pair scripts keep working;
        - ``alms``, ``fms``: the model names, in the order given;
        - ``alm[alm]``, ``fm[fm]``: each model alone (``{"systems", "calibration"}``);
        - ``pairs[alm][fm]``: each pair's ``{"systems", "calibration", "comparison"}``;
        - ``grid[system][alm][fm]``: UA of each fusion row, the ALM x specialist grid;
        - ``layers[model]``: ``[{"layer", specialist: UA, <alm>: zs_fuse UA}, ...]`` for a layer sweep;
        - ``cross_corpus``: kept classes and dropped clips (only when testing on another corpus).
        """
        def part(run: Evaluation) -> dict:
            doc = run.to_json()
            return {k: doc[k] for k in ("systems", "calibration", "comparison")}

        primary = part(self.primary)
        doc = {"dataset": self.dataset, "config": self.config, **primary, "alms": list(self.alms),
               "fms": list(self.fms)}
        doc["alm"] = {a: part(r) for a, r in self.alm_runs.items()}
        doc["fm"] = {f: part(r) for f, r in self.fm_runs.items()}
        pairs: dict = {}
        for (a, f), run in self.pairs.items():
            pairs.setdefault(a, {})[f] = part(run)
        doc["pairs"] = pairs
        if self.pairs:
            doc["grid"] = {s.name: self.grid(s.name) for s in fusions()}
        sweep = self.layer_sweep()
        if sweep:
            doc["layers"] = {m: [{"layer": layer, **cells} for layer, cells in rows] for m, rows in sweep.items()}
        if self.cross_corpus is not None:
            doc["cross_corpus"] = self.cross_corpus
        return doc
