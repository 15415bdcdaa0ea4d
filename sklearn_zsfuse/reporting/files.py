"""Writing an :class:`~sklearn_zsfuse.evaluation.Evaluation` to disk: JSON, markdown, PNG plots.

Plots are drawn on ``matplotlib.figure.Figure`` objects with the Agg canvas,
never through ``pyplot``: the user's pyplot state, backend and open figures are
left alone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

__all__ = ["write_report", "plot_confusion", "plot_weight_curve", "plot_amplification_heatmap", "plot_reliability",
           "plot_layer_sweep", "as_study"]

PLOTS = {
    "confusion": "confusion_matrix.png",
    "weight": "ua_vs_weight.png",
    "amplification": "ua_heatmap_amplification.png",
    "reliability": "reliability_zero_shot.png",
    "layers": "ua_vs_layer.png",
}
FOOTNOTE = ("UA = balanced accuracy (mean per-class recall), WA = accuracy, F1 = macro-F1; mean ± std over the test "
            "folds (no std with a single test set). Per-class recall pools the test clips of all folds. The paired "
            "comparison resamples test clips within each class (bootstrap, seeded) and gives McNemar's exact p-value "
            "on the clips only one of the two systems gets right. zero_shot+calibrated divides the logits by a "
            "temperature fitted on the training clips: its labels are those of the amplified ensemble, its "
            "probabilities (ECE) differ.")


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def as_study(evaluation):
    """A :class:`~sklearn_zsfuse.evaluation.Study` for a Study or a single Evaluation (one table)."""
    from ..evaluation import Evaluation, Study

    if isinstance(evaluation, Study):
        return evaluation
    if not isinstance(evaluation, Evaluation):
        raise TypeError(f"write_report takes a Study or an Evaluation, got {type(evaluation).__name__}.")
    alm = str(evaluation.config.get("alm") or "ALM")
    fm = str(evaluation.config.get("fm") or "specialist")
    has_zs, has_fm = "zero_shot" in evaluation.systems, "specialist" in evaluation.systems
    return Study(
        dataset=evaluation.dataset, classes=evaluation.classes, alms=[alm] if has_zs else [],
        fms=[fm] if has_fm else [], alm_runs={alm: evaluation} if has_zs and not has_fm else {},
        fm_runs={fm: evaluation} if has_fm and not has_zs else {},
        pairs={(alm, fm): evaluation} if has_zs and has_fm else {}, config=evaluation.config,
    )


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
        from .html_page import html_document

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


def display_names(names) -> dict:
    """Model name -> what tables show: a directory's last part when that is unambiguous, else the name."""
    short = {}
    for name in names:
        text = str(name).rstrip("/\\")
        short[name] = Path(text).name if ("/" in text or "\\" in text) else text
    if len(set(short.values())) < len(short):
        counts = {v: list(short.values()).count(v) for v in short.values()}
        short = {n: (str(n) if counts[v] > 1 else v) for n, v in short.items()}
    return short


def _shorten(text: str, names: dict) -> str:
    for full in sorted(names, key=lambda n: -len(str(n))):
        text = text.replace(str(full), names[full])
    return text


