"""Model backends behind the estimators, loaded lazily and once per process.

Two kinds of encoder, each with a small protocol: audio-language models
(:mod:`.alm`) for the zero-shot scorer and speech foundation models (:mod:`.fm`)
for the embedder; their optional abilities are declared in :mod:`.abilities`.
Names and paths resolve through one registry (:mod:`.registry`:
:func:`register_alm`, :func:`register_fm`) to specs (:mod:`.specs`: load, and the
checks made before loading); loaded models live in one place, their records
(:mod:`.records`); where model files come from is decided in :mod:`.hub`, and
model files that travel inside a pickle in :mod:`.embedded`.
"""

from types import MappingProxyType

from .. import lazy_exports
from ._backend import MissingExtraError
from .abilities import Abilities, abilities
from .alm import ALMEncoder, TextTokenLimit, check_alm_encoder
from .base import DeviceError, ModelLoadError, ModelMismatchError, resolve_device, resolve_dtype
from .fm import FMEncoder, check_fm_encoder
from .records import ModelRecord, clear_models, loaded_models, model_record, probe_signal
from .registry import (
    register_alm,
    register_fm,
    registered_alms,
    registered_fms,
    resolve_alm,
    resolve_fm,
    unregister_alm,
    unregister_fm,
)
from .remote_code import allow_remote_code
from .specs import ModelSpec

# The spec classes live beside their backends; importing them imports no backend package.
_SPECS = MappingProxyType({
    "CLSP": ".clsp",
    "EGeMAPS": ".opensmile_egemaps",
    "GE2E": ".ge2e",
    "HFClap": ".hf_clap",
    "HFSpeech": ".hf_speech",
    "LaionClap": ".laion",
    "MSClap": ".msclap",
})
__getattr__, __dir__ = lazy_exports(__name__, _SPECS)

__all__ = [
    "ALMEncoder",
    "Abilities",
    "CLSP",
    "DeviceError",
    "EGeMAPS",
    "FMEncoder",
    "GE2E",
    "HFSpeech",
    "HFClap",
    "LaionClap",
    "MSClap",
    "MissingExtraError",
    "ModelLoadError",
    "ModelMismatchError",
    "ModelRecord",
    "ModelSpec",
    "TextTokenLimit",
    "abilities",
    "allow_remote_code",
    "check_alm_encoder",
    "check_fm_encoder",
    "clear_models",
    "get_alm_encoder",
    "get_speech_encoder",
    "loaded_models",
    "model_record",
    "probe_signal",
    "register_alm",
    "register_fm",
    "registered_alms",
    "registered_fms",
    "resolve_alm",
    "resolve_device",
    "resolve_dtype",
    "resolve_fm",
    "unregister_alm",
    "unregister_fm",
]


def get_alm_encoder(model, *, revision=None, device="auto", dtype="float32"):
    """The loaded audio-language encoder for ``model`` (a name, path or spec; see :mod:`.registry`)."""
    return model_record("alm", model, revision=revision, device=device, dtype=dtype).encoder


def get_speech_encoder(model, *, revision=None, device="auto", dtype="float32"):
    """The loaded speech foundation model for ``model`` (a name, path or spec; see :mod:`.registry`).

    ``"egemaps"`` gives openSMILE's eGeMAPSv02 functionals (no weights, CPU).
    """
    return model_record("fm", model, revision=revision, device=device, dtype=dtype).encoder
