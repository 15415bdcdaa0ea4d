"""What every encoder backend shares: devices, dtypes, loading once per process."""

from __future__ import annotations

import functools
import os
import threading
import warnings
from pathlib import Path

# Hub and loading rules live in .hub; these names stay importable from here.
from .hub import LOAD_ERRORS, ModelLoadError, load_error  # noqa: F401

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
    from .abilities import forget

    with _lock:
        _models.clear()
        forget()


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
    """The torch dtype for ``dtype`` on the (resolved) ``device``.

    ``"auto"`` is bfloat16 where the hardware computes in it natively (CUDA devices
    of compute capability 8.0 or more; CPUs with AVX512-BF16 or AMX-BF16), float32
    elsewhere, where bfloat16 is emulated and slower than float32. The difference
    from float32 on the models' sizes (benchmarks/zero_shot_vs_pipeline.py, benchmarks/gpu.py) is
    within the documented tolerance: per-clip cosine of embeddings >= 0.99 and
    zero-shot argmax agreement >= 0.99.
    """
    import torch

    if dtype == "auto":
        if device.startswith("cuda"):
            native = torch.cuda.get_device_capability(device)[0] >= 8
        else:
            native = device == "cpu" and _cpu_has_native_bf16()
        return torch.bfloat16 if native else torch.float32
    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]


@functools.lru_cache(maxsize=None)
def _cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU has bfloat16 instructions (Linux's CPU flags; elsewhere: no)."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return "avx512_bf16" in flags or "amx_bf16" in flags


def unwrap_features(output):
    """``get_*_features`` returns a tensor in transformers 4 and a model output in 5."""
    if hasattr(output, "pooler_output"):
        return output.pooler_output
    return output


def model_fingerprint(model: str, revision: str | None, config) -> str:
    """Identify weights: local path + a digest of every weight, config and tokenizer file
    (:mod:`.file_digest`), or hub id + resolved commit (the hub cache's files are trusted as
    downloaded)."""
    from .file_digest import content_stamp

    path = Path(os.fspath(model)).expanduser()
    if path.is_dir():
        return content_stamp(path)
    commit = getattr(config, "_commit_hash", None)
    return f"{model}@{commit or revision or 'main'}"
