"""Result records of a dimensional evaluation: per-system fold scores (CCC, Pearson, MAE), tables, JSON.

A :class:`DimensionalEvaluation` holds the rows of one table: one dimension,
rated on its corpus's scale, for one ALM alone, one specialist alone or one
(ALM, specialist) pair; the same shapes as the categorical
:class:`~sklearn_zsfuse.evaluation.Evaluation`, with CCC for UA. A
:class:`DimensionalStudy` holds every table of a run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .dimension_systems import ZS_FUSE, dimension_fusions
from .regression_metrics import summarize_regression
from .tables import markdown_table

__all__ = ["DimensionalEvaluation", "DimensionalStudy", "RegressionResult"]

_METRICS = ("ccc", "pearson", "mae")


@dataclass
class RegressionResult:
    name: str
    predictions: np.ndarray  # (n,) predicted ratings on test clips, NaN elsewhere
    folds: list  # per fold: fold, n, ccc, pearson, mae, params

    @property
    def summary(self) -> dict:
        return summarize_regression(self.folds)


def _number(value: float) -> str:
    return f"{round(value, 3) + 0.0:.3f}"  # + 0.0: a mean that rounds to zero shows no minus sign


def _cell(summary: dict, metric: str, n_folds: int) -> str:
    mean = _number(summary[metric])
    return mean if n_folds < 2 else f"{mean} ± {_number(summary[metric + '_std'])}"


@dataclass
class DimensionalEvaluation:
    """Per-system results of one dimension, and the selection diagnostics of its table."""

    dataset: str
    dimension: str
    scale: tuple  # (low, high, source)
    systems: dict  # name -> RegressionResult, in the table's order
    selection: dict
    comparison: dict = field(default_factory=dict)  # fusion row -> paired CCC comparison with the specialist
    config: dict = field(default_factory=dict)

    @property
    def n_folds(self) -> int:
        return max((len(r.folds) for r in self.systems.values()), default=0)

    def best_system(self) -> str:
        """The system with the best mean CCC over the test folds."""
        return max(self.systems, key=lambda s: self.systems[s].summary["ccc"])

    def to_json(self) -> dict:
        """``{"dimension", "scale", "systems", "comparison"}``; ``systems[name]``: ``ccc``, ``pearson``, ``mae``
        (means over test folds), ``*_std`` (population std; ``null`` with one fold) and ``folds``."""
        one_fold = self.n_folds < 2
        systems = {}
        for name, res in self.systems.items():
            s = res.summary
            entry = {m: s[m] for m in _METRICS}
            entry.update({f"{m}_std": None if one_fold else s[f"{m}_std"] for m in _METRICS})
            entry["folds"] = res.folds
            systems[name] = entry
        low, high, source = self.scale
        return {"dimension": self.dimension, "scale": {"low": low, "high": high, "source": source},
                "systems": systems, "comparison": self.comparison}

    def table_rows(self) -> tuple[list, list]:
        """(header, rows): CCC, Pearson's r and MAE, mean ± std over the test folds."""
        rows = [[name, *(_cell(res.summary, m, self.n_folds) for m in _METRICS)] for name, res in self.systems.items()]
        return ["system", "CCC", "Pearson r", "MAE"], rows

    def table(self) -> str:
        return markdown_table(*self.table_rows())

    def comparison_rows(self) -> tuple[list, list]:
        """(header, rows): each fusion row against the specialist, CCC of the pooled test clips."""
        if not self.comparison:
            return [], []
        level = int(round(100 * next(iter(self.comparison.values()))["level"]))
        header = ["system vs specialist", "ΔCCC", f"{level} % bootstrap CI", "CCC system", "CCC specialist"]
        rows = [[name, f"{c['ccc_diff']:+.3f}", f"[{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]", f"{c['ccc_a']:.3f}",
                 f"{c['ccc_b']:.3f}"] for name, c in self.comparison.items()]
        return header, rows


