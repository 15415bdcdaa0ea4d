"""The deployed model: an unfitted estimator for one system with the hyper-parameters selected."""

from __future__ import annotations

from sklearn.base import clone

from ..estimators.fusion_proba import default_classifier
from ..estimators.prompts import DEFAULT_TEMPLATES, SINGLE_TEMPLATE
from .results import FUSIONS, SYSTEMS

__all__ = ["final_model"]


def final_model(system: str, params: dict, *, alm=None, fm=None, layer=None, classes=None,
                templates=DEFAULT_TEMPLATES, single_template=SINGLE_TEMPLATE, class_prompts=None, classifier=None,
                device="auto", batch_size=8, estimator_params=None):
    """An unfitted scikit-learn estimator for ``system`` with the selected ``params``.

    Fit it on paths and labels; it takes paths (or waveforms) at predict time.
    ``layer`` is the specialist's hidden state (default: FMEmbedder's);
    ``estimator_params`` go to the estimator(s) that take them.
    """
    from sklearn.pipeline import Pipeline

    from ..estimators.embedding import FMEmbedder
    from ..estimators.pipeline import make_zsfuse_pipeline
    from ..estimators.zero_shot import ALMZeroShotScorer
    from .features import route_estimator_params

    alm_params, fm_params = route_estimator_params(estimator_params)
    if layer is not None:
        fm_params = {**fm_params, "layer": layer}
    common = dict(device=device, batch_size=batch_size)
    base = default_classifier() if classifier is None else classifier
    if system == "specialist":
        return Pipeline([("fm", FMEmbedder(fm, **common, **fm_params)), ("classifier", clone(base))])
    zs = dict(classes=None if classes is None else list(classes), class_prompts=class_prompts, **common, **alm_params)
    if system == "zero_shot":
        return ALMZeroShotScorer(alm, templates=single_template, **zs)
    if system == "zero_shot+ensemble":
        return ALMZeroShotScorer(alm, templates=templates, **zs)
    if system == "zero_shot+calibrated":
        raise ValueError(
            "zero_shot+calibrated has no deployable estimator of its own (ALMZeroShotScorer has no temperature); "
            "it predicts the labels of zero_shot+ensemble+amplification: save that one, or zs_fuse+calibrated."
        )
    if system == "zero_shot+ensemble+amplification":
        return ALMZeroShotScorer(alm, templates=templates, audio_repeats=params["audio_repeats"],
                                 text_repeats=params["text_repeats"], **zs)
    if system in FUSIONS:
        fusion = {k: v for k, v in params.items() if k not in ("audio_repeats", "text_repeats")}
        if system == "zs_fuse+calibrated":
            fusion["temperature"] = "fit"  # refitted on the clips the deployed model is fitted on
        pipe = make_zsfuse_pipeline(
            alm, fm, classes=None if classes is None else list(classes), class_prompts=class_prompts,
            templates=templates, audio_repeats=params["audio_repeats"],
            text_repeats=params["text_repeats"], classifier=classifier, device=device, batch_size=batch_size,
        )
        pipe.set_params(**{f"fusion__{k}": v for k, v in fusion.items()})
        pipe.set_params(**{f"features__zs__{k}": v for k, v in alm_params.items()})
        pipe.set_params(**{f"features__fm__{k}": v for k, v in fm_params.items()})
        return pipe
    raise ValueError(f"Unknown system {system!r}; choose one of {list(SYSTEMS)}.")
