"""One call from a corpus to its evaluation: features, protocol, and the run's configuration."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from ..fusion import default_classifier
from ..prompts import DEFAULT_TEMPLATES, SINGLE_TEMPLATE
from .features import compute_features
from .grid import Grid
from .protocol import run_protocol
from .results import Evaluation

__all__ = ["evaluate"]


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
    from .. import __version__

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
