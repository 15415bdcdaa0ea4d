"""sklearn-zsfuse: zero-shot speech emotion recognition with audio-language models, in scikit-learn.

ZS-Fuse (arXiv 2603.23057): CLAP-family zero-shot scores with prompt ensembles
and prompt amplification, late-fused with a classifier on speech foundation
model embeddings.
"""

import importlib
from types import MappingProxyType

__version__ = "0.1.0"

# Names load their module on first use, so that the ``zsfuse`` command can check its
# arguments and answer a mistake before scikit-learn and the estimators are imported.
_EXPORTS = MappingProxyType({
    "ALMAttributeScorer": ".estimators.attributes",
    "ALMZeroShotScorer": ".estimators.zero_shot",
    "AudioInputError": ".audio",
    "DEFAULT_TEMPLATES": ".estimators.prompts",
    "FMEmbedder": ".estimators.embedding",
    "LateFusionClassifier": ".estimators.fusion",
    "LateFusionClassifierCV": ".estimators.fusion_cv",
    "LateFusionRegressor": ".estimators.fusion_regression",
    "LateFusionRegressorCV": ".estimators.fusion_regression_cv",
    "MissingExtraError": ".encoders",
    "ModelLoadError": ".encoders",
    "ModelMismatchError": ".encoders",
    "PARAM_PATHS": ".estimators.pipeline",
    "SINGLE_TEMPLATE": ".estimators.prompts",
    "SKOPS_TRUSTED_TYPES": ".estimators.persistence",
    "clear_caches": ".engine.cache",
    "clear_models": ".encoders",
    "load_skops": ".estimators.skops_files",
    "make_zsfuse_pipeline": ".estimators.pipeline",
    "save_model": ".estimators.persistence",
})


def lazy_exports(package: str, exports):
    """``(__getattr__, __dir__)`` for a package whose names load their module on first use.

    ``exports`` maps each name to the module (relative to ``package``) that defines it.
    """

    def __getattr__(name):
        if name in exports:
            return getattr(importlib.import_module(exports[name], package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted([*vars(importlib.import_module(package)), *exports])

    return __getattr__, __dir__


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


__all__ = [
    "ALMAttributeScorer",
    "ALMZeroShotScorer",
    "AudioInputError",
    "DEFAULT_TEMPLATES",
    "FMEmbedder",
    "LateFusionClassifier",
    "LateFusionClassifierCV",
    "LateFusionRegressor",
    "LateFusionRegressorCV",
    "MissingExtraError",
    "ModelLoadError",
    "ModelMismatchError",
    "PARAM_PATHS",
    "SINGLE_TEMPLATE",
    "SKOPS_TRUSTED_TYPES",
    "clear_caches",
    "clear_models",
    "load_skops",
    "make_zsfuse_pipeline",
    "save_model",
]
