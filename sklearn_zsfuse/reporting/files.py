"""Writing an evaluation to disk: ``results.json``, ``table.md``, ``selection.json``, PNGs, ``report.html``.

What the report says is :mod:`.sections`; the plots are :mod:`.plots`; the page :mod:`.html_page`.
"""

from __future__ import annotations

import json
import os
import re
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
    groups = {}
    if plots:
        _require_matplotlib()
        for title, run in _plotted(study):
            groups[title] = _plot_table(run, title, out, primary=run is study.primary, several=len(study.tables()) > 1)
            written.update(groups[title])
        if study.layer_sweep():
            written["layers"] = plot_layer_sweep(study, out / PLOTS["layers"])
            groups["layer sweep"] = {"layers": written["layers"]}
    if html:
        written["html"] = out / "report.html"
        _atomic_write_text(written["html"], html_document(study, groups))
    return written


def _plotted(study) -> list:
    """(title, Evaluation) of every table, with the names the tables show."""
    from .sections import display_names, shorten

    names = display_names(dict.fromkeys([*study.alms, *study.fms]))
    return [(shorten(title, names), run) for title, run in study.tables()]


def _plot_table(run, title: str, out: Path, *, primary: bool, several: bool) -> dict:
    """The plots of one table: the primary table's under PLOTS' names, the others' with their models in the name.

    Returns ``{kind or file name: path}`` (the first table's keys are PLOTS' kinds).
    """
    label = title if several or "+" in title else None
    tag = "" if primary else "__" + re.sub(r"[^A-Za-z0-9._+-]+", "_", title.replace(" + ", "+"))
    made = {}

    def path(kind):
        name = PLOTS[kind]
        return out / (name if primary else name.replace(".png", f"{tag}.png"))

    def key(kind):
        return kind if primary else path(kind).name

    made[key("confusion")] = plot_confusion(run, run.best_system(), path("confusion"), label=label)
    if run.selection.get("weight"):
        made[key("weight")] = plot_weight_curve(run, path("weight"), label=label)
    if run.selection.get("amplification"):
        made[key("amplification")] = plot_amplification_heatmap(run, path("amplification"), label=label)
    if run.calibration.get("reliability"):
        made[key("reliability")] = plot_reliability(run, path("reliability"), label=label)
    return made


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


