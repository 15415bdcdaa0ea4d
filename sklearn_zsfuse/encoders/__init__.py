"""Model backends behind the estimators, loaded lazily and once per process."""

from .base import (
    ModelLoadError,
    clear_models,
    get_shared,
    loaded_models,
    resolve_device,
    resolve_dtype,
)

__all__ = [
    "ModelLoadError",
    "clear_models",
    "get_alm_encoder",
    "get_speech_encoder",
    "loaded_models",
    "resolve_device",
    "resolve_dtype",
]


def get_alm_encoder(model: str, *, revision=None, device="auto", dtype="float32"):
    """The shared audio-language encoder for ``model`` (a CLAP hub id or local directory)."""
    from .hf_clap import HFClapEncoder

    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    key = ("hf-clap", str(model), revision, device, str(torch_dtype))
    return get_shared(
        key, lambda: HFClapEncoder(str(model), revision=revision, device=device, dtype=torch_dtype)
    )


def get_speech_encoder(model: str, *, revision=None, device="auto", dtype="float32"):
    """The shared speech foundation model for ``model`` (hub id or local directory).

    ``"egemaps"`` gives openSMILE's eGeMAPSv02 functionals instead (no weights, CPU).
    """
    from .opensmile_egemaps import EGeMAPSEncoder, is_egemaps

    if is_egemaps(model):
        return get_shared(("opensmile", "eGeMAPSv02"), EGeMAPSEncoder)
    from .hf_speech import HFSpeechEncoder

    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    key = ("hf-speech", str(model), revision, device, str(torch_dtype))
    return get_shared(
        key, lambda: HFSpeechEncoder(str(model), revision=revision, device=device, dtype=torch_dtype)
    )
