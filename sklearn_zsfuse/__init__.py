"""sklearn-zsfuse: zero-shot speech emotion recognition with audio-language models, in scikit-learn.

ZS-Fuse (arXiv 2603.23057): CLAP-family zero-shot scores with prompt ensembles
and prompt amplification, late-fused with a classifier on speech foundation
model embeddings.
"""

from .audio import AudioInputError
from .cache import clear_caches
from .embedding import FMEmbedder
from .encoders import MissingExtraError, ModelLoadError, ModelMismatchError, clear_models
from .fusion import LateFusionClassifier
from .fusion_cv import LateFusionClassifierCV
from .persistence import SKOPS_TRUSTED_TYPES, save_model
from .pipeline import PARAM_PATHS, make_zsfuse_pipeline
from .prompts import DEFAULT_TEMPLATES, SINGLE_TEMPLATE
from .zero_shot import ALMZeroShotScorer

__version__ = "0.1.0"

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
