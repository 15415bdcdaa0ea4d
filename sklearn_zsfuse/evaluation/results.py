"""Result records of one evaluation run: per-system fold scores, the table, the JSON document."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..metrics import summarize
from .features import Features

__all__ = ["SYSTEMS", "Evaluation", "SystemResult"]

SYSTEMS = (
    "specialist",
    "zero_shot",
    "zero_shot+ensemble",
    "zero_shot+ensemble+amplification",
    "zs_fuse",
)


@dataclass
class SystemResult:
    name: str
    predictions: np.ndarray  # (n,) labels on test clips, None elsewhere
    folds: list  # per fold: fold, n, ua, wa, f1, params, confusion_matrix

    @property
    def summary(self) -> dict:
        return summarize(self.folds)


@dataclass
class Evaluation:
    """Per-system results and the selection diagnostics of one run."""

    dataset: str
    classes: np.ndarray
    systems: dict  # name -> SystemResult, in SYSTEMS order
    selection: dict  # diagnostics: inner-CV and test UA of every candidate, per fold
    config: dict = field(default_factory=dict)
    features: Features | None = field(default=None, repr=False)  # what the models computed (not saved)

    def best_system(self) -> str:
        return max(self.systems, key=lambda s: self.systems[s].summary["ua"])

    def confusion_matrix(self, system: str) -> np.ndarray:
        """Counts summed over the test folds (rows: true class, columns: predicted)."""
        return np.sum([np.asarray(f["confusion_matrix"]) for f in self.systems[system].folds], axis=0)

    def to_json(self) -> dict:
        """``{"dataset", "config", "systems": {name: {"ua", "wa", "f1", "ua_std", "folds"}}}``."""
        systems = {}
        for name, res in self.systems.items():
            s = res.summary
            systems[name] = {"ua": s["ua"], "wa": s["wa"], "f1": s["f1"], "ua_std": s["ua_std"], "folds": res.folds}
        return {"dataset": self.dataset, "config": self.config, "systems": systems}

    def table(self) -> str:
        """The markdown table: UA, WA and macro-F1 in %, mean ± std over the test folds."""
        lines = ["| system | UA (%) | WA (%) | F1 (%) |", "|---|---|---|---|"]
        for name, res in self.systems.items():
            s = res.summary
            cells = [f"{100 * s[m]:.2f} ± {100 * s[m + '_std']:.2f}" for m in ("ua", "wa", "f1")]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        return "\n".join(lines)