@dataclass
class DimensionalStudy:
    """Every table of one dimensional run: per dimension, each ALM alone, each specialist alone, each pair.

    ``alm_runs[alm][dimension]``, ``fm_runs[fm][dimension]`` and
    ``pairs[(alm, fm)][dimension]`` are :class:`DimensionalEvaluation` records; the
    pair tables repeat the rows of the two models alone, then the fusion rows.
    ``targets[dimension]`` are the ratings of every clip.
    """

    dataset: str
    dimensions: tuple
    scales: dict  # dimension -> (low, high, source)
    alms: list
    fms: list
    alm_runs: dict
    fm_runs: dict
    pairs: dict
    targets: dict = field(default_factory=dict, repr=False)
    config: dict = field(default_factory=dict)
    feature_set: object = field(default=None, repr=False)

    def share_config(self) -> None:
        """Give every table (of every dimension) this run's ``config``."""
        for runs in [*self.alm_runs.values(), *self.fm_runs.values(), *self.pairs.values()]:
            for run in runs.values():
                run.config = self.config

    def primary(self, dimension: str) -> DimensionalEvaluation:
        """The first pair's table of ``dimension``, else the first model alone's."""
        if self.pairs:
            return self.pairs[(self.alms[0], self.fms[0])][dimension]
        return (self.alm_runs[self.alms[0]] if self.alms else self.fm_runs[self.fms[0]])[dimension]

    def tables(self) -> list:
        """(title, DimensionalEvaluation) of every table, dimension by dimension: pairs, else models alone."""
        out = []
        for d in self.dimensions:
            out += [(f"{d}: {a} + {f}", run[d]) for (a, f), run in self.pairs.items()]
            if not self.pairs:
                out += [(f"{d}: {a}", run[d]) for a, run in self.alm_runs.items()]
                out += [(f"{d}: {f}", run[d]) for f, run in self.fm_runs.items()]
        return out

    def table(self) -> str:
        """The primary table of every dimension, one after another."""
        return "\n\n".join(f"{d} (scale {self.scales[d][0]:g} to {self.scales[d][1]:g})\n\n{self.primary(d).table()}"
                           for d in self.dimensions)

    def grid(self, system: str = ZS_FUSE.name, dimension: str | None = None) -> dict:
        """``{alm: {fm: CCC}}`` of ``system`` on ``dimension`` (default: the first)."""
        d = dimension or self.dimensions[0]
        return {a: {f: self.pairs[(a, f)][d].systems[system].summary["ccc"] for f in self.fms
                    if system in self.pairs[(a, f)][d].systems} for a in self.alms}

    def to_json(self) -> dict:
        """The whole run, keyed so a script reads any cell.

        - ``target``: ``"dimensions"``; ``dimensions``: their names in order;
        - ``tables[dimension]``: the primary table of each dimension
          (``{"scale", "systems", "comparison"}``, as :meth:`DimensionalEvaluation.to_json`);
        - ``alm[alm][dimension]``, ``fm[fm][dimension]``, ``pairs[alm][fm][dimension]``: every table;
        - ``grid[system][dimension][alm][fm]``: CCC of each fusion row, the ALM x specialist grid.
        """
        def part(run: DimensionalEvaluation) -> dict:
            doc = run.to_json()
            return {k: doc[k] for k in ("scale", "systems", "comparison")}

        doc = {"dataset": self.dataset, "target": "dimensions", "dimensions": list(self.dimensions),
               "config": self.config, "alms": list(self.alms), "fms": list(self.fms),
               "tables": {d: part(self.primary(d)) for d in self.dimensions}}
        doc["alm"] = {a: {d: part(r) for d, r in runs.items()} for a, runs in self.alm_runs.items()}
        doc["fm"] = {f: {d: part(r) for d, r in runs.items()} for f, runs in self.fm_runs.items()}
        pairs: dict = {}
        for (a, f), runs in self.pairs.items():
            pairs.setdefault(a, {})[f] = {d: part(r) for d, r in runs.items()}
        doc["pairs"] = pairs
        if self.pairs:
            doc["grid"] = {s.name: {d: self.grid(s.name, d) for d in self.dimensions} for s in dimension_fusions()}
        return doc
