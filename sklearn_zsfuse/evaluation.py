"""The paper's evaluation table on a corpus: specialist, zero-shot, the ablations and ZS-Fuse.

Two stages:

1. :func:`compute_features` runs the models once: the specialist's embedding of
   every clip, the zero-shot logits of the single-prompt system, and those of the
   prompt ensemble for every (N_a, N_t) of the grid. Nothing here sees a label
   (the models are frozen and zero-shot), so computing it on all clips leaks
   nothing; audio is encoded once per N_a thanks to the embedding cache.
2. :func:`run_protocol` does all the learning and selection on those arrays, fold
   by fold. For each test fold, every choice ((N_a, N_t), the fusion weight) is
   made by an inner cross-validation on the *training* clips only; the test fold
   is then predicted once per system.

The systems, in the order of the paper's ablation:

- ``specialist``: the classifier on the specialist's embedding alone;
- ``zero_shot``: one prompt template, N_a = N_t = 1;
- ``zero_shot+ensemble``: the prompt ensemble, N_a = N_t = 1;
- ``zero_shot+ensemble+amplification``: the ensemble with the (N_a, N_t) chosen
  by inner CV;
- ``zs_fuse``: weighted late fusion of that zero-shot system with the specialist,
  the weight chosen by inner CV.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GroupKFold, StratifiedKFold

from .fusion import LateFusionClassifier, default_classifier
from .metrics import confusion, score_all, summarize, unweighted_accuracy
from .prompts import DEFAULT_TEMPLATES, SINGLE_TEMPLATE

__all__ = [
    "SYSTEMS",
    "Evaluation",
    "Features",
    "Grid",
    "compute_features",
    "evaluate",
    "final_model",
    "inner_splits",
    "run_protocol",
    "select_final",
]

SYSTEMS = (
    "specialist",
    "zero_shot",
    "zero_shot+ensemble",
    "zero_shot+ensemble+amplification",
    "zs_fuse",
)
_MAX_INNER_FOLDS = 5


@dataclass(frozen=True)
class Grid:
    """The candidates inner CV chooses from.

    Each N_a costs one pass of the ALM's audio tower over the corpus; N_t and the
    weights cost almost nothing (text prompts; cached arrays). Hence the short
    default for N_a: widen it (``audio_repeats=(1, 2, 3, 4)``) where compute allows.
    """

    audio_repeats: tuple = (1, 2)
    text_repeats: tuple = (1, 2, 3)
    weights: tuple = tuple(round(w, 2) for w in np.linspace(0, 1, 11))

    def __post_init__(self):
        for name in ("audio_repeats", "text_repeats"):
            values = getattr(self, name)
            if not values or any(int(v) != v or v < 1 for v in values):
                raise ValueError(f"grid {name} must be integers >= 1, got {values!r}.")
            object.__setattr__(self, name, tuple(sorted({int(v) for v in values})))
        if not self.weights or any(not 0 <= w <= 1 for w in self.weights):
            raise ValueError(f"grid weights must lie in [0, 1], got {self.weights!r}.")
        object.__setattr__(self, "weights", tuple(sorted({float(w) for w in self.weights})))

    @property
    def amplifications(self) -> list[tuple[int, int]]:
        return [(a, t) for a in self.audio_repeats for t in self.text_repeats]


@dataclass
class Features:
    """Model outputs on every clip: what the protocol learns and selects from."""

    embeddings: np.ndarray | None  # (n, D) specialist embedding, or None without a specialist
    zero_shot: np.ndarray | None  # (n, C) logits, single template, N_a = N_t = 1
    ensemble: dict = field(default_factory=dict)  # (N_a, N_t) -> (n, C) logits of the ensemble


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


def compute_features(
    paths: Sequence[str],
    classes: Sequence,
    *,
    alm=None,
    fm=None,
    grid: Grid = Grid(),
    templates=DEFAULT_TEMPLATES,
    single_template=SINGLE_TEMPLATE,
    class_prompts=None,
    device="auto",
    batch_size=8,
    verbose=0,
    estimator_params=None,
    concurrent=True,
    log: Callable[[str], None] | None = None,
) -> Features:
    """Run the frozen models once over ``paths`` (no labels are used).

    ``estimator_params`` are passed to both estimators (e.g. ``{"cache_dir": ...}``
    where the installed version has a disk cache). With ``concurrent=True`` the
    specialist runs on a second thread while the ALM encodes.
    """
    from .embedding import FMEmbedder
    from .zero_shot import ALMZeroShotScorer

    if alm is None and fm is None:
        raise ValueError("Nothing to evaluate: give an audio-language model (alm), a specialist (fm), or both.")
    log = log or (lambda message: None)
    common = dict(device=device, batch_size=batch_size, verbose=verbose, **(estimator_params or {}))
    embeddings = zero_shot = None
    ensemble = {}
    # Fit both first: a bad model id or a missing file fails here, before any long run.
    embedder = FMEmbedder(fm, **common).fit(paths) if fm is not None else None
    scorer = None
    if alm is not None:
        scorer = ALMZeroShotScorer(alm, classes=list(classes), class_prompts=class_prompts, **common)
        single = clone(scorer).set_params(templates=single_template).fit(paths)

    def embed():
        log(f"specialist {fm}: embedding {len(paths)} clips")
        return embedder.transform(paths)

    pending = None
    if embedder is not None and scorer is not None and concurrent:
        # The branches are independent: the specialist runs on a second thread while the
        # ALM encodes (on CPU, the mel front end and openSMILE are single-threaded).
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zsfuse-fm")
        pending = pool.submit(embed)
        pool.shutdown(wait=False)
    elif embedder is not None:
        embeddings = embed()
    if scorer is not None:
        log(f"zero-shot {alm}: single prompt, N_a = N_t = 1")
        zero_shot = single.transform(paths)
        configs = [(1, 1)] + [c for c in grid.amplifications if c != (1, 1)]
        for n_a, n_t in configs:
            log(f"zero-shot {alm}: prompt ensemble, N_a = {n_a}, N_t = {n_t}")
            est = clone(scorer).set_params(templates=templates, audio_repeats=n_a, text_repeats=n_t)
            ensemble[(n_a, n_t)] = est.fit(paths).transform(paths)
    if pending is not None:
        embeddings = pending.result()
    return Features(embeddings=embeddings, zero_shot=zero_shot, ensemble=ensemble)


def inner_splits(train: np.ndarray, folds, speakers, labels, development=None) -> list:
    """Validation splits of the training clips ``train`` (global indices) for model selection.

    In order of preference: the corpus's official development set; the other
    test folds (leave one training fold out); speaker-grouped folds; label-
    stratified folds. Every index returned lies in ``train``.
    """
    train = np.asarray(train)
    folds, speakers, labels = np.asarray(folds), np.asarray(speakers), np.asarray(labels)
    if development is not None:
        dev = np.asarray(development, dtype=bool)[train]
        if dev.any() and (~dev).any():
            return [(train[~dev], train[dev])]
    train_folds = folds[train]
    ids = np.unique(train_folds[train_folds >= 0])
    if len(ids) >= 2:
        return [(train[train_folds != k], train[train_folds == k]) for k in ids]
    groups = speakers[train]
    n_groups = len(np.unique(groups))
    if n_groups >= 2:
        splitter = GroupKFold(n_splits=min(_MAX_INNER_FOLDS, n_groups))
        return [(train[a], train[b]) for a, b in splitter.split(train, labels[train], groups)]
    counts = np.unique(labels[train], return_counts=True)[1]
    k = min(_MAX_INNER_FOLDS, int(counts.min()))
    if k < 2:
        raise ValueError(
            "Cannot select hyper-parameters: the training clips have a single speaker and a class with "
            "one clip, so no validation split exists."
        )
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=0)
    return [(train[a], train[b]) for a, b in splitter.split(train, labels[train])]


def _argmax_labels(classes, scores):
    return classes[np.argmax(scores, axis=1)]


def _zero_shot_inner_ua(logits, labels, classes, splits) -> float:
    """Mean UA over the validation folds: zero-shot learns nothing, so only validation rows matter."""
    return float(np.mean([unweighted_accuracy(labels[val], _argmax_labels(classes, logits[val])) for _, val in splits]))


def _select(candidates: list, scores: list) -> object:
    """The candidate with the best score; the earliest one on ties."""
    return candidates[int(np.argmax(scores))]


def run_protocol(
    features: Features,
    labels,
    folds,
    speakers,
    *,
    classes=None,
    grid: Grid = Grid(),
    development=None,
    classifier=None,
    dataset="corpus",
    log: Callable[[str], None] | None = None,
) -> Evaluation:
    """Learn, select and score every system fold by fold on precomputed ``features``.

    ``folds[i]`` is clip i's test fold (``-1``: training only). For each test
    fold k the training clips are all others; selections use
    :func:`inner_splits` of the training clips only.
    """
    labels = np.asarray(labels, dtype=object)
    folds = np.asarray(folds)
    speakers = np.asarray(speakers, dtype=object)
    classes = np.unique(labels) if classes is None else np.asarray(classes, dtype=object)
    base = default_classifier() if classifier is None else classifier
    log = log or (lambda message: None)
    n = len(labels)
    has_fm = features.embeddings is not None
    has_zs = features.zero_shot is not None
    names = [s for s in SYSTEMS if (s == "specialist" and has_fm) or (s.startswith("zero_shot") and has_zs)
             or (s == "zs_fuse" and has_fm and has_zs)]
    predictions = {s: np.full(n, None, dtype=object) for s in names}
    per_fold = {s: [] for s in names}
    amplification_configs = [c for c in grid.amplifications if c in features.ensemble] if has_zs else []
    selection = {"amplification": [], "weight": []}

    for k in np.unique(folds[folds >= 0]):
        test = np.flatnonzero(folds == k)
        train = np.flatnonzero(folds != k)
        splits = inner_splits(train, folds, speakers, labels, development)
        log(f"fold {int(k)}: {len(train)} training clips, {len(test)} test clips, {len(splits)} inner splits")
        params = {}
        if has_fm and not has_zs:
            spec = clone(base).fit(features.embeddings[train], labels[train])
            predictions["specialist"][test] = spec.predict(features.embeddings[test])
            params["specialist"] = {}
        if has_zs:
            predictions["zero_shot"][test] = _argmax_labels(classes, features.zero_shot[test])
            predictions["zero_shot+ensemble"][test] = _argmax_labels(classes, features.ensemble[(1, 1)][test])
            params["zero_shot"] = {"templates": "single", "audio_repeats": 1, "text_repeats": 1}
            params["zero_shot+ensemble"] = {"templates": "ensemble", "audio_repeats": 1, "text_repeats": 1}
            inner = [_zero_shot_inner_ua(features.ensemble[c], labels, classes, splits) for c in amplification_configs]
            chosen = _select(amplification_configs, inner)
            test_ua = [
                unweighted_accuracy(labels[test], _argmax_labels(classes, features.ensemble[c][test]))
                for c in amplification_configs
            ]
            selection["amplification"].append({
                "fold": int(k),
                "candidates": [list(c) for c in amplification_configs],
                "inner_ua": inner,
                "test_ua": test_ua,
                "chosen": list(chosen),
            })
            zs = features.ensemble[chosen]
            predictions["zero_shot+ensemble+amplification"][test] = _argmax_labels(classes, zs[test])
            params["zero_shot+ensemble+amplification"] = {
                "templates": "ensemble", "audio_repeats": chosen[0], "text_repeats": chosen[1]
            }
        if has_fm and has_zs:
            weight, inner_w = _select_weight(zs, features.embeddings, labels, splits, grid.weights, base)
            # One fit serves three systems: the fused model's classifier is the specialist
            # (weight 0 returns its probabilities unchanged), and every weight's test UA is a
            # diagnostic read from the same fit.
            _require_all_classes(labels, train, len(classes), f"the training part of fold {int(k)}")
            fused = LateFusionClassifier(method="weighted", classifier=base)
            fused.fit(np.hstack([zs[train], features.embeddings[train]]), labels[train])
            X_test = np.hstack([zs[test], features.embeddings[test]])
            predictions["specialist"][test] = fused.set_params(weight=0.0).predict(X_test)
            test_w = [unweighted_accuracy(labels[test], fused.set_params(weight=w).predict(X_test)) for w in grid.weights]
            predictions["zs_fuse"][test] = fused.set_params(weight=weight).predict(X_test)
            params["specialist"] = {}
            params["zs_fuse"] = {**params["zero_shot+ensemble+amplification"], "weight": weight}
            selection["weight"].append({
                "fold": int(k), "weights": list(grid.weights), "inner_ua": inner_w, "test_ua": test_w, "chosen": weight
            })
        for s in names:
            y_true, y_pred = labels[test], predictions[s][test]
            per_fold[s].append({
                "fold": int(k),
                "n": int(len(test)),
                **score_all(y_true, y_pred),
                "params": params[s],
                "confusion_matrix": confusion(y_true, y_pred, classes).tolist(),
            })
    systems = {s: SystemResult(s, predictions[s], per_fold[s]) for s in names}
    return Evaluation(dataset=dataset, classes=classes, systems=systems, selection=selection)


def _require_all_classes(labels, rows, n_classes, where):
    """Weighted fusion lines zero-shot columns up with the classifier's classes: all must be seen."""
    missing = sorted(set(np.unique(labels)) - set(np.unique(labels[rows])), key=str)
    if missing:
        raise ValueError(
            f"{where} has no clip of class(es) {missing}, so ZS-Fuse's classifier cannot be trained on all "
            f"{n_classes} classes there. Use folds whose training part holds every class (e.g. a fold column "
            "in metadata.csv), or leave out the rare classes."
        )


