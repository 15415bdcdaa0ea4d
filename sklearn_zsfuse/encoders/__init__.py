"""Model backends behind the estimators, loaded lazily and once per process.

Two kinds of encoder, each with a small protocol: audio-language models
(:mod:`.alm`) for the zero-shot scorer and speech foundation models (:mod:`.fm`)
for the embedder; their optional abilities are declared in :mod:`.abilities`.
Names and paths resolve through one registry (:mod:`.registry`:
:func:`register_alm`, :func:`register_fm`); where model files come from is
decided in :mod:`.hub`.
"""

from ._backend import MissingExtraError
from .abilities import Abilities, abilities
from .alm import ALMEncoder, TextTokenLimit, check_alm_encoder
from .base import (
    ModelLoadError,
    ModelMismatchError,
    clear_models,
    get_shared,
    loaded_models,
    model_source,
    register_model_source,
    resolve_device,
    resolve_dtype,
)
from .fm import FMEncoder, check_fm_encoder
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

__all__ = [
    "ALMEncoder",
    "Abilities",
    "CLSP",
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
    "TextTokenLimit",
    "abilities",
    "check_alm_encoder",
    "check_fm_encoder",
    "clear_models",
    "get_alm_encoder",
    "get_speech_encoder",
    "loaded_models",
    "model_source",
    "register_alm",
    "register_fm",
    "register_model_source",
    "registered_alms",
    "registered_fms",
    "resolve_alm",
    "resolve_device",
    "resolve_dtype",
    "resolve_fm",
    "unregister_alm",
    "unregister_fm",
]

_SPECS = {
    "CLSP": ".clsp",
    "EGeMAPS": ".opensmile_egemaps",
    "GE2E": ".ge2e",
    "HFClap": ".hf_clap",
    "HFSpeech": ".hf_speech",
    "LaionClap": ".laion",
    "MSClap": ".msclap",
}


def __getattr__(name):
    # The spec classes live beside their backends; importing them imports no backend package.
    if name in _SPECS:
        import importlib

        return getattr(importlib.import_module(_SPECS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _shared(kind, spec, model, revision, device, dtype, check):
    try:
        hash(spec)
    except TypeError:
        raise TypeError(
            f"model={spec!r} must be hashable (a frozen dataclass, say), so that clones of an "
            "estimator share one loaded model."
        ) from None
    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    key = (kind, spec, revision, device, str(torch_dtype))
    return get_shared(
        key, lambda: check(spec.load(device=device, dtype=torch_dtype, revision=revision), model)
    )


def get_alm_encoder(model, *, revision=None, device="auto", dtype="float32"):
    """The shared audio-language encoder for ``model`` (a name, path or spec; see :mod:`.registry`)."""
    # A model unpacked from a pickle (store_weights_in_pickle) loads from its copy.
    model, revision = model_source(model, revision)
    return _shared("alm", resolve_alm(model), model, revision, device, dtype, check_alm_encoder)


def get_speech_encoder(model, *, revision=None, device="auto", dtype="float32"):
    """The shared speech foundation model for ``model`` (a name, path or spec; see :mod:`.registry`).

    ``"egemaps"`` gives openSMILE's eGeMAPSv02 functionals (no weights, CPU).
    """
    model, revision = model_source(model, revision)
    return _shared("fm", resolve_fm(model), model, revision, device, dtype, check_fm_encoder)
