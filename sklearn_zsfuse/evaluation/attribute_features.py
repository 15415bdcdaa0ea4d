"""Running the frozen models once over a corpus for a dimensional evaluation.

Each ALM gives its zero-shot attribute scores (:class:`~sklearn_zsfuse.ALMAttributeScorer`)
of every clip: the single template, and the prompt ensemble per (N_a, N_t) of the
grid; each specialist its embeddings, exactly as for the categorical evaluation
(:func:`~sklearn_zsfuse.evaluation.compute_feature_set`, on a second thread while
the ALMs encode). Nothing here sees a rating, so computing it on all clips leaks
nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone

from ..estimators.prompts import DEFAULT_TEMPLATES, SINGLE_TEMPLATE
from .features import _names, compute_feature_set
from .grid import Grid

__all__ = ["AttributeFeatureSet", "AttributeFeatures", "compute_attribute_features"]

# The category scorer's parameters that mean nothing to the attribute scorer.
_CATEGORY_ONLY = ("classes", "class_prompts")


@dataclass
class AttributeFeatures:
    """One ALM's zero-shot scores (in [0, 1]) of every clip, one column per dimension."""

    single: np.ndarray  # (n, d): the single template, N_a = N_t = 1
    ensemble: dict  # (N_a, N_t) -> (n, d): the prompt ensemble


@dataclass
class AttributeFeatureSet:
    """Every model's outputs on every clip: ``alms`` (name -> :class:`AttributeFeatures`), ``fms`` as in
    :class:`~sklearn_zsfuse.evaluation.FeatureSet`, the scores' ``dimensions`` in column order."""

    dimensions: tuple
    alms: dict = field(default_factory=dict)
    fms: dict = field(default_factory=dict)
    fm_layers: dict = field(default_factory=dict)


def compute_attribute_features(
    paths: Sequence[str],
    dimensions: Sequence[str],
    *,
    alms: Sequence = (),
    fms: Sequence = (),
    layers: Sequence | None = None,
    grid: Grid = Grid(),
    templates=DEFAULT_TEMPLATES,
    single_template=SINGLE_TEMPLATE,
    pole_prompts=None,
    middle=False,
    device="auto",
    batch_size=8,
    verbose=0,
    estimator_params=None,
    concurrent=True,
    log: Callable[[str], None] | None = None,
) -> AttributeFeatureSet:
    """Run every ALM and every specialist once over ``paths`` (no ratings are used).

    ``dimensions``: the attributes each ALM scores (one column each, in order).
    ``pole_prompts``, ``middle``: the scorer's words for the poles. The other
    parameters are :func:`~sklearn_zsfuse.evaluation.compute_feature_set`'s;
    ``estimator_params`` go to the estimator(s) that take them.
    """
    from ..estimators.attributes import ALMAttributeScorer
    from ..estimators.pipeline import route_params

    alms, fms, dimensions = list(alms), list(fms), tuple(dimensions)
    if not alms and not fms:
        raise ValueError("Nothing to evaluate: give an audio-language model (alm), a specialist (fm), or both.")
    log = log or (lambda message: None)
    alm_params, _ = route_params(estimator_params, what="estimator_params")
    given = sorted(set(alm_params) & set(_CATEGORY_ONLY))
    if given:
        raise ValueError(f"estimator_params {given} are the category scorer's; a dimensional evaluation scores "
                         "dimensions (give pole_prompts= for the wording).")
    alm_names = _names(alms)
    common = dict(device=device, batch_size=batch_size, verbose=verbose)
    scorers = {}
    for alm in alms:  # fitted first: a bad model or wording fails before any long run
        scorer = ALMAttributeScorer(alm, dimensions=dimensions, pole_prompts=pole_prompts, middle=middle,
                                    **common, **alm_params)
        scorers[alm] = (scorer, clone(scorer).set_params(templates=single_template).fit(paths))

    def specialists():
        if not fms:
            return None
        out = compute_feature_set(paths, [], fms=fms, layers=layers, grid=grid, device=device,
                                  batch_size=batch_size, verbose=verbose, estimator_params=estimator_params,
                                  log=log)
        return out.fms, out.fm_layers

    pending, fm_out = None, None
    if fms and alms and concurrent:
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zsfuse-fm")
        pending = pool.submit(specialists)
        pool.shutdown(wait=False)
    else:
        fm_out = specialists()
    alm_out = {}
    for alm, (scorer, single) in scorers.items():
        name = alm_names[alm]
        log(f"zero-shot {name}: {', '.join(dimensions)}, single prompt, N_a = N_t = 1")
        ensemble = {}
        single_scores = np.asarray(single.transform(paths), dtype=np.float64)
        for n_a, n_t in [(1, 1)] + [c for c in grid.amplifications if c != (1, 1)]:
            log(f"zero-shot {name}: {', '.join(dimensions)}, prompt ensemble, N_a = {n_a}, N_t = {n_t}")
            est = clone(scorer).set_params(templates=templates, audio_repeats=n_a, text_repeats=n_t)
            ensemble[(n_a, n_t)] = np.asarray(est.fit(paths).transform(paths), dtype=np.float64)
        alm_out[name] = AttributeFeatures(single_scores, ensemble)
    if pending is not None:
        fm_out = pending.result()
    fm_dict, fm_layers = fm_out if fm_out is not None else ({}, {})
    return AttributeFeatureSet(dimensions=dimensions, alms=alm_out, fms=fm_dict, fm_layers=fm_layers)
