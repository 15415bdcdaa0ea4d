"""The scikit-learn estimators: the zero-shot scorer, the specialist's embedder, the fusions.

- :mod:`.zero_shot`: :class:`ALMZeroShotScorer` (with :mod:`.prompts`; its scores carry their classes,
  :mod:`.zero_shot_columns`);
- :mod:`.attributes`: :class:`ALMAttributeScorer` (arousal, valence, dominance; pole words in
  :mod:`.attribute_prompts`; what both zero-shot scorers share: :mod:`.alm_prompting`);
- :mod:`.embedding`: :class:`FMEmbedder`;
- :mod:`.fusion`, :mod:`.fusion_cv`: :class:`LateFusionClassifier`, :class:`LateFusionClassifierCV`;
  their shared input checks (:mod:`.fusion_input`), probability mix (:mod:`.fusion_proba`) and
  choice by inner splits (:mod:`.fusion_selection`);
- :mod:`.fusion_regression`, :mod:`.fusion_regression_cv`: :class:`LateFusionRegressor`,
  :class:`LateFusionRegressorCV` for attributes (input checks :mod:`.regression_input`, choice by
  inner splits :mod:`.fusion_regression_selection`);
- :mod:`.pipeline`: :func:`make_zsfuse_pipeline`;
- :mod:`.persistence`: what their pickles carry, :func:`save_model`.

Names load their module on first use (see the package's ``__init__``).
"""

from types import MappingProxyType

from .. import lazy_exports

_EXPORTS = MappingProxyType({
    "ALMAttributeScorer": ".attributes",
    "ALMZeroShotScorer": ".zero_shot",
    "FMEmbedder": ".embedding",
    "LateFusionClassifier": ".fusion",
    "LateFusionClassifierCV": ".fusion_cv",
    "LateFusionRegressor": ".fusion_regression",
    "LateFusionRegressorCV": ".fusion_regression_cv",
    "make_zsfuse_pipeline": ".pipeline",
    "save_model": ".persistence",
})


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS)
