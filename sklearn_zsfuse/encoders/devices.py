"""Several devices for one estimator: one replica of the model per device.

``device`` names one device (``"auto"``, ``"cpu"``, ``"cuda:1"``, ...), a comma list
of them (``"cuda:0,cuda:1"``) or ``"cuda:all"`` (every CUDA device of the machine).
Each device of a list gets its own copy of the model (a record of
:mod:`.records`); the engine deals batches to them in turn (:mod:`sklearn_zsfuse.engine.replicas`).
A device may appear more than once (``"cpu,cpu"``, ``"cuda:0,cuda:0"``): each
appearance is a replica of its own, loaded once per process like any record.

The first device's replica is the estimator's model: it computes the probe
embedding, the prompts' embeddings and whatever else a fitted estimator keeps;
the others only encode clips. A cache key holds the model's fingerprint, never a
device, so every replica reads and writes the same cache entries.
"""

from __future__ import annotations

from .base import DeviceError, resolve_device
from .records import ModelRecord, model_record

__all__ = ["primary_device", "replica_records", "resolve_devices"]

_FORMS = "auto, cpu, cuda, cuda:N, mps, a comma list such as 'cuda:0,cuda:1', or 'cuda:all'"


def resolve_devices(device) -> tuple[str, ...]:
    """The devices ``device`` names, each checked (:func:`~.base.resolve_device`), in order."""
    if not isinstance(device, str):
        raise DeviceError(f"device={device!r} is not a device: use {_FORMS}.")
    text = device.strip()
    if text == "cuda:all":
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise DeviceError(
                "device='cuda:all' was asked for, but CUDA is not available on this machine (no GPU, or its driver "
                "does not load); use device='cpu', or 'auto' to take a GPU only where there is one."
            )
        return tuple(f"cuda:{i}" for i in range(count))
    if "," not in text:
        return (_one(text, device),)
    parts = [p.strip() for p in text.split(",")]
    if not all(parts):
        raise DeviceError(f"device={device!r} has an empty entry; use {_FORMS}.")
    for part in parts:
        if part in ("auto", "cuda:all"):
            raise DeviceError(f"device={device!r}: {part!r} cannot be part of a list; list the devices themselves.")
    return tuple(_one(p, device) for p in parts)


def _one(text: str, given) -> str:
    try:
        return resolve_device(text)
    except DeviceError as exc:
        if text == given:
            raise
        raise DeviceError(f"device={given!r}: {exc}") from None


def primary_device(device) -> str:
    """The first device ``device`` names: where the estimator's own model lives."""
    return resolve_devices(device)[0]


def replica_records(kind: str, model, *, revision=None, device="auto", dtype="float32") -> tuple[ModelRecord, ...]:
    """One loaded model per device of ``device`` (the first is :func:`primary_device`'s record)."""
    seen: dict[str, int] = {}
    records = []
    for d in resolve_devices(device):
        records.append(model_record(kind, model, revision=revision, device=d, dtype=dtype, replica=seen.get(d, 0)))
        seen[d] = seen.get(d, 0) + 1
    return tuple(records)