def sections(study) -> list:
    """The report's parts in reading order, shared by table.md and report.html.

    ``[(level, title, kind, payload)]``: kind "facts" (list of str), "table"
    ((header, rows)), "text" (str).
    """
    c = study.config
    models = [*study.alms, *study.fms]
    for f in study.fms:  # a layer sweep names "<model> [layer k]": shorten the model part too
        model = (study.feature_set.fm_layers.get(f, (f, None))[0] if study.feature_set is not None else f)
        models.append(model)
    names = display_names(dict.fromkeys(models))
    out = []
    n_folds = len(c.get("folds", [])) or study.n_folds
    facts = [f"clips: {c.get('n_clips')}, speakers: {c.get('n_speakers')}, test folds: {n_folds} "
             f"({c.get('fold_scheme')})",
             f"ALM(s): {', '.join(study.alms) or 'none'}",
             f"specialist(s): {', '.join(study.fms) or 'none'}",
             *(["names in the tables: " + ", ".join(f"{v} = {k}" for k, v in names.items() if v != str(k))]
               if any(v != str(k) for k, v in names.items()) else []),
             f"selection: {c.get('selection')}"]
    if study.cross_corpus:
        x = study.cross_corpus
        facts.append(f"cross-corpus: train {x['train']} ({x['train_clips']} clips), test {x['test']} "
                     f"({x['test_clips']} clips); classes kept: {', '.join(x['kept'])}")
        facts.append(f"dropped from {x['train']}: {_dropped(x['train_dropped'])}; dropped from {x['test']}: "
                     f"{_dropped(x['test_dropped'])}")
    out.append((2, "Run", "facts", facts))
    if len(study.pairs) > 1:
        from ..evaluation import FUSIONS

        for system in FUSIONS:
            out.append((2, f"Summary: {system} UA (%), ALM x specialist", "table", study.grid_rows(system)))
    for model, header, rows in study.layer_rows():
        out.append((2, f"Layer sweep: {model}", "table", (header, rows)))
    for title, run in study.tables():
        out.append((2, title, "table", run.table_rows()))
        out.append((3, "Per-class recall", "table", run.recall_rows()))
        if run.comparison:
            out.append((3, "Paired comparison with the specialist (same test clips)", "table", run.comparison_rows()))
        if run.calibration:
            out.append((3, "Calibration of the zero-shot probabilities", "table", run.calibration_rows()))
    out.append((2, "Notes", "text", FOOTNOTE))

    def short(value):
        if isinstance(value, str):
            return _shorten(value, names)
        if isinstance(value, tuple):
            return tuple(short(v) for v in value)
        if isinstance(value, list):
            return [short(v) for v in value]
        return value

    # The run's facts keep the full names; titles and table cells use the short ones.
    return [out[0]] + [(level, short(title), kind, short(payload)) for level, title, kind, payload in out[1:]]


def _dropped(counts: dict) -> str:
    return ", ".join(f"{k} ({v} clips)" for k, v in counts.items()) or "nothing"


def _title(study) -> str:
    kind = "cross-corpus evaluation" if study.cross_corpus else "speaker-independent evaluation"
    return f"{study.dataset}: {kind}"


def _table_document(study) -> str:
    from ..evaluation.tables import markdown_cell, markdown_table, markdown_text

    # Names and labels come from the corpus: escaped like report.html's (headings as cells: no stray '|')
    lines = [f"# {markdown_cell(_title(study))}", ""]
    for level, title, kind, payload in sections(study):
        lines += ["#" * level + " " + markdown_cell(title), ""]
        if kind == "facts":
            lines += [f"- {markdown_text(f)}" for f in payload]
        elif kind == "table":
            lines.append(markdown_table(*payload))
        else:
            lines.append(markdown_text(payload))
        lines.append("")
    return "\n".join(lines)


def _require_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError(
            "The evaluation plots need matplotlib: pip install 'sklearn-zsfuse[plots]' (or pass --no-plots)."
        ) from None


def _figure(**kwargs):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path) -> Path:
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    os.replace(tmp, path)
    return path


def plot_confusion(evaluation, system: str, path) -> Path:
    """Row-normalised confusion matrix (recall per true class) of ``system``, counts in each cell."""
    counts = evaluation.confusion_matrix(system)
    classes = [str(c) for c in evaluation.classes]
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0)
    size = max(4.5, 0.7 * len(classes) + 2.5)
    fig = _figure(figsize=(size, size * 0.9))
    ax = fig.subplots()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, f"{100 * share[i, j]:.0f}\n({counts[i, j]})", ha="center", va="center", fontsize=7,
                    color="white" if share[i, j] > 0.5 else "black")
    ua = evaluation.systems[system].summary["ua"]
    n = len(evaluation.systems[system].folds)
    ax.set_title(f"{evaluation.dataset}: {system} (UA {100 * ua:.1f} %)\nsummed over {n} test fold{'s' * (n > 1)}")
    return _save(fig, Path(path))


