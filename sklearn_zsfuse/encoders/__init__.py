"""Model backends behind the estimators, loaded lazily and once per process.

Audio-language models follow the small protocol in :mod:`.alm`; names and
paths resolve through :func:`resolve_alm` (see :func:`register_alm` to plug in
your own dual encoder).
"""

import os

from ._backend import MissingExtraError
from .alm import ALMEncoder, TextTokenLimit, check_alm_encoder, register_alm, registered_alms, resolve_alm, unregister_alm
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

__all__ = [
    "ALMEncoder",
    "TextTokenLimit",
    "CLSP",
    "HFClap",
    "LaionClap",
    "MSClap",
    "MissingExtraError",
    "ModelLoadError",
    "ModelMismatchError",
    "check_alm_encoder",
    "clear_models",
    "get_alm_encoder",
    "get_speech_encoder",
    "loaded_models",
    "model_source",
    "register_alm",
    "register_model_source",
    "registered_alms",
    "resolve_alm",
    "resolve_device",
    "resolve_dtype",
    "unregister_alm",
]

_SPECS = {"CLSP": ".clsp", "HFClap": ".hf_clap", "LaionClap": ".laion", "MSClap": ".msclap"}


def __getattr__(name):
    # The spec classes live beside their backends; importing them imports no backend package.
    if name in _SPECS:
        import importlib

        return getattr(importlib.import_module(_SPECS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_alm_encoder(model, *, revision=None, device="auto", dtype="float32"):
    """The shared audio-language encoder for ``model`` (a name, path or spec; see :mod:`.alm`)."""
    if isinstance(model, (str, os.PathLike)):
        # A model unpacked from a pickle (store_weights_in_pickle) loads from its copy.
        model, revision = model_source(model, revision)
    spec = resolve_alm(model)
    try:
        hash(spec)
    except TypeError:
        raise TypeError(
            f"model={spec!r} must be hashable (a frozen dataclass, say), so that clones of an "
            "estimator share one loaded model."
        ) from None
    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    key = ("alm", spec, revision, device, str(torch_dtype))
    return get_shared(
        key,
        lambda: check_alm_encoder(spec.load(device=device, dtype=torch_dtype, revision=revision), model),
    )


def get_speech_encoder(model: str, *, revision=None, device="auto", dtype="float32"):
    """The shared speech foundation model for ``model`` (hub id or local directory).

    ``"egemaps"`` gives openSMILE's eGeMAPSv02 functionals instead (no weights, CPU).
    """
    from .opensmile_egemaps import EGeMAPSEncoder, is_egemaps

    if is_egemaps(model):
        return get_shared(("opensmile", "eGeMAPSv02"), EGeMAPSEncoder)
    from .hf_speech import HFSpeechEncoder

    source, revision = model_source(model, revision)
    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    key = ("hf-speech", source, revision, device, str(torch_dtype))
    return get_shared(
        key, lambda: HFSpeechEncoder(source, revision=revision, device=device, dtype=torch_dtype)
    )
