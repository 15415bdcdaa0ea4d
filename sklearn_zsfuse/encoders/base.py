"""What every encoder backend shares: devices, dtypes, the weights' fingerprint."""

from __future__ import annotations

import functools
import os
from pathlib import Path

# Hub and loading rules live in .hub; these names stay importable from here.
from .hub import LOAD_ERRORS, ModelLoadError, load_error  # noqa: F401

__all__ = [
    "DeviceError",
    "ModelLoadError",
    "ModelMismatchError",
    "model_fingerprint",
    "resolve_device",
    "resolve_dtype",
    "unwrap_features",
]


class ModelMismatchError(ValueError):
    """The model a fitted estimator points to now is not the one it was fitted with."""


class DeviceError(ValueError):
    """An explicit device was asked for that this machine does not have."""


def resolve_device(device: str) -> str:
    """The device ``device`` names: ``"auto"`` is CUDA when present, else the CPU.

    An explicit device that this machine does not have (``"cuda"`` on a machine
    without a working CUDA driver, ``"cuda:3"`` with two GPUs, ``"mps"`` off Apple
    silicon) is an error naming it: a run asked for a GPU must not go on 100 times
    slower on the CPU without a word.
    """
    import torch

    text = str(device).strip()
    if text == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(text)
    except (RuntimeError, ValueError):
        raise DeviceError(f"device={device!r} is not a device: use auto, cpu, cuda, cuda:N or mps.") from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                f"device={device!r} was asked for, but CUDA is not available on this machine (no GPU, or "
                "its driver does not load); use device='cpu' (on a loaded model: set_params(..., device='cpu'), "
                "or zsfuse --device cpu), or 'auto' to take a GPU only where there is one."
            )
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise DeviceError(
                f"device={device!r} was asked for, but this machine has {torch.cuda.device_count()} CUDA "
                f"device(s) (cuda:0..cuda:{torch.cuda.device_count() - 1})."
            )
    elif parsed.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise DeviceError(f"device={device!r} was asked for, but MPS is not available on this machine.")
    return text


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
