"""Model backends behind the estimators, loaded lazily and once per process."""

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
    "ModelLoadError",
    "ModelMismatchError",
    "clear_models",
    "get_alm_encoder",
    "get_speech_encoder",
    "loaded_models",
    "model_source",
    "register_model_source",
    "resolve_device",
    "resolve_dtype",
]


def get_alm_encoder(model: str, *, revision=None, device="auto", dtype="float32"):
    """The shared audio-language encoder for ``model`` (a CLAP hub id or local directory)."""
    from .hf_clap import HFClapEncoder

    source, revision = model_source(model, revision)
    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    key = ("hf-clap", source, revision, device, str(torch_dtype))
    return get_shared(
        key, lambda: HFClapEncoder(source, revision=revision, device=device, dtype=torch_dtype)
    )


def get_speech_encoder(model: str, *, revision=None, device="auto", dtype="float32"):
    """The shared speech foundation model for ``model`` (hub id or local directory)."""
    from .hf_speech import HFSpeechEncoder

    source, revision = model_source(model, revision)
    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    key = ("hf-speech", source, revision, device, str(torch_dtype))
    return get_shared(
        key, lambda: HFSpeechEncoder(source, revision=revision, device=device, dtype=torch_dtype)
    )