def plot_weight_curve(evaluation, path) -> Path:
    """UA against the fusion weight: inner-CV (what chose the weight) and test folds (diagnostic)."""
    rows = evaluation.selection["weight"]
    weights = np.asarray(rows[0]["weights"])
    inner = np.asarray([r["inner_ua"] for r in rows]) * 100
    test = np.asarray([r["test_ua"] for r in rows]) * 100
    chosen = [r["chosen"] for r in rows]
    fig = _figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    ax.plot(weights, inner.mean(0), marker="o", label="inner CV on training folds (selection)")
    ax.fill_between(weights, inner.mean(0) - inner.std(0), inner.mean(0) + inner.std(0), alpha=0.15)
    ax.plot(weights, test.mean(0), marker="s", label="test folds (diagnostic only)")
    ax.fill_between(weights, test.mean(0) - test.std(0), test.mean(0) + test.std(0), alpha=0.15)
    for w in sorted(set(chosen)):
        ax.axvline(w, color="grey", linestyle=":", linewidth=1)
        ax.annotate(f"chosen ×{chosen.count(w)}", (w, ax.get_ylim()[1]), rotation=90, va="top", ha="right",
                    fontsize=7, color="grey")
    ax.set_xlabel("fusion weight w  (0 = specialist alone, 1 = zero-shot alone)")
    ax.set_ylabel("UA (%)")
    ax.set_title(f"{evaluation.dataset}: ZS-Fuse UA vs fusion weight (mean ± std over folds)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, Path(path))


def plot_amplification_heatmap(evaluation, path) -> Path:
    """Zero-shot (ensemble) UA over (N_a, N_t): test folds' mean, the inner-CV choices boxed."""
    rows = evaluation.selection["amplification"]
    candidates = [tuple(c) for c in rows[0]["candidates"]]
    audio = sorted({a for a, _ in candidates})
    text = sorted({t for _, t in candidates})
    test = np.asarray([r["test_ua"] for r in rows]).mean(0) * 100
    grid = np.full((len(audio), len(text)), np.nan)
    for (a, t), value in zip(candidates, test):
        grid[audio.index(a), text.index(t)] = value
    chosen = [tuple(r["chosen"]) for r in rows]
    fig = _figure(figsize=(1.1 * len(text) + 3.2, 0.9 * len(audio) + 2.4))
    ax = fig.subplots()
    image = ax.imshow(grid, cmap="viridis", origin="lower", aspect="auto")
    fig.colorbar(image, ax=ax, label="UA (%) on test folds, mean")
    ax.set_xticks(range(len(text)), [str(t) for t in text])
    ax.set_yticks(range(len(audio)), [str(a) for a in audio])
    ax.set_xlabel("text repeats N_t")
    ax.set_ylabel("audio repeats N_a")
    for i, a in enumerate(audio):
        for j, t in enumerate(text):
            n = chosen.count((a, t))
            label = f"{grid[i, j]:.1f}" + (f"\nchosen ×{n}" if n else "")
            bright = image.norm(grid[i, j]) > 0.6 if np.isfinite(grid[i, j]) else False  # viridis turns yellow
            ax.text(j, i, label, ha="center", va="center", fontsize=8, color="black" if bright else "white")
            if n:
                ax.add_patch(_box(j, i))
    ax.set_title(f"{evaluation.dataset}: zero-shot + ensemble UA over (N_a, N_t)\n"
                 "boxes: chosen by inner CV on training folds", fontsize=10)
    return _save(fig, Path(path))


def _box(x, y):
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2)


def plot_reliability(evaluation, path) -> Path:
    """Reliability diagram of the zero-shot probabilities: accuracy per confidence bin, before and after calibration."""
    c = evaluation.calibration
    fig = _figure(figsize=(5.2, 4.6))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect calibration")
    for key, marker, label in (("before", "o", f"raw logits (ECE {c['ece_before']:.3f})"),
                               ("after", "s", f"temperature-scaled (ECE {c['ece_after']:.3f})")):
        r = c["reliability"][key]
        points = [(x, y) for x, y in zip(r["confidence"], r["accuracy"]) if x is not None]
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker=marker, label=label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (largest zero-shot probability)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{evaluation.dataset}: zero-shot reliability\n(test clips pooled, {c['n_bins']} bins)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    return _save(fig, Path(path))


def plot_layer_sweep(study, path) -> Path:
    """UA against the specialist's layer: the specialist alone and ZS-Fuse with each ALM."""
    sweep = study.layer_sweep()
    fig = _figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    for model, rows in sweep.items():
        numeric = [(layer, cells) for layer, cells in rows if layer != "all"]
        xs = [layer for layer, _ in numeric]
        prefix = f"{model}: " if len(sweep) > 1 else ""
        for column in rows[0][1]:
            label = prefix + ("specialist" if column == "specialist" else f"ZS-Fuse with {column}")
            line = ax.plot(xs, [100 * cells[column] for _, cells in numeric], marker="o", label=label)
            mean = [cells[column] for layer, cells in rows if layer == "all"]
            if mean:
                ax.axhline(100 * mean[0], color=line[0].get_color(), linestyle=":", linewidth=1,
                           label=f"{label}, mean of layers")
    ax.set_xlabel("specialist layer (hidden state index)")
    ax.set_ylabel("UA (%)")
    ax.set_title(f"{study.dataset}: UA vs specialist layer (mean over test folds)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, Path(path))
