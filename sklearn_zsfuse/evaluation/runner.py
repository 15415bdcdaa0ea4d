"""One call from a corpus to its evaluation: features, protocol, and the run's configuration."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..estimators.fusion_proba import default_classifier
from ..estimators.prompts import DEFAULT_TEMPLATES, SINGLE_TEMPLATE
from ..estimators.threads import check_threads
from .attribute_features import AttributeFeatureSet
from .dimension_results import DimensionalStudy
from .dimension_runner import ALL_DIMENSIONS, dimensional_study, dimensions_of
from .features import compute_feature_set
from .grid import Grid
from .protocol import run_study
from .results import Study
from .specialist_pairs import with_specialist_pairs
from .zero_shot_targets import Categories, Dimensions

__all__ = ["evaluate", "evaluate_dimensions"]


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


def _refuse(target, given) -> None:
    """Options that mean nothing for ``target`` are an error, not silently unused."""
    names = [name for name, value in given if value is not None and value is not False]
    if names:
        kind = "categories" if target is None else f"ratings (target={target!r})"
        raise ValueError(f"{', '.join(names)}: not used when evaluating on {kind}; leave them out.")


@dataclass
class _Clips:
    """The clips one evaluation scores, with what the protocol needs of them."""

    dataset: str
    paths: list
    labels: np.ndarray
    speakers: np.ndarray
    folds: np.ndarray
    development: np.ndarray | None
    test: np.ndarray | None = None  # cross-corpus: the test corpus's clips
    facts: dict = field(default_factory=dict)  # the run's facts that depend on the corpora


def _one_corpus(corpus, name) -> _Clips:
    return _Clips(name or corpus.name, list(corpus.paths), corpus.labels, corpus.speakers, corpus.folds,
                  corpus.development, facts={"folds": [int(k) for k in corpus.fold_ids],
                                             "fold_scheme": corpus.fold_scheme, "notes": list(corpus.notes)})


def _cross_corpus(corpus, test_corpus, name) -> tuple[_Clips, dict, np.ndarray]:
    """Train on ``corpus``, test on ``test_corpus``, on the classes they share: (clips, what was kept, classes)."""
    train, test, cross = _shared_classes(corpus, test_corpus)
    # Speakers of two corpora may share ids ("01"); only the training side's are used to split.
    speakers = np.concatenate([train.speakers, np.asarray([f"{test.name}:{s}" for s in test.speakers],
                                                          dtype=object)])
    n = len(train) + len(test)
    clips = _Clips(
        name or f"{corpus.name} -> {test_corpus.name}", list(train.paths) + list(test.paths),
        np.concatenate([train.labels, test.labels]), speakers, np.concatenate([train.folds, np.full(len(test), -1)]),
        None if train.development is None else np.concatenate([train.development, np.zeros(len(test), dtype=bool)]),
        test=np.arange(n) >= len(train),
        facts={"folds": [1], "fold_scheme": f"train on {corpus.title}, test on {test_corpus.title}: one test set",
               "notes": list(train.notes) + [f"test corpus: {n}" for n in test_corpus.notes]},
    )
    return clips, cross, np.asarray(cross["kept"], dtype=object)


def evaluate(
    corpus,
    *,
    alm=None,
    fm=None,
    layer=None,
    target=None,
    test_corpus=None,
    name: str | None = None,
    grid: Grid = Grid(),
    templates=DEFAULT_TEMPLATES,
    single_template=SINGLE_TEMPLATE,
    class_prompts=None,
    pole_prompts=None,
    middle=False,
    classifier=None,
    class_weight=None,
    regressor=None,
    device="auto",
    batch_size=8,
    verbose=0,
    estimator_params=None,
    scheduler=None,
    log: Callable[[str], None] | None = None,
    threads=None,
    specialist_pairs: bool = False,
) -> Study | DimensionalStudy:
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

    ``target``: None evaluates on the corpus's categories. A dimension name or a
    list of them (``"dimensions"``: every one the corpus rates) evaluates its
    ratings instead, by CCC, and returns a
    :class:`~sklearn_zsfuse.evaluation.DimensionalStudy`: each ALM scores the
    dimensions zero-shot (:class:`~sklearn_zsfuse.ALMAttributeScorer`, worded by
    ``pole_prompts`` and ``middle``), the specialist and the fusion learn with
    ``regressor`` (default
    :func:`~sklearn_zsfuse.estimators.fusion_regression.default_regressor`). The
    options of the other kind of target are refused.

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
    alms, fms = _model_list(alm, "alm"), _model_list(fm, "fm")
    if specialist_pairs and len(fms) < 2:
        raise ValueError(f"specialist_pairs=True joins two specialists, but fm= gives {len(fms)}.")
    layers = _layers(layer)
    if layers is not None and not fms:
        raise ValueError("layer= chooses the specialist's hidden state, but no specialist (fm) is given.")
    cross = None
    if target is None:
        _refuse(target, [("pole_prompts", pole_prompts), ("middle", middle), ("regressor", regressor)])
        classifier = resolve_classifier(classifier, class_weight)
        if test_corpus is None:
            clips, classes = _one_corpus(corpus, name), corpus.classes
        else:
            clips, cross, classes = _cross_corpus(corpus, test_corpus, name)
        scored = Categories(tuple(classes), class_prompts)
    else:
        _refuse(target, [("test_corpus", test_corpus), ("class_prompts", class_prompts), ("classifier", classifier),
                         ("class_weight", class_weight), ("specialist_pairs", specialist_pairs)])
        clips, scored = _one_corpus(corpus, name), Dimensions(dimensions_of(corpus, target), pole_prompts, middle)
    feature_set = compute_feature_set(
        clips.paths, scored, alms=alms, fms=fms, layers=layers, grid=grid, templates=templates,
        single_template=single_template, device=device, batch_size=batch_size, verbose=verbose,
        estimator_params=estimator_params, scheduler=scheduler, log=log,
    )
    if target is None:
        if specialist_pairs:
            feature_set = with_specialist_pairs(feature_set)
        study = run_study(
            feature_set, clips.labels, clips.folds, clips.speakers, classes=classes, grid=grid,
            development=clips.development, classifier=classifier, dataset=clips.dataset, test=clips.test, log=log,
            threads=threads,
        )
        study.cross_corpus = cross
        own = {
            "alm": None if not alms else str(alms[0]),
            "fm": None if not fms else str(fms[0]),
            "specialist_pairs": bool(specialist_pairs),
            "test_root": None if test_corpus is None else str(test_corpus.root),
            "classes": [str(c) for c in classes],
            "class_prompts": class_prompts,
            "classifier": repr(default_classifier() if classifier is None else classifier),
            "selection": "inner cross-validation on the training clips of each test fold (official development "
            "set, else leave one training fold out, else speaker groups); test folds are never used to choose",
        }
    else:
        study, own = dimensional_study(
            corpus, AttributeFeatureSet.from_feature_set(feature_set, scored.dimensions), grid=grid,
            regressor=regressor, pole_prompts=pole_prompts, middle=middle, dataset=clips.dataset, log=log,
            threads=threads,
        )
    study.config = {
        **own,
        "alms": [str(a) for a in alms],
        "fms": [str(f) for f in fms],
        "layers": layers,
        "root": str(corpus.root),
        "n_clips": len(clips.paths),
        "n_speakers": int(len(np.unique(clips.speakers))),
        **clips.facts,
        "grid": {
            "audio_repeats": list(grid.audio_repeats),
            "text_repeats": list(grid.text_repeats),
            "weights": list(grid.weights),
        },
        "templates": {"single": list(single_template), "ensemble": list(templates)},
        "std": "population standard deviation over test folds (ddof=0); none with a single test fold",
        "device": device,
        "batch_size": batch_size,
        "threads": threads,
        "seconds": round(time.perf_counter() - start, 1),
        "version": __version__,
    }
    study.share_config()
    return study


def evaluate_dimensions(corpus, dimensions=None, **options) -> DimensionalStudy:
    """:func:`evaluate` on ``corpus``'s ratings: ``target=dimensions`` (default: every dimension it rates).

    ``options`` are :func:`evaluate`'s (``alm``, ``fm``, ``layer``, ``grid``,
    ``pole_prompts``, ``middle``, ``regressor``, ...).
    """
    return evaluate(corpus, target=ALL_DIMENSIONS if dimensions is None else dimensions, **options)
