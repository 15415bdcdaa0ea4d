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

__all__ = ["write_report", "plot_confusion", "plot_weight_curve", "plot_amplification_heatmap"]

PLOTS = {
    "confusion": "confusion_matrix.png",
    "weight": "ua_vs_weight.png",
    "amplification": "ua_heatmap_amplification.png",
}


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(evaluation, out_dir, *, plots: bool = True) -> dict:
    """Write ``results.json``, ``table.md``, ``selection.json`` and the PNGs; return their paths.

    With ``plots=True`` and matplotlib missing, raises ImportError naming the extra.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    written["results"] = out / "results.json"
    _atomic_write_text(written["results"], json.dumps(evaluation.to_json(), indent=2, default=_jsonable) + "\n")
    written["table"] = out / "table.md"
    _atomic_write_text(written["table"], _table_document(evaluation))
    written["selection"] = out / "selection.json"
    _atomic_write_text(written["selection"], json.dumps(evaluation.selection, indent=2, default=_jsonable) + "\n")
    if plots:
        _require_matplotlib()
        best = evaluation.best_system()
        written["confusion"] = plot_confusion(evaluation, best, out / PLOTS["confusion"])
        if evaluation.selection.get("weight"):
            written["weight"] = plot_weight_curve(evaluation, out / PLOTS["weight"])
        if evaluation.selection.get("amplification"):
            written["amplification"] = plot_amplification_heatmap(evaluation, out / PLOTS["amplification"])
    return written


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _table_document(evaluation) -> str:
    c = evaluation.config
    lines = [
        f"# {evaluation.dataset}: speaker-independent evaluation",
        "",
        f"- clips: {c.get('n_clips')}, speakers: {c.get('n_speakers')}, folds: {len(c.get('folds', []))} "
        f"({c.get('fold_scheme')})",
        f"- ALM: {c.get('alm')}",
        f"- specialist: {c.get('fm')}",
        f"- selection: {c.get('selection')}",
        "",
        evaluation.table(),
        "",
        "UA = balanced accuracy (mean per-class recall), WA = accuracy, F1 = macro-F1; mean ± std over the test folds.",
        "",
    ]
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
    ax.set_title(f"{evaluation.dataset}: {system} (UA {100 * ua:.1f} %)\nsummed over {len(evaluation.systems[system].folds)} test folds")
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
            ax.text(j, i, label, ha="center", va="center", fontsize=8, color="white")
            if n:
                ax.add_patch(_box(j, i))
    ax.set_title(f"{evaluation.dataset}: zero-shot + ensemble UA over (N_a, N_t)\n"
                 "boxes: chosen by inner CV on training folds", fontsize=10)
    return _save(fig, Path(path))


def _box(x, y):
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2)