def _select_weight(zs, emb, labels, splits, weights, base):
    """The fusion weight with the best mean inner-CV UA, and that UA for every weight.

    The specialist's classifier does not depend on the weight, so it is fitted
    once per inner split and every weight is scored from the same fit.
    """
    inner = np.zeros((len(splits), len(weights)))
    for i, (fit_rows, val_rows) in enumerate(splits):
        _require_all_classes(labels, fit_rows, zs.shape[1], f"inner split {i + 1} of the training clips")
        est = LateFusionClassifier(method="weighted", classifier=base).fit(
            np.hstack([zs[fit_rows], emb[fit_rows]]), labels[fit_rows]
        )
        X_val = np.hstack([zs[val_rows], emb[val_rows]])
        for j, w in enumerate(weights):
            inner[i, j] = unweighted_accuracy(labels[val_rows], est.set_params(weight=w).predict(X_val))
    mean_inner = inner.mean(axis=0).tolist()
    return float(_select(list(weights), mean_inner)), mean_inner


def evaluate(
    corpus,
    *,
    alm=None,
    fm=None,
    grid: Grid = Grid(),
    templates=DEFAULT_TEMPLATES,
    single_template=SINGLE_TEMPLATE,
    class_prompts=None,
    classifier=None,
    device="auto",
    batch_size=8,
    verbose=0,
    estimator_params=None,
    log: Callable[[str], None] | None = None,
) -> Evaluation:
    """The paper's table for ``corpus`` (a :class:`~sklearn_zsfuse.datasets.Corpus`).

    ``alm``/``fm`` are model ids or directories (``fm="egemaps"`` for openSMILE);
    either may be None to evaluate only the other branch.
    """
    from . import __version__

    start = time.perf_counter()
    features = compute_features(
        corpus.paths, corpus.classes, alm=alm, fm=fm, grid=grid, templates=templates,
        single_template=single_template, class_prompts=class_prompts, device=device,
        batch_size=batch_size, verbose=verbose, estimator_params=estimator_params, log=log,
    )
    result = run_protocol(
        features, corpus.labels, corpus.folds, corpus.speakers, classes=corpus.classes, grid=grid,
        development=corpus.development, classifier=classifier, dataset=corpus.name, log=log,
    )
    result.config = {
        "alm": None if alm is None else str(alm),
        "fm": None if fm is None else str(fm),
        "root": str(corpus.root),
        "n_clips": len(corpus),
        "n_speakers": int(len(np.unique(corpus.speakers))),
        "folds": [int(k) for k in corpus.fold_ids],
        "fold_scheme": corpus.fold_scheme,
        "classes": [str(c) for c in corpus.classes],
        "notes": list(corpus.notes),
        "grid": {
            "audio_repeats": list(grid.audio_repeats),
            "text_repeats": list(grid.text_repeats),
            "weights": list(grid.weights),
        },
        "templates": {"single": list(single_template), "ensemble": list(templates)},
        "class_prompts": class_prompts,
        "classifier": repr(default_classifier() if classifier is None else classifier),
        "selection": "inner cross-validation on the training clips of each test fold (official development "
        "set, else leave one training fold out, else speaker groups); test folds are never used to choose",
        "std": "population standard deviation over test folds (ddof=0)",
        "device": device,
        "batch_size": batch_size,
        "seconds": round(time.perf_counter() - start, 1),
        "version": __version__,
    }
    result.features = features
    return result


