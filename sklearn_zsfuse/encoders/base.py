"""What every encoder backend shares: devices, dtypes, loading once per process."""

from __future__ import annotations

import os
import pickle
import threading
import warnings
from pathlib import Path

__all__ = [
    "ModelLoadError",
    "ModelMismatchError",
    "clear_models",
    "get_shared",
    "loaded_models",
    "model_fingerprint",
    "model_source",
    "register_model_source",
    "resolve_device",
    "resolve_dtype",
    "unwrap_features",
]


# What from_pretrained raises for a checkpoint it cannot use (pickle: a .bin refused by
# torch's weights_only loader).
LOAD_ERRORS = (OSError, ValueError, pickle.UnpicklingError)


class ModelLoadError(ValueError):
    """A model id or path could not be resolved or loaded."""


class ModelMismatchError(ValueError):
    """The model a fitted estimator points to now is not the one it was fitted with."""


_models: dict[tuple, object] = {}
_lock = threading.Lock()


def get_shared(key: tuple, loader):
    """Return the encoder for ``key``, loading it with ``loader()`` once per process.

    Clones made by GridSearchCV or cross_validate look up the same key, so a
    300M-parameter model is loaded once, not once per candidate and fold.
    """
    with _lock:
        encoder = _models.get(key)
        if encoder is None:
            encoder = loader()
            _models[key] = encoder
        return encoder


def loaded_models() -> dict:
    """The encoders loaded in this process, by (backend, model, revision, device, dtype)."""
    return dict(_models)


def clear_models() -> None:
    """Unload every model (frees memory; the next use loads again)."""
    with _lock:
        _models.clear()


# Model names whose weights arrived inside a pickle (store_weights_in_pickle=True):
# (model, revision) -> where they were unpacked to in this process: a directory, or a
# spec (msclap, laion_clap) whose files are there. ``model`` is a name, path or spec.
_sources: dict[tuple[object, str | None], object] = {}


def _source_key(model):
    return os.fspath(model) if isinstance(model, (str, os.PathLike)) else model


def register_model_source(model, revision, source) -> None:
    """Make ``model`` (at ``revision``) load from ``source`` (a directory or a spec) in this process."""
    if isinstance(source, (str, os.PathLike)):
        source = os.fspath(source)
    with _lock:
        _sources[(_source_key(model), revision)] = source


def model_source(model, revision):
    """Where ``model`` loads from: ``(path, id or spec, revision)``.

    A model unpacked from a pickle loads from its unpacked copy, which is what
    the pickled estimator was fitted with, even if a directory of the same name
    exists here.
    """
    try:
        source = _sources.get((_source_key(model), revision))
    except TypeError:  # an unhashable spec: get_alm_encoder says so
        source = None
    if source is not None:
        return source, None
    return _source_key(model), revision


_warned_devices: set[str] = set()  # warn once per process, not once per transform


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        if device in _warned_devices:
            return "cpu"
        _warned_devices.add(device)
        warnings.warn(
            f"device={device!r} was requested but CUDA is not available on this machine; "
            "running on the CPU instead.",
            RuntimeWarning,
            stacklevel=3,
        )
        return "cpu"
    return str(device)


def resolve_dtype(dtype: str, device: str):
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]


def unwrap_features(output):
    """``get_*_features`` returns a tensor in transformers 4 and a model output in 5."""
    if hasattr(output, "pooler_output"):
        return output.pooler_output
    return output


def model_fingerprint(model: str, revision: str | None, config) -> str:
    """Identify weights: hub id + resolved commit, or local path + weight file stamps."""
    path = Path(os.fspath(model)).expanduser()
    if path.is_dir():
        stamps = sorted(
            f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
            for p in path.iterdir()
            if p.suffix in {".safetensors", ".bin", ".pt", ".pth", ".json"}
        )
        return f"{path.resolve()}|{'|'.join(stamps)}"
    commit = getattr(config, "_commit_hash", None)
    return f"{model}@{commit or revision or 'main'}"


def _caused_by(exc: BaseException, kind: type) -> bool:
    """Whether ``kind`` is in the chain (transformers 4 wraps the unpickling error in an OSError)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def load_error(model, parameter: str, exc: Exception) -> ModelLoadError:
    """One message for an unknown id, a missing directory or an offline hub."""
    offline = os.environ.get("HF_HUB_OFFLINE", "0") not in {"0", "", "false", "False"}
    path = Path(os.fspath(model)).expanduser()
    text = str(model)
    looks_local = path.exists() or text.startswith(("/", ".", "~")) or text.count("/") > 1
    if _caused_by(exc, pickle.UnpicklingError):
        hint = (
            "its pickled weights file holds more than tensors, and checkpoints are loaded with "
            "torch's weights_only loader, which refuses to run code from a file. Use a "
            "safetensors copy of the checkpoint (or convert the trusted original to safetensors)."
        )
        return ModelLoadError(f"Cannot load {parameter}={text!r}: {hint}")
    if looks_local and not path.exists():
        hint = f"the directory {str(path)!r} does not exist."
    elif looks_local:
        hint = f"{str(path)!r} is not a loadable checkpoint directory."
    elif offline:
        hint = (
            "HF_HUB_OFFLINE is set and the model is not in the local Hugging Face cache; "
            "download it once online or pass a local directory."
        )
    else:
        hint = (
            "it is neither a local directory nor a model id that could be fetched from the "
            "Hugging Face Hub (check the spelling, your network, or pass a local directory)."
        )
    return ModelLoadError(f"Cannot load {parameter}={str(model)!r}: {hint} [{type(exc).__name__}: {exc}]")
