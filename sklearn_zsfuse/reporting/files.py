"""Writing an evaluation to disk: ``results.json``, ``table.md``, ``selection.json``, PNGs, ``report.html``.

What the report says is :mod:`.sections`; the plots are :mod:`.plots`; the page :mod:`.html_page`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .html_page import html_document
from .plots import (
    PLOTS,
    _require_matplotlib,
    plot_amplification_heatmap,
    plot_confusion,
    plot_layer_sweep,
    plot_reliability,
    plot_weight_curve,
)
from .sections import as_study, report_title, sections

__all__ = ["write_report"]


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(evaluation, out_dir, *, plots: bool = True, html: bool = True) -> dict:
    """Write ``results.json``, ``table.md``, ``selection.json``, the PNGs and ``report.html``; return their paths.

    ``evaluation`` is what :func:`~sklearn_zsfuse.evaluation.evaluate` returns (a
    Study) or one Evaluation. ``report.html`` is one self-contained page (the
    tables, the plots embedded, the configuration). With ``plots=True`` and
    matplotlib missing, raises ImportError naming the extra.
    """
    study = as_study(evaluation)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    written["results"] = out / "results.json"
    _atomic_write_text(written["results"], json.dumps(study.to_json(), indent=2, default=_jsonable) + "\n")
    written["table"] = out / "table.md"
    _atomic_write_text(written["table"], _table_document(study))
    written["selection"] = out / "selection.json"
    selection = {f"{a} + {f}": run.selection for (a, f), run in study.pairs.items()}
    selection.update({a: run.selection for a, run in study.alm_runs.items() if a not in selection})
    if len(selection) == 1 or not selection:
        selection = study.selection
    _atomic_write_text(written["selection"], json.dumps(selection, indent=2, default=_jsonable) + "\n")
    if plots:
        _require_matplotlib()
        primary = study.primary
        written["confusion"] = plot_confusion(primary, primary.best_system(), out / PLOTS["confusion"])
        if primary.selection.get("weight"):
            written["weight"] = plot_weight_curve(primary, out / PLOTS["weight"])
        if primary.selection.get("amplification"):
            written["amplification"] = plot_amplification_heatmap(primary, out / PLOTS["amplification"])
        if primary.calibration.get("reliability"):
            written["reliability"] = plot_reliability(primary, out / PLOTS["reliability"])
        if study.layer_sweep():
            written["layers"] = plot_layer_sweep(study, out / PLOTS["layers"])
    if html:
        written["html"] = out / "report.html"
        _atomic_write_text(written["html"], html_document(study, {k: v for k, v in written.items() if k in PLOTS}))
    return written


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _table_document(study, parts=None, title=None) -> str:
    """table.md of ``study``; ``parts`` and ``title`` where they are not a categorical Study's."""
    from ..evaluation.tables import markdown_cell, markdown_table, markdown_text

    # Names and labels come from the corpus: escaped like report.html's (headings as cells: no stray '|')
    lines = [f"# {markdown_cell(report_title(study) if title is None else title)}", ""]
    for level, title, kind, payload in (sections(study) if parts is None else parts):
        lines += ["#" * level + " " + markdown_cell(title), ""]
        if kind == "facts":
            lines += [f"- {markdown_text(f)}" for f in payload]
        elif kind == "table":
            lines.append(markdown_table(*payload))
        else:
            lines.append(markdown_text(payload))
        lines.append("")
    return "\n".join(lines)


