"""One call from a corpus with dimensional ratings to its evaluation: features, protocol, configuration."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from ..estimators.threads import check_threads
from ..estimators.fusion_regression import default_regressor
from ..estimators.prompts import DEFAULT_TEMPLATES, SINGLE_TEMPLATE
from .attribute_features import compute_attribute_features
from .dimension_protocol import run_dimensional_study
from .dimension_results import DimensionalStudy
from .grid import Grid
from .runner import _layers, _model_list

__all__ = ["evaluate_dimensions"]


def _dimensions(corpus, dimensions) -> tuple:
    have = list(corpus.dimensions)
    if not have:
        raise ValueError(f"the {corpus.name} corpus has no dimensional ratings (its targets: {list(corpus.targets)}); "
                         "load one that does (msp_podcast, iemocap, or csv with dimensions=[...]).")
    wanted = have if dimensions is None else [dimensions] if isinstance(dimensions, str) else list(dimensions)
    missing = [d for d in wanted if d not in have]
    if missing or not wanted or len(set(wanted)) != len(wanted):
        raise ValueError(f"dimensions {wanted}: the {corpus.name} corpus rates {have}; name each of those at most "
                         "once.")
    return tuple(wanted)


def evaluate_dimensions(
    corpus,
    dimensions=None,
    *,
    alm=None,
    fm=None,
    layer=None,
    name: str | None = None,
    grid: Grid = Grid(),
    templates=DEFAULT_TEMPLATES,
    single_template=SINGLE_TEMPLATE,
    pole_prompts=None,
    middle=False,
    regressor=None,
    device="auto",
    batch_size=8,
    verbose=0,
    estimator_params=None,
    log: Callable[[str], None] | None = None,
    threads=None,
) -> DimensionalStudy:
    """The dimensional tables for ``corpus``: each dimension's ratings predicted zero-shot, by a specialist, fused.

    ``dimensions``: which of ``corpus.dimensions`` (default: all), in table order.
    ``alm``/``fm``/``layer`` as in :func:`~sklearn_zsfuse.evaluation.evaluate`.
    Every model is run once: each ALM scores every dimension in one pass per
    (N_a, N_t) (:class:`~sklearn_zsfuse.ALMAttributeScorer`, with ``pole_prompts`` and
    ``middle``), each specialist embeds once. The protocol
    (:func:`~sklearn_zsfuse.evaluation.dimension_protocol.run_dimensional_study`)
    runs on the corpus's folds, every choice made on the training clips by CCC;
    each dimension keeps its corpus's scale. ``regressor``: the specialist's and
    the fusion's (default :func:`~sklearn_zsfuse.estimators.fusion_regression.default_regressor`).
    ``threads``: BLAS/OpenMP threads of the protocol's fits, as in ``evaluate``.
    """
    from .. import __version__

    check_threads(threads, "threads")  # before the encoding, not after it
    start = time.perf_counter()
    dims = _dimensions(corpus, dimensions)
    alms, fms = _model_list(alm, "alm"), _model_list(fm, "fm")
    layers = _layers(layer)
    if layers is not None and not fms:
        raise ValueError("layer= chooses the specialist's hidden state, but no specialist (fm) is given.")
    dataset = name or corpus.name
    scales = {d: (corpus.scales[d].low, corpus.scales[d].high, corpus.scales[d].source) for d in dims}
    features = compute_attribute_features(
        corpus.paths, dims, alms=alms, fms=fms, layers=layers, grid=grid, templates=templates,
        single_template=single_template, pole_prompts=pole_prompts, middle=middle, device=device,
        batch_size=batch_size, verbose=verbose, estimator_params=estimator_params, log=log,
    )
    study = run_dimensional_study(
        features, {d: corpus.dimensions[d] for d in dims}, scales, corpus.labels, corpus.folds, corpus.speakers,
        grid=grid, development=corpus.development, regressor=regressor, dataset=dataset, log=log,
        threads=threads,
    )
    study.config = {
        "target": "dimensions",
        "dimensions": list(dims),
        "scales": {d: {"low": s[0], "high": s[1], "source": s[2]} for d, s in scales.items()},
        "alms": [str(a) for a in alms],
        "fms": [str(f) for f in fms],
        "layers": layers,
        "root": str(corpus.root),
        "n_clips": len(corpus),
        "n_speakers": int(len(np.unique(corpus.speakers))),
        "folds": [int(k) for k in corpus.fold_ids],
        "fold_scheme": corpus.fold_scheme,
        "notes": list(corpus.notes),
        "grid": {"audio_repeats": list(grid.audio_repeats), "text_repeats": list(grid.text_repeats),
                 "weights": list(grid.weights)},
        "templates": {"single": list(single_template), "ensemble": list(templates)},
        "pole_prompts": pole_prompts,
        "middle": middle,
        "score": "expected pole position under the pole probabilities, in [0, 1]; zero-shot rows place it on "
                 "the corpus's scale (low + score * (high - low)), zero_shot+rescaled through a line fitted on the "
                 "training clips",
        "regressor": repr(default_regressor() if regressor is None else regressor),
        "selection": "inner cross-validation on the training clips of each test fold (official development set, "
                     "else leave one training fold out, else speaker groups), by CCC; test folds are never used to "
                     "choose",
        "metrics": "CCC (Lin 1989, population moments), Pearson's r, MAE in the corpus's units",
        "std": "population standard deviation over test folds (ddof=0); none with a single test fold",
        "device": device,
        "batch_size": batch_size,
        "threads": threads,
        "seconds": round(time.perf_counter() - start, 1),
        "version": __version__,
    }
    for runs in [*study.alm_runs.values(), *study.fm_runs.values(), *study.pairs.values()]:
        for run in runs.values():
            run.config = study.config
    return study
