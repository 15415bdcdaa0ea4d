"""The deployed model: an unfitted estimator for one system with the hyper-parameters selected."""

from __future__ import annotations

from dataclasses import dataclass, field

from sklearn.base import clone

from ..estimators.fusion_proba import default_classifier
from ..estimators.prompts import DEFAULT_TEMPLATES, SINGLE_TEMPLATE
from . import systems

__all__ = ["Deployment", "final_model"]

_AMPLIFICATION = ("audio_repeats", "text_repeats")  # the scorer's settings among the selected ones


@dataclass(frozen=True)
class Deployment:
    """What a system's estimator is built from (each entry's ``build`` in :mod:`.systems` uses it).

    ``alm_params``/``fm_params``: the scorer's and the embedder's other
    parameters (device, batch size, cache, layer, ...).
    """

    alm: object = None
    fm: object = None
    classes: list | None = None
    templates: tuple = DEFAULT_TEMPLATES
    single_template: tuple = SINGLE_TEMPLATE
    class_prompts: dict | None = None
    classifier: object = None  # the specialist's and the fusion's (None: default_classifier())
    alm_params: dict = field(default_factory=dict)
    fm_params: dict = field(default_factory=dict)

    def scorer(self, **params):
        """The zero-shot scorer of ``alm`` with ``params`` (templates, N_a, N_t) over the shared settings."""
        from ..estimators.zero_shot import ALMZeroShotScorer

        return ALMZeroShotScorer(self.alm, **{"classes": self.classes, "class_prompts": self.class_prompts,
                                              **self.alm_params, **params})

    def embedder(self):
        from ..estimators.embedding import FMEmbedder

        return FMEmbedder(self.fm, **self.fm_params)

    def specialist(self):
        """The classifier on the specialist's embedding."""
        from sklearn.pipeline import Pipeline

        base = default_classifier() if self.classifier is None else self.classifier
        return Pipeline([("fm", self.embedder()), ("classifier", clone(base))])

    def fusion(self, params: dict, **fixed):
        """The ZS-Fuse pipeline: the ensemble at the selected (N_a, N_t), the fusion with the selected settings.

        ``fixed`` fusion parameters replace the selected ones (``temperature="fit"``).
        """
        from ..estimators.pipeline import make_zsfuse_pipeline

        scorer = self.scorer(templates=self.templates, **{k: params[k] for k in _AMPLIFICATION})
        chosen = {k: v for k, v in params.items() if k not in _AMPLIFICATION}
        return make_zsfuse_pipeline(scorer, self.embedder(), classifier=self.classifier, **{**chosen, **fixed})


def final_model(system: str, params: dict, *, alm=None, fm=None, layer=None, classes=None,
                templates=DEFAULT_TEMPLATES, single_template=SINGLE_TEMPLATE, class_prompts=None, classifier=None,
                device="auto", batch_size=8, estimator_params=None):
    """An unfitted scikit-learn estimator for ``system`` with the selected ``params``.

    Fit it on paths and labels; it takes paths (or waveforms) at predict time.
    ``layer`` is the specialist's hidden state (default: FMEmbedder's);
    ``estimator_params`` go to the estimator(s) that take them
    (:func:`~sklearn_zsfuse.estimators.pipeline.route_params`).
    """
    from ..estimators.pipeline import route_params

    entry = systems.find(system)
    if entry.build is None:
        raise ValueError(entry.not_deployable)
    alm_params, fm_params = route_params(estimator_params, what="estimator_params")
    common = dict(device=device, batch_size=batch_size)
    deployment = Deployment(
        alm=alm, fm=fm, classes=None if classes is None else list(classes), templates=templates,
        single_template=single_template, class_prompts=class_prompts, classifier=classifier,
        alm_params={**alm_params, **common},
        fm_params={**fm_params, **common, **({} if layer is None else {"layer": layer})},
    )
    return entry.build(deployment, params)
