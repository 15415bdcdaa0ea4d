"""The deployed model: an unfitted estimator for one system with the hyper-parameters selected."""

from __future__ import annotations

from sklearn.base import clone

from ..fusion import default_classifier
from ..prompts import DEFAULT_TEMPLATES, SINGLE_TEMPLATE
from .results import SYSTEMS

__all__ = ["final_model"]


def final_model(system: str, params: dict, *, alm=None, fm=None, classes=None, templates=DEFAULT_TEMPLATES,
                single_template=SINGLE_TEMPLATE, class_prompts=None, classifier=None, device="auto",
                batch_size=8, estimator_params=None):
    """An unfitted scikit-learn estimator for ``system`` with the selected ``params``.

    Fit it on paths and labels; it takes paths (or waveforms) at predict time.
    """
    from sklearn.pipeline import Pipeline

    from ..embedding import FMEmbedder
    from ..pipeline import make_zsfuse_pipeline
    from ..zero_shot import ALMZeroShotScorer

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
