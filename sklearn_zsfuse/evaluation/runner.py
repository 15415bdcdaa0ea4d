"""One call from a corpus to its evaluation: features, protocol, and the run's configuration."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np

from ..estimators.fusion_proba import default_classifier
from ..estimators.prompts import DEFAULT_TEMPLATES, SINGLE_TEMPLATE
from ..estimators.threads import check_threads
from .features import compute_feature_set
from .grid import Grid
from .protocol import run_study
from .results import Study
from .specialist_pairs import with_specialist_pairs

__all__ = ["evaluate"]


def _model_list(value, name) -> list:
    """None, one model, or a list of models -> a list (models are ids, paths or 'egemaps')."""
    if value is None:
        return []
    if isinstance(value, (str, os.PathLike)):
        return [value]
    models = [v for v in value if v is not None]
    if not models and list(value):
        raise ValueError(f"{name}: the list holds only None.")
    return models


def _layers(layer) -> list | None:
    if layer is None:
        return None
    values = [layer] if isinstance(layer, (int, np.integer, str)) else list(layer)
    out = []
    for v in values:
        if v == "all":
            out.append("all")
        elif isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            out.append(int(v))
        else:
            raise ValueError(f"layer must be an int, 'all', or a list of them; got {v!r}.")
        if out.count(out[-1]) > 1:
            raise ValueError(f"layer {out[-1]!r} is given twice.")
    return out


def _shared_classes(corpus, test_corpus) -> tuple:
    """:func:`~sklearn_zsfuse.datasets.labels.shared_classes`; fewer than two classes in common: a CorpusError."""
    from ..datasets import CorpusError
    from ..datasets.labels import shared_classes

    try:
        return shared_classes(corpus, test_corpus)
    except CorpusError:
        raise
    except ValueError as exc:  # its one refusal: the two corpora's labels, not a bug
        raise CorpusError(str(exc)) from exc


def resolve_classifier(classifier=None, class_weight=None):
    """The specialist's classifier: ``classifier``, else the default with ``class_weight``."""
    if class_weight is None:
        return classifier
    if classifier is not None:
        raise ValueError(
            "give class_weight or classifier, not both: set class_weight on your classifier itself "
            "(e.g. LogisticRegression(class_weight='balanced'))."
        )
    return default_classifier(class_weight=class_weight)


