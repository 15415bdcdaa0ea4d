"""Persistence: what a pickle of an audio estimator carries, and how it finds its model again.

By default a pickle (joblib, pickle, skops) carries parameters and learned state
only; the model is loaded again by name (``model``: hub id or directory) on first
use. With ``store_weights_in_pickle=True`` a *fitted* estimator's model files
travel inside the pickle and are unpacked, once per process, into a private
temporary directory that the estimator's own model name then resolves to
(:func:`encoders.model_source`).

The files inside a pickle or ``.skops`` file may have been written by anyone:
their names are confined to the private directory (plain relative names only),
and they may only stand for the model name of the estimator that carries them.
:func:`save_model` writes a file atomically, so a failed save never destroys the
previous one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np

from ..encoders.abilities import abilities
from ..encoders.safetensors_check import safetensors_problem
from ..encoders.base import (
    ModelLoadError,
    ModelMismatchError,
    model_source,
    register_model_source,
)
from .private_files import model_paths, private_directory

__all__ = [
    "SKOPS_TRUSTED_TYPES",
    "check_same_behaviour",
    "check_weights_can_travel",
    "pack_model",
    "save_model",
    "unpack_model",
    "weights_id",
]

# Every class of this package that a fitted pipeline may hold; pass them to
# ``skops.io.load(..., trusted=SKOPS_TRUSTED_TYPES)`` (scikit-learn and numpy types are
# trusted by skops already).
SKOPS_TRUSTED_TYPES = [
    "sklearn_zsfuse.estimators.zero_shot.ALMZeroShotScorer",
    "sklearn_zsfuse.estimators.embedding.FMEmbedder",
    "sklearn_zsfuse.estimators.fusion.LateFusionClassifier",
    "sklearn_zsfuse.estimators.fusion_cv.LateFusionClassifierCV",
]

_STATE_KEY = "_embedded_model"
_FORMAT = 1
# Written by the backends whose files are not a Hugging Face directory (msclap, laion_clap):
# which backend, and which of the files is what. Absent: a Hugging Face model directory.
BACKEND_MANIFEST = "zsfuse-backend.json"


def _model_files(directory: Path) -> dict[str, bytes]:
    return {name: path.read_bytes() for name, path in model_paths(directory).items()}


def _digest(files: dict[str, bytes]) -> str:
    h = hashlib.blake2b(digest_size=16)
    for name in sorted(files):
        h.update(name.encode())
        h.update(len(files[name]).to_bytes(8, "little"))
        h.update(files[name])
    return h.hexdigest()


def _model_key(model):
    """How a model is named in a payload: its path or id as text, or the spec object itself."""
    return os.fspath(model) if isinstance(model, (str, os.PathLike)) else model


def _copyable_directory(model, revision) -> Path | None:
    """The local Hugging Face model directory ``model`` names, copied as is (no model loads)."""
    from ..encoders.registry import registered_spec

    if not isinstance(model, (str, os.PathLike)) or registered_spec(model) is not None:
        return None  # a registered name is its loader's, even where a folder of that name exists
    source, _ = model_source(model, revision)
    if not isinstance(source, (str, os.PathLike)):
        return None
    directory = Path(source).expanduser()
    return directory if directory.is_dir() else None


def check_weights_can_travel(estimator, encoder) -> None:
    """Refuse ``store_weights_in_pickle=True`` at ``fit`` for a model whose files cannot be embedded.

    Checked when the estimator is fitted, so that the error comes before any file is
    written (``joblib.dump`` truncates its target before it pickles).
    """
    if not getattr(estimator, "store_weights_in_pickle", False):
        return
    directory = _copyable_directory(estimator.model, estimator.revision)
    if directory is not None:
        model_paths(directory)  # its links stay inside it
    able = abilities(encoder)
    if not able.has_weights or able.save or directory is not None:
        return
    model = estimator.model
    shown = repr(os.fspath(model)) if isinstance(model, (str, os.PathLike)) else repr(model)
    raise ValueError(
        f"store_weights_in_pickle=True is not supported for {type(estimator).__name__}(model={shown}): "
        f"its backend ({type(encoder).__name__}) cannot write its files so that they load again from a "
        "pickle (supported: Hugging Face CLAP and speech models, msclap, laion_clap; CLSP-style and "
        "registered models are not, as their code or loader lives outside the files). Set "
        "store_weights_in_pickle=False and install the model where the pickle is loaded."
    )


def pack_model(model, revision, save) -> dict:
    """The files of ``model`` as a picklable dict.

    A local Hugging Face directory is copied file by file (its exact bytes); other
    models are written by ``save(directory)`` from the loaded model (safetensors for
    Hugging Face models; checkpoint, text model and a manifest for msclap/laion_clap).
    """
    directory = _copyable_directory(model, revision)
    if directory is not None:
        files = _model_files(directory)
    else:
        with tempfile.TemporaryDirectory(prefix="zsfuse-pack-") as tmp:
            save(tmp)
            files = _model_files(Path(tmp))
    if not files:
        raise ModelLoadError(f"store_weights_in_pickle=True but model={model!r} has no files to embed.")
    return {
        "format": _FORMAT,
        "model": _model_key(model),
        "revision": revision,
        "digest": _digest(files),
        "files": files,
    }


_unpacked: dict[str, object] = {}  # digest -> the source the files load from in this process
_unpack_lock = threading.Lock()
_root: Path | None = None

# One path component of an embedded file: what model repositories use, nothing a
# filesystem treats specially (no separators, drive letters, leading dots, NUL).
_NAME_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}")
_MAX_DEPTH = 8


def _private_root() -> Path:
    global _root
    if _root is None:
        _root = private_directory("zsfuse-models-")  # mode 0700, removed at exit and on SIGTERM
    return _root


def _refuse_name(name, why: str) -> ModelLoadError:
    return ModelLoadError(
        f"The file embeds a model file name {name!r} that {why}; refusing to unpack it (embedded "
        "names must be plain relative paths inside the model directory; the file may be crafted)."
    )


def _checked_names(files) -> list[tuple[str, ...]]:
    """The embedded names as path components, each confined to the model directory."""
    if not isinstance(files, dict) or not files:
        raise ModelLoadError("The file's embedded model holds no files (or not a name -> bytes mapping).")
    seen: dict[tuple[str, ...], str] = {}
    parts_of = []
    for name, data in files.items():
        if not isinstance(name, str):
            raise _refuse_name(name, "is not a string")
        if not isinstance(data, bytes):
            raise _refuse_name(name, f"holds a {type(data).__name__}, not bytes")
        parts = tuple(name.split("/"))
        if not 0 < len(parts) <= _MAX_DEPTH:
            raise _refuse_name(name, f"is nested deeper than {_MAX_DEPTH} directories")
        bad = [p for p in parts if not _NAME_PART.fullmatch(p)]
        if bad:
            raise _refuse_name(name, f"has the component {bad[0]!r} (absolute, '..', '.', hidden or odd characters)")
        key = tuple(p.casefold() for p in parts)  # case-insensitive disks: one file for two names
        if key in seen:
            raise _refuse_name(name, f"names the same file as {seen[key]!r} on a case-insensitive disk")
        seen[key] = name
        parts_of.append(parts)
    for key, name in seen.items():
        for depth in range(1, len(key)):
            if key[:depth] in seen:
                raise _refuse_name(name, f"needs {seen[key[:depth]]!r}, which is a file, as a directory")
    return parts_of


def _write_confined(directory: Path, files: dict[str, bytes], parts_of) -> None:
    """Create ``directory`` holding ``files``, never following a link or touching an existing path."""
    staging = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=directory.parent))
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        for parts, data in zip(parts_of, files.values()):
            parent = staging
            for part in parts[:-1]:
                parent = parent / part
                if not parent.is_dir():
                    os.mkdir(parent, 0o700)
            fd = os.open(parent / parts[-1], flags, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _unpacked_source(directory: Path, files: dict[str, bytes]):
    """What the unpacked files load as: the directory (Hugging Face) or a backend spec."""
    if BACKEND_MANIFEST not in files:
        return str(directory)
    try:
        manifest = json.loads(files[BACKEND_MANIFEST])
        backend = manifest["backend"]
    except (ValueError, TypeError, KeyError) as exc:
        raise ModelLoadError(f"The embedded {BACKEND_MANIFEST} is not readable ({exc}).") from exc

    def embedded(field, *, folder=False):
        # The manifest may only name files of the payload (already confined to ``directory``).
        name = manifest.get(field)
        present = isinstance(name, str) and (
            any(f.startswith(name + "/") for f in files) if folder else name in files
        )
        if not present:
            raise ModelLoadError(f"The embedded {BACKEND_MANIFEST} names {field}={name!r}, which is not among its files.")
        return str(directory / name)

    def setting(field, kinds):
        value = manifest.get(field)
        if not isinstance(value, kinds):
            raise ModelLoadError(f"The embedded {BACKEND_MANIFEST} has {field}={value!r}.")
        return value

    if backend == "msclap":
        from ..encoders.msclap import MSClap

        return MSClap(
            version=setting("version", str), checkpoint=embedded("checkpoint"), text_model=embedded("text_model", folder=True)
        )
    if backend == "laion_clap":
        from ..encoders.laion import LaionClap

        return LaionClap(
            checkpoint=embedded("checkpoint"),
            enable_fusion=setting("enable_fusion", bool),
            amodel=setting("amodel", str),
            tmodel=setting("tmodel", str),
            text_model=embedded("text_model", folder=True),
        )
    raise ModelLoadError(f"The embedded model names an unknown backend {backend!r} (known: laion_clap, msclap).")


_ANY = object()


def unpack_model(payload: dict, *, model=_ANY, revision=None) -> Path:
    """Write the embedded files (once per process per content) and point the model name at them.

    ``model`` and ``revision``: those of the estimator that carries the payload; the
    payload may only stand for them (a file must not re-point other names).
    """
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ModelLoadError(
            f"The pickle embeds model files in format {found!r}, which this version "
            f"of sklearn-zsfuse does not read (it reads format {_FORMAT})."
        )
    name = payload.get("model")
    if model is not _ANY and (name != _model_key(model) or payload.get("revision") != revision):
        raise ModelLoadError(
            f"The file embeds weights for model={name!r} (revision {payload.get('revision')!r}), but the "
            f"estimator that carries them has model={_model_key(model)!r} (revision {revision!r}); refusing "
            "to re-point another model name. The file may be crafted."
        )
    files = payload.get("files")
    parts_of = _checked_names(files)
    digest = _digest(files)
    if digest != payload.get("digest"):
        raise ModelLoadError(f"The model files embedded for model={name!r} are corrupt (digest mismatch).")
    for file_name, data in files.items():  # before a byte is written
        problem = safetensors_problem(data, len(data)) if file_name.endswith(".safetensors") else None
        if problem is not None:
            raise ModelLoadError(f"The embedded file {file_name!r} is damaged: {problem}; nothing was unpacked.")
    with _unpack_lock:
        source = _unpacked.get(digest)
        directory = _private_root() / digest
        if source is None or not directory.is_dir():
            _write_confined(directory, files, parts_of)
            source = _unpacked[digest] = _unpacked_source(directory, files)
    register_model_source(name, payload.get("revision"), source)
    return directory


def save_model(estimator, path) -> Path:
    """``joblib.dump(estimator, path)``, atomically: a failed save leaves ``path`` as it was.

    ``joblib.dump`` opens (truncates) its target before it pickles, so an error while
    pickling destroys the previous file; this writes a temporary file beside ``path``
    and renames it over ``path`` only once it is complete.
    """
    import joblib

    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        joblib.dump(estimator, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class WeightsInPickleMixin:
    """``__getstate__``/``__setstate__`` that embed the model when ``store_weights_in_pickle``.

    Only a fitted estimator embeds its weights: they are the weights its learned state
    belongs to. Unfitted clones (what ``GridSearchCV(n_jobs>1)`` sends to its workers)
    travel without them and load the model by name.
    """

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: never add the files to self.__dict__
        fitted = getattr(self, "weights_id_", None) is not None
        if not (fitted and getattr(self, "store_weights_in_pickle", False)):
            return state
        if _copyable_directory(self.model, self.revision) is None:  # else copied without loading it
            encoder = self._encoder()
            if not abilities(encoder).has_weights:
                return state  # nothing to carry
            check_weights_can_travel(self, encoder)
        state[_STATE_KEY] = pack_model(self.model, self.revision, lambda directory: self._encoder().save(directory))
        return state

    def __setstate__(self, state):
        state = dict(state)
        payload = state.pop(_STATE_KEY, None)
        if payload is not None:
            unpack_model(payload, model=state.get("model"), revision=state.get("revision"))
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
