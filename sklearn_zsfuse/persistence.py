"""Persistence: what a pickle of an audio estimator carries, and how it finds its model again.

By default a pickle (joblib, pickle, skops) carries parameters and learned state
only; the model is loaded again by name (``model``: hub id or directory) on first
use. With ``store_weights_in_pickle=True`` the model's files travel inside the
pickle and are unpacked, once per process, into a private temporary directory
that the model name then resolves to (:func:`encoders.model_source`).
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np

from .encoders.base import ModelLoadError, ModelMismatchError, model_source, register_model_source
from .encoders.opensmile_egemaps import is_egemaps  # no weights to embed

__all__ = [
    "SKOPS_TRUSTED_TYPES",
    "check_same_behaviour",
    "weights_id",
    "pack_model",
    "unpack_model",
]

# Every class of this package that a fitted pipeline may hold; pass them to
# ``skops.io.load(..., trusted=SKOPS_TRUSTED_TYPES)`` (scikit-learn and numpy types are
# trusted by skops already).
SKOPS_TRUSTED_TYPES = [
    "sklearn_zsfuse.zero_shot.ALMZeroShotScorer",
    "sklearn_zsfuse.embedding.FMEmbedder",
    "sklearn_zsfuse.fusion.LateFusionClassifier",
    "sklearn_zsfuse.fusion_cv.LateFusionClassifierCV",
]

_STATE_KEY = "_embedded_model"
_FORMAT = 1


def _model_files(directory: Path) -> dict[str, bytes]:
    files = {}
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            files[rel.as_posix()] = path.read_bytes()
    return files


def _digest(files: dict[str, bytes]) -> str:
    h = hashlib.blake2b(digest_size=16)
    for name in sorted(files):
        h.update(name.encode())
        h.update(len(files[name]).to_bytes(8, "little"))
        h.update(files[name])
    return h.hexdigest()


def pack_model(model, revision, save) -> dict:
    """The files of ``model`` as a picklable dict.

    A local directory is copied file by file (its exact bytes); a hub id is
    written by ``save(directory)`` from the loaded model (safetensors).
    """
    source, source_revision = model_source(model, revision)
    directory = Path(source).expanduser()
    if directory.is_dir():
        files = _model_files(directory)
    else:
        with tempfile.TemporaryDirectory(prefix="zsfuse-pack-") as tmp:
            save(tmp)
            files = _model_files(Path(tmp))
    if not files:
        raise ModelLoadError(
            f"store_weights_in_pickle=True but model={os.fspath(model)!r} has no files to embed."
        )
    return {
        "format": _FORMAT,
        "model": os.fspath(model),
        "revision": revision,
        "digest": _digest(files),
        "files": files,
    }


_unpacked: dict[str, Path] = {}
_unpack_lock = threading.Lock()
_root: Path | None = None


def _private_root() -> Path:
    global _root
    if _root is None:
        _root = Path(tempfile.mkdtemp(prefix="zsfuse-models-"))  # mode 0700: this user only
        atexit.register(shutil.rmtree, _root, ignore_errors=True)
    return _root


def unpack_model(payload: dict) -> Path:
    """Write the embedded files (once per process per content) and point the model name at them."""
    if payload.get("format") != _FORMAT:
        raise ModelLoadError(
            f"The pickle embeds model files in format {payload.get('format')!r}, which this version "
            f"of sklearn-zsfuse does not read (it reads format {_FORMAT})."
        )
    files = payload["files"]
    if _digest(files) != payload["digest"]:
        raise ModelLoadError(
            f"The model files embedded for model={payload['model']!r} are corrupt (digest mismatch)."
        )
    with _unpack_lock:
        directory = _unpacked.get(payload["digest"])
        if directory is None or not directory.is_dir():
            directory = _private_root() / payload["digest"]
            for name, data in files.items():
                target = directory / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            _unpacked[payload["digest"]] = directory
    register_model_source(payload["model"], payload["revision"], directory)
    return directory


class WeightsInPickleMixin:
    """``__getstate__``/``__setstate__`` that embed the model when ``store_weights_in_pickle``."""

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: never add the files to self.__dict__
        if getattr(self, "store_weights_in_pickle", False) and not is_egemaps(self.model):
            state[_STATE_KEY] = pack_model(
                self.model, self.revision, lambda directory: self._encoder().save(directory)
            )
        return state

    def __setstate__(self, state):
        state = dict(state)
        payload = state.pop(_STATE_KEY, None)
        if payload is not None:
            unpack_model(payload)
        super().__setstate__(state)


def weights_id(encoder) -> str:
    """A short digest of the encoder's fingerprint (keeps paths out of pickles)."""
    return hashlib.blake2b(encoder.fingerprint.encode(), digest_size=12).hexdigest()


def relative_difference(reference: np.ndarray, current: np.ndarray) -> float:
    reference = np.asarray(reference, dtype=np.float64)
    current = np.asarray(current, dtype=np.float64)
    if reference.shape != current.shape:
        return float("inf")
    return float(np.linalg.norm(current - reference) / max(np.linalg.norm(reference), 1e-12))


# Same weights on another device or dtype (a CUDA bfloat16 fit, a CPU float32 predict)
# stay well inside this; different checkpoints land far outside it.
SAME_BEHAVIOUR_RTOL = 0.05


def check_same_behaviour(estimator, what: str, reference, current) -> None:
    """Raise :class:`ModelMismatchError` if ``current`` is not ``reference`` up to device noise."""
    reference, current = np.asarray(reference), np.asarray(current)
    if reference.shape != current.shape:
        problem = f"its {what} have shape {current.shape}, the fitted model's {reference.shape}"
    else:
        diff = relative_difference(reference, current)
        if diff <= SAME_BEHAVIOUR_RTOL:
            return
        problem = f"its {what} differ by {diff:.0%} (tolerance {SAME_BEHAVIOUR_RTOL:.0%})"
    raise ModelMismatchError(
        f"{type(estimator).__name__}(model={os.fspath(estimator.model)!r}) is not the model it "
        f"was fitted with: {problem}. Refit with this model (in a pipeline, refit the whole "
        "pipeline), or point model at a copy of the original weights."
    )