def evaluate(
    corpus,
    *,
    alm=None,
    fm=None,
    layer=None,
    test_corpus=None,
    name: str | None = None,
    grid: Grid = Grid(),
    templates=DEFAULT_TEMPLATES,
    single_template=SINGLE_TEMPLATE,
    class_prompts=None,
    classifier=None,
    class_weight=None,
    device="auto",
    batch_size=8,
    verbose=0,
    estimator_params=None,
    scheduler=None,
    log: Callable[[str], None] | None = None,
    threads=None,
    specialist_pairs: bool = False,
) -> Study:
    """The paper's tables for ``corpus`` (a :class:`~sklearn_zsfuse.datasets.Corpus`).

    ``alm``/``fm`` are a model id or directory (``fm="egemaps"`` for openSMILE), a
    list of them, or None to evaluate only the other branch. Every model is run
    once; the protocol runs for every ALM alone, every specialist alone and every
    (ALM, specialist) pair (see :class:`~sklearn_zsfuse.evaluation.Study`).

    ``layer``: the specialist's hidden state (an int or ``"all"``, their mean), or
    a list of them to sweep: each layer becomes a specialist of its own (named
    ``"<fm> [layer k]"``) and audio is encoded once per model for all of them
    (eGeMAPS, which has a single "layer", stays one specialist).
    Without it, FMEmbedder's default (the last layer).

    ``test_corpus``: train on ``corpus`` and test on this one (cross-corpus), on
    the classes the two share; ``Study.cross_corpus`` says which were kept and how
    many clips each side dropped. The zero-shot rows are scored on the test corpus
    as they are (they learn nothing); every choice is made on ``corpus``.

    ``name``: the corpus name in titles and tables (default: the loader's name).
    ``class_weight``: the default classifier's (``"balanced"`` for imbalanced
    corpora; see :func:`~sklearn_zsfuse.estimators.fusion.default_classifier`); give it or
    ``classifier``, not both.
    ``estimator_params`` go to the estimator(s) that take them
    (``{"cache_dir": ...}`` to both, ``{"max_duration": 30}`` to both, ...).
    ``scheduler``: encode on the dask cluster at this address (or client) first,
    into ``estimator_params["cache_dir"]`` (see :func:`compute_feature_set`).
    ``threads``: BLAS/OpenMP threads of the selection's fits and predictions, only while
    they run (None: the package's choice, 1; -1: the libraries' own setting; see
    :mod:`sklearn_zsfuse.estimators.threads`).
    ``specialist_pairs``: also evaluate every two specialists side by side as one
    more specialist, alone and fused with each ALM (named ``"<fm> & <fm>"``; see
    :mod:`sklearn_zsfuse.evaluation.specialist_pairs`).
    """
    from .. import __version__

    start = time.perf_counter()
    check_threads(threads, "threads")  # before the encoding, not after it
    classifier = resolve_classifier(classifier, class_weight)
    alms, fms = _model_list(alm, "alm"), _model_list(fm, "fm")
    if specialist_pairs and len(fms) < 2:
        raise ValueError(f"specialist_pairs=True joins two specialists, but fm= gives {len(fms)}.")
    layers = _layers(layer)
    if layers is not None and not fms:
        raise ValueError("layer= chooses the specialist's hidden state, but no specialist (fm) is given.")
    cross = None
    train = corpus
    if test_corpus is not None:
        train, test, cross = _shared_classes(corpus, test_corpus)
        dataset = name or f"{corpus.name} -> {test_corpus.name}"
        paths = list(train.paths) + list(test.paths)
        labels = np.concatenate([train.labels, test.labels])
        # Speakers of two corpora may share ids ("01"); only the training side's are used to split.
        speakers = np.concatenate([train.speakers, np.asarray([f"{test.name}:{s}" for s in test.speakers],
                                                              dtype=object)])
        folds = np.concatenate([train.folds, np.full(len(test), -1)])
        test_mask = np.arange(len(paths)) >= len(train)
        development = None if train.development is None else np.concatenate(
            [train.development, np.zeros(len(test), dtype=bool)])
        classes = np.asarray(cross["kept"], dtype=object)
    else:
        dataset = name or corpus.name
        paths, labels, speakers, folds = corpus.paths, corpus.labels, corpus.speakers, corpus.folds
        test_mask, development, classes = None, corpus.development, corpus.classes
    feature_set = compute_feature_set(
        paths, classes, alms=alms, fms=fms, layers=layers, grid=grid, templates=templates,
        single_template=single_template, class_prompts=class_prompts, device=device,
        batch_size=batch_size, verbose=verbose, estimator_params=estimator_params, scheduler=scheduler, log=log,
    )
    if specialist_pairs:
        feature_set = with_specialist_pairs(feature_set)
    study = run_study(
        feature_set, labels, folds, speakers, classes=classes, grid=grid, development=development,
        classifier=classifier, dataset=dataset, test=test_mask, log=log, threads=threads,
    )
    study.cross_corpus = cross
    study.config = {
        "alm": None if not alms else str(alms[0]),
        "fm": None if not fms else str(fms[0]),
        "alms": [str(a) for a in alms],
        "fms": [str(f) for f in fms],
        "layers": layers,
        "specialist_pairs": bool(specialist_pairs),
        "root": str(corpus.root),
        "test_root": None if test_corpus is None else str(test_corpus.root),
        "n_clips": len(paths),
        "n_speakers": int(len(np.unique(speakers))),
        "folds": [1] if test_mask is not None else [int(k) for k in corpus.fold_ids],
        "fold_scheme": (f"train on {corpus.title}, test on {test_corpus.title}: one test set"
                        if test_corpus is not None else corpus.fold_scheme),
        "classes": [str(c) for c in classes],
        "notes": list(train.notes) + ([] if test_corpus is None else [f"test corpus: {n}" for n in test_corpus.notes]),
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
        "std": "population standard deviation over test folds (ddof=0); none with a single test fold",
        "device": device,
        "batch_size": batch_size,
        "threads": threads,
        "seconds": round(time.perf_counter() - start, 1),
        "version": __version__,
    }
    for run in [*study.alm_runs.values(), *study.fm_runs.values(), *study.pairs.values()]:
        run.config = study.config
    return study
