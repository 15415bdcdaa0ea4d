"""make_zsfuse_pipeline: the whole ZS-Fuse system as a plain scikit-learn Pipeline."""

from __future__ import annotations

import numpy as np
from sklearn.pipeline import FeatureUnion, Pipeline

from .embedding import FMEmbedder
from .fusion import LateFusionClassifier
from .prompts import DEFAULT_TEMPLATES
from .zero_shot import ALMZeroShotScorer

__all__ = ["make_zsfuse_pipeline", "PARAM_PATHS"]

# Where the tunable knobs live in the returned pipeline, for GridSearchCV grids.
PARAM_PATHS = {
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
}


def make_zsfuse_pipeline(
    alm="laion/clap-htsat-unfused",
    fm="microsoft/wavlm-large",
    *,
    classes=None,
    class_prompts=None,
    templates=DEFAULT_TEMPLATES,
    audio_repeats=1,
    text_repeats=1,
    layer=-1,
    max_duration=60.0,
    method="weighted",
    weight=0.5,
    space="probability",
    classifier=None,
    temperature=None,
    normalize="standard",
    sampling_rate=None,
    device="auto",
    dtype="float32",
    batch_size=8,
    n_workers=None,
    store_weights_in_pickle=False,
    verbose=0,
    cache_dir=None,
) -> Pipeline:
    """Build ``Pipeline([("features", FeatureUnion([("zs", ...), ("fm", ...)])), ("fusion", ...)])``.

    ``alm`` is any model name, path or spec that :class:`ALMZeroShotScorer` takes
    (see its ``model`` parameter); ``fm`` a hub id or local directory. The tunable parameters
    sit at the paths in :data:`PARAM_PATHS` (e.g. ``fusion__weight``,
    ``features__zs__audio_repeats``). Nothing is loaded until ``fit``.
    ``store_weights_in_pickle=True`` makes pickles of the pipeline carry both models.
    ``cache_dir`` gives both encoders an on-disk embedding cache; ``n_workers``
    their input worker threads (``None``: the cores present).

    ``classes`` fixes the labels the zero-shot scorer scores (otherwise those of
    ``y`` at fit); the fusion is then told which class each zero-shot column is
    (``zero_shot_classes``), so a training fold that lacks one of them is still read
    correctly. If you later change ``features__zs__classes`` with ``set_params``,
    set ``fusion__zero_shot_classes`` to the same sorted labels (or use
    ``set_output(transform="pandas")`` on the features, whose ``zs__<class>``
    column names the fusion reads). ``temperature`` and ``normalize`` are
    :class:`LateFusionClassifier`'s.
    """
    common = dict(
        max_duration=max_duration,
        sampling_rate=sampling_rate,
        device=device,
        dtype=dtype,
        batch_size=batch_size,
        n_workers=n_workers,
        store_weights_in_pickle=store_weights_in_pickle,
        verbose=verbose,
        cache_dir=cache_dir,
    )
    scorer = ALMZeroShotScorer(
        alm,
        classes=classes,
        class_prompts=class_prompts,
        templates=templates,
        audio_repeats=audio_repeats,
        text_repeats=text_repeats,
        **common,
    )
    embedder = FMEmbedder(fm, layer=layer, **common)
    features = FeatureUnion([("zs", scorer), ("fm", embedder)])
    fusion = LateFusionClassifier(
        method=method,
        weight=weight,
        space=space,
        classifier=classifier,
        zero_shot_classes=_scored_columns(classes),
        normalize=normalize,
        temperature=temperature,
    )
    return Pipeline([("features", features), ("fusion", fusion)])


def _scored_columns(classes):
    """The scorer's column order for fixed ``classes``: sorted unique, as its ``classes_``."""
    if classes is None:
        return None
    values = list(classes)
    try:
        return np.unique(np.asarray(values, dtype=object)).tolist()
    except TypeError:  # mixed label types: the scorer refuses them at fit with its own message
        return None
