"""make_zsfuse_pipeline: the whole ZS-Fuse system as a plain scikit-learn Pipeline."""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
from sklearn.base import clone
from sklearn.pipeline import FeatureUnion, Pipeline

from .embedding import FMEmbedder
from .fusion import LateFusionClassifier
from .zero_shot import ALMZeroShotScorer

__all__ = ["make_zsfuse_pipeline", "PARAM_PATHS", "route_params"]

# Where the tunable knobs live in the returned pipeline, for GridSearchCV grids.
PARAM_PATHS = MappingProxyType({
    "fusion weight": "fusion__weight",
    "fusion method": "fusion__method",
    "fusion space (probability or log)": "fusion__space",
    "zero-shot temperature": "fusion__temperature",
    "concat normalisation": "fusion__normalize",
    "audio repeats (N_a)": "features__zs__audio_repeats",
    "text repeats (N_t)": "features__zs__text_repeats",
    "templates": "features__zs__templates",
    "class wording": "features__zs__class_prompts",
    "FM layer": "features__fm__layer",
    "classifier": "fusion__classifier",
})


def route_params(params: dict | None, *, what: str = "make_zsfuse_pipeline:") -> tuple[dict, dict]:
    """Split ``params`` into (the scorer's, the embedder's): each goes to the estimator(s) that take it.

    A name both take (``device``, ``cache_dir``, ``max_duration``, ...) goes to both;
    a name neither takes is refused with the names that are accepted. ``what``
    names the caller's argument in that message. ``model`` is not routed: it is
    each estimator's own.
    """
    params = dict(params or {})
    alm_names = set(ALMZeroShotScorer().get_params()) - {"model"}
    fm_names = set(FMEmbedder().get_params()) - {"model"}
    unknown = sorted(set(params) - alm_names - fm_names)
    if unknown:
        raise ValueError(
            f"{what} {unknown} is not a parameter of ALMZeroShotScorer or FMEmbedder; "
            f"accepted: {sorted(alm_names | fm_names)}."
        )
    return ({k: v for k, v in params.items() if k in alm_names}, {k: v for k, v in params.items() if k in fm_names})


def make_zsfuse_pipeline(
    alm="laion/clap-htsat-unfused",
    fm="microsoft/wavlm-large",
    *,
    method="weighted",
    weight=0.5,
    space="probability",
    classifier=None,
    temperature=None,
    normalize="standard",
    **params,
) -> Pipeline:
    """Build ``Pipeline([("features", FeatureUnion([("zs", ...), ("fm", ...)])), ("fusion", ...)])``.

    ``alm`` is an :class:`ALMZeroShotScorer`, or any model name, path or spec it
    takes (its ``model`` parameter); ``fm`` an :class:`FMEmbedder`, or a hub id,
    local directory or ``"egemaps"``. Estimators you pass are cloned (yours are
    left as they are), so each can carry settings of its own (``revision=``,
    ``batch_size=``, ...).

    ``params`` are parameters of the scorer and the embedder (every one of their
    constructor parameters but ``model``): each goes to the estimator(s) that take
    it, e.g. ``classes``, ``class_prompts``, ``templates``, ``audio_repeats``,
    ``text_repeats``, ``crop`` to the scorer, ``layer``, ``chunk_seconds`` to the
    embedder, and ``device``, ``dtype``, ``batch_size``, ``n_workers``,
    ``cache_dir``, ``revision``, ``store_weights_in_pickle`` ... to both (set on
    both, over what estimators you passed hold). A name neither takes raises
    ValueError. ``method``, ``weight``, ``space``, ``classifier``,
    ``temperature`` and ``normalize`` are :class:`LateFusionClassifier`'s.
    The tunable parameters sit at the paths in :data:`PARAM_PATHS` (e.g.
    ``fusion__weight``, ``features__zs__audio_repeats``). Nothing is loaded
    until ``fit``.

    The scorer's ``classes`` fix the labels it scores (otherwise those of ``y``
    at fit); the fusion is then told which class each zero-shot column is
    (``zero_shot_classes``), so a training fold that lacks one of them is still
    read correctly. If you later change ``features__zs__classes`` with
    ``set_params``, set ``fusion__zero_shot_classes`` to the same sorted labels
    (or use ``set_output(transform="pandas")`` on the features, whose
    ``zs__<class>`` column names the fusion reads).

    Examples
    --------
    >>> from sklearn_zsfuse import make_zsfuse_pipeline
    >>> pipe = make_zsfuse_pipeline("laion/clap-htsat-unfused", "microsoft/wavlm-large", layer=12,
    ...                             audio_repeats=2, weight=0.3, device="cpu")
    >>> pipe.get_params()["features__fm__layer"], pipe.get_params()["features__zs__audio_repeats"]
    (12, 2)
    >>> pipe.set_params(fusion__weight=0.5).named_steps["fusion"].weight  # nothing loads until fit
    0.5
    """
    alm_params, fm_params = route_params(params)
    scorer = _estimator(ALMZeroShotScorer, alm, alm_params)
    embedder = _estimator(FMEmbedder, fm, fm_params)
    features = FeatureUnion([("zs", scorer), ("fm", embedder)])
    fusion = LateFusionClassifier(
        method=method,
        weight=weight,
        space=space,
        classifier=classifier,
        zero_shot_classes=_scored_columns(scorer.classes),
        normalize=normalize,
        temperature=temperature,
    )
    return Pipeline([("features", features), ("fusion", fusion)])


def _estimator(kind, given, params: dict):
    """A clone of ``given`` with ``params`` set, or a new ``kind(given, **params)`` for a model spec."""
    if isinstance(given, kind):
        return clone(given).set_params(**params)
    return kind(given, **params)


def _scored_columns(classes):
    """The scorer's column order for fixed ``classes``: sorted unique, as its ``classes_``."""
    if classes is None:
        return None
    values = list(classes)
    try:
        return np.unique(np.asarray(values, dtype=object)).tolist()
    except TypeError:  # mixed label types: the scorer refuses them at fit with its own message
        return None
