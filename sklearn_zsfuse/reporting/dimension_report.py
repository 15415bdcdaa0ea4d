"""A dimensional evaluation on disk: ``results.json``, ``table.md``, ``selection.json``, the scatter, ``report.html``.

The same files and page as the categorical report (:mod:`.files`, :mod:`.html_page`),
with the dimensional tables: per dimension, CCC, Pearson's r and MAE of every
system, and the paired bootstrap of each fusion's CCC difference with the
specialist; one plot, predicted against rated per dimension.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType

import numpy as np

from .files import _atomic_write_text, _jsonable, _table_document
from .html_page import html_document
from .plots import _figure, _require_matplotlib, _save
from .sections import display_names

__all__ = ["DIMENSION_PLOTS", "dimension_sections", "dimension_title", "plot_scatter", "write_dimensional_report"]

DIMENSION_PLOTS = MappingProxyType({"scatter": "predicted_vs_rated.png"})

FOOTNOTE = ("CCC = concordance correlation coefficient (Lin, 1989; population moments), Pearson r = linear "
            "correlation, MAE = mean absolute error in the corpus's units; mean ± std over the test folds (no std "
            "with a single test set). Each dimension keeps its corpus's scale. The zero-shot score of a clip is the "
            "expected pole position under the model's pole probabilities, in [0, 1]; the zero-shot rows place it "
            "on the scale (low + score x (high - low), nothing learned), zero_shot+rescaled maps it by a line fitted "
            "on the training clips (least squares). The paired comparison resamples the pooled test clips "
            "(bootstrap, seeded) and recomputes both systems' CCC on each resample.")


def dimension_title(study) -> str:
    return f"{study.dataset}: speaker-independent evaluation of {', '.join(study.dimensions)}"


def dimension_sections(study) -> list:
    """The report's parts in reading order, as :func:`~.sections.sections` gives them for categories."""
    c = study.config
    n_folds = len(c.get("folds", [])) or max(run.n_folds for _, run in study.tables())
    names = display_names(dict.fromkeys([*study.alms, *study.fms]))
    facts = [(f"clips: {c.get('n_clips')}, speakers: {c.get('n_speakers')}, test folds: {n_folds} "
              f"({c.get('fold_scheme')})"),
             "dimensions: " + ", ".join(f"{d} (scale {s[0]:g} to {s[1]:g}: {s[2]})" for d, s in study.scales.items()),
             f"ALM(s): {', '.join(study.alms) or 'none'}",
             f"specialist(s): {', '.join(study.fms) or 'none'}",
             *(["names in the tables: " + ", ".join(f"{v} = {k}" for k, v in names.items() if v != str(k))]
               if any(v != str(k) for k, v in names.items()) else []),
             f"selection: {c.get('selection')}"]
    out = [(2, "Run", "facts", facts)]
    for title, run in study.tables():
        for full, short in names.items():
            title = title.replace(str(full), short)
        out.append((2, title, "table", run.table_rows()))
        if run.comparison:
            out.append((3, "Paired comparison with the specialist (same test clips, CCC)", "table",
                        run.comparison_rows()))
    out.append((2, "Notes", "text", FOOTNOTE))
    return out


def plot_scatter(study, path) -> Path:
    """Predicted against rated, one panel per dimension: each dimension's best system in its first table."""
    dims = list(study.dimensions)
    fig = _figure(figsize=(4.2 * len(dims), 4.2))
    axes = np.atleast_1d(fig.subplots(1, len(dims), gridspec_kw={"wspace": 0.35}))
    for ax, d in zip(axes, dims):
        run = study.primary(d)
        best = run.best_system()
        predicted = run.systems[best].predictions
        tested = ~np.isnan(predicted)
        low, high = study.scales[d][:2]
        margin = 0.15 * (high - low)
        shown = (low - margin, high + margin)  # the scale: a far outlier would flatten every other point
        y = np.clip(predicted[tested], *shown)
        outside = int(np.sum(y != predicted[tested]))
        ax.scatter(study.targets[d][tested], y, s=8, alpha=0.5)
        ax.plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1)
        ax.set_xlim(low, high)
        ax.set_ylim(*shown)
        if outside:
            ax.text(0.02, 0.98, f"{outside} prediction(s) beyond the scale drawn at the edge", transform=ax.transAxes,
                    va="top", fontsize=7, color="grey")
        ax.set_xlabel(f"rated {d} (scale {low:g} to {high:g})")
        ax.set_ylabel(f"predicted {d}")
        ax.set_title(f"{d}: {best}\nCCC {run.systems[best].summary['ccc']:.3f} (mean over folds)", fontsize=10)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{study.dataset}: predicted vs rated, test clips of every fold", fontsize=11, y=1.04)
    return _save(fig, Path(path))


def write_dimensional_report(study, out_dir, *, plots: bool = True, html: bool = True) -> dict:
    """Write ``results.json``, ``table.md``, ``selection.json``, the scatter PNG and ``report.html``; return their paths.

    ``study``: what :func:`~sklearn_zsfuse.evaluation.evaluate_dimensions` returns. With
    ``plots=True`` and matplotlib missing, raises ImportError naming the extra.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    title, parts = dimension_title(study), dimension_sections(study)
    written = {"results": out / "results.json", "table": out / "table.md", "selection": out / "selection.json"}
    _atomic_write_text(written["results"], json.dumps(study.to_json(), indent=2, default=_jsonable) + "\n")
    _atomic_write_text(written["table"], _table_document(study, parts, title))
    selection = {title_: run.selection for title_, run in study.tables()}
    _atomic_write_text(written["selection"], json.dumps(selection, indent=2, default=_jsonable) + "\n")
    if plots:
        _require_matplotlib()
        written["scatter"] = plot_scatter(study, out / DIMENSION_PLOTS["scatter"])
    if html:
        written["html"] = out / "report.html"
        figures = {k: v for k, v in written.items() if k in DIMENSION_PLOTS}
        _atomic_write_text(written["html"], html_document(study, figures, parts, title))
    return written