def select_final(features: Features, labels, folds, speakers, *, classes=None, grid: Grid = Grid(),
                 development=None, classifier=None) -> dict:
    """(N_a, N_t) and the fusion weight for a model trained on *all* clips.

    The same inner CV as in :func:`run_protocol`, over every clip (for corpora
    whose clips all have a test fold, this is the outer folds themselves).
    """
    labels = np.asarray(labels, dtype=object)
    classes = np.unique(labels) if classes is None else np.asarray(classes, dtype=object)
    base = default_classifier() if classifier is None else classifier
    everything = np.arange(len(labels))
    splits = inner_splits(everything, folds, speakers, labels, development)
    chosen = {}
    if features.zero_shot is not None:
        configs = [c for c in grid.amplifications if c in features.ensemble]
        inner = [_zero_shot_inner_ua(features.ensemble[c], labels, classes, splits) for c in configs]
        chosen["audio_repeats"], chosen["text_repeats"] = _select(configs, inner)
        if features.embeddings is not None:
            zs = features.ensemble[(chosen["audio_repeats"], chosen["text_repeats"])]
            chosen["weight"], _ = _select_weight(zs, features.embeddings, labels, splits, grid.weights, base)
    return chosen


def final_model(system: str, params: dict, *, alm=None, fm=None, classes=None, templates=DEFAULT_TEMPLATES,
                single_template=SINGLE_TEMPLATE, class_prompts=None, classifier=None, device="auto",
                batch_size=8, estimator_params=None):
    """An unfitted scikit-learn estimator for ``system`` with the selected ``params``.

    Fit it on paths and labels; it takes paths (or waveforms) at predict time.
    """
    from sklearn.pipeline import Pipeline

    from .embedding import FMEmbedder
    from .pipeline import make_zsfuse_pipeline
    from .zero_shot import ALMZeroShotScorer

    common = dict(device=device, batch_size=batch_size, **(estimator_params or {}))
    base = default_classifier() if classifier is None else classifier
    if system == "specialist":
        return Pipeline([("fm", FMEmbedder(fm, **common)), ("classifier", clone(base))])
    zs = dict(classes=None if classes is None else list(classes), class_prompts=class_prompts, **common)
    if system == "zero_shot":
        return ALMZeroShotScorer(alm, templates=single_template, **zs)
    if system == "zero_shot+ensemble":
        return ALMZeroShotScorer(alm, templates=templates, **zs)
    if system == "zero_shot+ensemble+amplification":
        return ALMZeroShotScorer(alm, templates=templates, audio_repeats=params["audio_repeats"],
                                 text_repeats=params["text_repeats"], **zs)
    if system == "zs_fuse":
        pipe = make_zsfuse_pipeline(
            alm, fm, class_prompts=class_prompts, templates=templates, audio_repeats=params["audio_repeats"],
            text_repeats=params["text_repeats"], weight=params["weight"], classifier=classifier, device=device,
            batch_size=batch_size,
        )
        if estimator_params:
            pipe.set_params(**{f"features__{b}__{k}": v for b in ("zs", "fm") for k, v in estimator_params.items()})
        return pipe
    raise ValueError(f"Unknown system {system!r}; choose one of {list(SYSTEMS)}.")
