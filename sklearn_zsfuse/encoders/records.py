"""Loaded models: one record per model, all of them in one registry for the process.

A :class:`ModelRecord` holds what the package knows about one loaded model: the
encoder, its abilities (read once, at load), and values derived from it once
(the probe embedding, :meth:`ModelRecord.derived`). Records are keyed by (kind,
spec, revision, device, dtype): clones made by GridSearchCV or cross_validate
look up the same key, so a 300M-parameter model loads once per process, not once
per candidate and fold.

Estimators hold no model: they look their record up with :func:`model_record`
(a dictionary lookup once loaded) and never pickle it. A model whose files
travelled inside a pickle is an :class:`~.embedded.EmbeddedModel` spec of the
estimator that carried it, keyed by its content: no other estimator's model name
ever resolves to it.

This module's registry is one of the package's few module-level mutable objects
(see ``tests/test_module_state.py`` for the list and why each is there).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from .abilities import Abilities
from .alm import check_alm_encoder
from .base import resolve_device, resolve_dtype
from .fm import check_fm_encoder
from .registry import resolve_alm, resolve_fm

__all__ = ["ModelRecord", "clear_models", "loaded_models", "model_record", "probe_signal"]


@dataclass(frozen=True)
class _Kind:
    resolve: Callable  # model name, path or spec -> ModelSpec
    check: Callable  # (encoder, model) -> encoder, or TypeError naming what it lacks


KINDS = MappingProxyType({
    "alm": _Kind(resolve_alm, check_alm_encoder),
    "fm": _Kind(resolve_fm, check_fm_encoder),
})


class ModelRecord:
    """One loaded model: its encoder, its abilities, and values derived from it once."""

    def __init__(self, key: tuple, encoder, abilities: Abilities):
        self.key = key
        self.kind = key[0]
        self.encoder = encoder
        self.abilities = abilities
        self._derived: dict[str, object] = {}
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    @property
    def fingerprint(self) -> str:
        return self.encoder.fingerprint

    def derived(self, name: str, compute: Callable[[], object]):
        """``compute()`` once per record (models are immutable once loaded), then its value."""
        with self._lock:
            if name not in self._derived:
                value = compute()
                if isinstance(value, np.ndarray):
                    value.setflags(write=False)
                self._derived[name] = value
            return self._derived[name]

    def warn_once(self, message: str, category=UserWarning, stacklevel: int = 1) -> None:
        """``warnings.warn(message, ...)`` the first time this model is told ``message`` in this process.

        A grid search fits many clones with the same prompts; Python's own once-per-place
        memory does not hold there (scikit-learn's workers enter ``catch_warnings``, which
        resets it), so without this the same warning prints once per candidate and fold.
        """
        with self._lock:
            if message in self._warned:
                return
        warnings.warn(message, category, stacklevel=stacklevel + 1)
        with self._lock:
            self._warned.add(message)

    def __repr__(self) -> str:
        return f"ModelRecord({self.key!r})"


# (kind, spec, revision, device, dtype) -> record (a further replica on the same device: its
# device is "DEVICE#k", see .devices). Reentrant: a registered loader may
# load another model (its text tower, say) while its own load holds the lock.
_records: dict[tuple, ModelRecord] = {}
_lock = threading.RLock()


def model_record(kind: str, model, *, revision=None, device="auto", dtype="float32", replica: int = 0) -> ModelRecord:
    """The record of ``model`` (a name, path or spec) of ``kind`` ("alm" or "fm"), loaded once.

    ``device`` is one device; ``replica`` > 0 loads a further copy on it (see :mod:`.devices`).
    """
    spec = KINDS[kind].resolve(model)
    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    key = (kind, spec, revision, f"{device}#{replica}" if replica else device, str(torch_dtype))
    with _lock:
        record = _records.get(key)
        if record is None:
            spec.precheck("model")  # what surely fails, said before any loading (and before any hub call)
            encoder = KINDS[kind].check(spec.load(device=device, dtype=torch_dtype, revision=revision), model)
            record = _records[key] = ModelRecord(key, encoder, Abilities.read(encoder))
        return record


def loaded_models() -> dict:
    """The encoders loaded in this process, by (kind, spec, revision, device, dtype)."""
    with _lock:
        return {key: record.encoder for key, record in _records.items()}


def clear_models() -> None:
    """Unload every model (frees memory; the next use loads again)."""
    with _lock:
        _records.clear()


def probe_signal(sampling_rate: int) -> np.ndarray:
    """One second of a fixed chord with a little seeded noise (a private generator).

    Every model's behavioural signature (``probe_embedding_`` of the estimators) is
    its embedding of this signal.
    """
    t = np.arange(sampling_rate) / sampling_rate
    tone = sum(0.2 * np.sin(2 * np.pi * f * t) for f in (150.0, 440.0, 1250.0))
    noise = 0.01 * np.random.default_rng(20240331).standard_normal(sampling_rate)
    return (tone + noise).astype(np.float32)
