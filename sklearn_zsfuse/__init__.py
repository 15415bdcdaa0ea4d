"""sklearn-zsfuse: zero-shot speech emotion recognition with audio-language models, in scikit-learn.

ZS-Fuse (arXiv 2603.23057): CLAP-family zero-shot scores with prompt ensembles
and prompt amplification, late-fused with a classifier on speech foundation
model embeddings.
"""

import importlib

__version__ = "0.1.0"

# Names load their module on first use, so that the ``zsfuse`` command can check its
# arguments and answer a mistake before scikit-learn and the estimators are imported.
_EXPORTS = {
    "ALMZeroShotScorer": ".zero_shot",
    "AudioInputError": ".audio",
    "DEFAULT_TEMPLATES": ".prompts",
    "FMEmbedder": ".embedding",
    "LateFusionClassifier": ".fusion",
    "LateFusionClassifierCV": ".fusion_cv",
    "MissingExtraError": ".encoders",
    "ModelLoadError": ".encoders",
    "ModelMismatchError": ".encoders",
    "PARAM_PATHS": ".pipeline",
    "SINGLE_TEMPLATE": ".prompts",
    "SKOPS_TRUSTED_TYPES": ".persistence",
    "clear_caches": ".cache",
    "clear_models": ".encoders",
    "make_zsfuse_pipeline": ".pipeline",
    "save_model": ".persistence",
}


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value  # once
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "ALMZeroShotScorer",
    "AudioInputError",
    "DEFAULT_TEMPLATES",
    "FMEmbedder",
    "LateFusionClassifier",
    "LateFusionClassifierCV",
    "MissingExtraError",
    "ModelLoadError",
    "ModelMismatchError",
    "PARAM_PATHS",
    "SINGLE_TEMPLATE",
    "SKOPS_TRUSTED_TYPES",
    "clear_caches",
    "clear_models",
    "make_zsfuse_pipeline",
    "save_model",
]
