"""make_zsfuse_pipeline: the whole ZS-Fuse system as a plain scikit-learn Pipeline."""

from __future__ import annotations

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
        class_prompts=class_prompts,
        templates=templates,
        audio_repeats=audio_repeats,
        text_repeats=text_repeats,
        **common,
    )
    embedder = FMEmbedder(fm, layer=layer, **common)
    features = FeatureUnion([("zs", scorer), ("fm", embedder)])
    fusion = LateFusionClassifier(method=method, weight=weight, space=space, classifier=classifier)
    return Pipeline([("features", features), ("fusion", fusion)])
