"""The report's PNG plots, drawn on ``matplotlib.figure.Figure`` objects with the Agg canvas.

Never through ``pyplot``: the user's pyplot state, backend and open figures are
left alone.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import MappingProxyType

import numpy as np

__all__ = ["PLOTS", "plot_amplification_heatmap", "plot_confusion", "plot_layer_sweep", "plot_reliability",
           "plot_weight_curve"]

PLOTS = MappingProxyType({
    "confusion": "confusion_matrix.png",
    "weight": "ua_vs_weight.png",
    "amplification": "ua_heatmap_amplification.png",
    "reliability": "reliability_zero_shot.png",
    "layers": "ua_vs_layer.png",
})

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


def _name(evaluation, label) -> str:
    """The title's subject: the corpus, and which models' table the plot is of."""
    return f"{evaluation.dataset}, {label}" if label else evaluation.dataset


def _over_folds(n: int) -> str:
    return "mean ± std over test folds" if n > 1 else "one test set"


def plot_confusion(evaluation, system: str, path, label: str | None = None) -> Path:
    """Row-normalised confusion matrix (recall per true class) of ``system``, counts in each cell.

    ``label`` names the models of the table (``"tiny-clap + egemaps"``) in the title, as in every plot here.
    """
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
    ax.set_title(f"{_name(evaluation, label)}: {system} (UA {100 * ua:.1f} %)\n"
                 f"summed over {n} test fold{'s' * (n > 1)}")
    return _save(fig, Path(path))


def plot_weight_curve(evaluation, path, label: str | None = None) -> Path:
    """UA against the fusion weight: inner-CV (what chose the weight) and test folds (diagnostic).

    The weights chosen are dotted lines, counted in the legend (not written over the curves).
    """
    rows = evaluation.selection["weight"]
    weights = np.asarray(rows[0]["weights"])
    inner = np.asarray([r["inner_ua"] for r in rows]) * 100
    test = np.asarray([r["test_ua"] for r in rows]) * 100
    chosen = [r["chosen"] for r in rows]
    several = len(rows) > 1
    fig = _figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    ax.plot(weights, inner.mean(0), marker="o", label="inner CV on training folds (selection)")
    ax.plot(weights, test.mean(0), marker="s", label="test folds (diagnostic only)")
    if several:
        ax.fill_between(weights, inner.mean(0) - inner.std(0), inner.mean(0) + inner.std(0), alpha=0.15)
        ax.fill_between(weights, test.mean(0) - test.std(0), test.mean(0) + test.std(0), alpha=0.15)
    counts = ", ".join(f"{w:g} ×{chosen.count(w)}" for w in sorted(set(chosen)))
    for k, w in enumerate(sorted(set(chosen))):
        ax.axvline(w, color="grey", linestyle=":", linewidth=1,
                   label=f"chosen by inner CV: w = {counts}" if k == 0 else None)
    ax.set_xlabel("fusion weight w  (0 = specialist alone, 1 = zero-shot alone)")
    ax.set_ylabel("UA (%)")
    ax.set_title(f"{_name(evaluation, label)}: ZS-Fuse UA vs fusion weight\n({_over_folds(len(rows))})",
                 fontsize=10)
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    return _save(fig, Path(path))


def plot_amplification_heatmap(evaluation, path, label: str | None = None) -> Path:
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
    ax.set_title(f"{_name(evaluation, label)}: zero-shot + ensemble UA over (N_a, N_t)\n"
                 "boxes: chosen by inner CV on training folds", fontsize=10)
    return _save(fig, Path(path))


def _box(x, y):
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2)


def plot_reliability(evaluation, path, label: str | None = None) -> Path:
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
    ax.set_title(f"{_name(evaluation, label)}: zero-shot reliability\n(test clips pooled, {c['n_bins']} bins)",
                 fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    return _save(fig, Path(path))


def plot_layer_sweep(study, path) -> Path:
    """UA against the specialist's layer: the specialist alone and ZS-Fuse with each ALM.

    The layers are the x axis's categories, in the order evaluated (whole numbers, no
    fractional ticks); ``all`` (the specialist on the mean of every layer's states, one
    more specialist, not a mean of UAs) is its own category at the end, a point apart.
    """
    from ..evaluation.systems import SPECIALIST

    sweep = study.layer_sweep()
    numbered = sorted({layer for rows in sweep.values() for layer, _ in rows if layer != "all"}, key=int)
    at = {layer: k for k, layer in enumerate(numbered)}  # every model's layers on one axis
    at["all"] = len(numbered) + 0.5
    fig = _figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    for model, rows in sweep.items():
        numeric = [(layer, cells) for layer, cells in rows if layer != "all"]
        prefix = f"{model}: " if len(sweep) > 1 else ""
        for column in rows[0][1]:
            label = prefix + (column if column == SPECIALIST.name else f"ZS-Fuse with {column}")
            line = ax.plot([at[layer] for layer, _ in numeric], [100 * cells[column] for _, cells in numeric],
                           marker="o", label=label)
            every = [cells[column] for layer, cells in rows if layer == "all"]
            if every:
                ax.plot([at["all"]], [100 * every[0]], marker="D", linestyle="none", color=line[0].get_color())
    has_all = any(layer == "all" for rows in sweep.values() for layer, _ in rows)
    ax.set_xticks([at[layer] for layer in numbered] + ([at["all"]] if has_all else []),
                  [str(layer) for layer in numbered] + (["all\n(mean of states)"] if has_all else []))
    ax.set_xlabel("specialist layer (hidden state index)")
    ax.set_ylabel("UA (%)")
    over = "mean over test folds" if study.n_folds > 1 else "one test set"
    ax.set_title(f"{study.dataset}: UA vs specialist layer ({over})")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, Path(path))
