"""Model files that travel inside a pickle: packing them, and loading them for their estimator.

With ``store_weights_in_pickle=True`` a fitted estimator's model files are put
into its pickle (:func:`pack_model`). Where the pickle is loaded they become an
:class:`EmbeddedModel`, a spec of the estimator that carried them (and its
clones), keyed by their content: no other estimator's model name ever resolves to
them, and nothing is written until the model is first used. Then the files are
written into a private temporary directory, loaded, and the directory is removed
again, so nothing of them stays on disk, whatever ends the process.

The files inside a pickle or ``.skops`` file may have been written by anyone:
their names are confined to the private directory (plain relative names only),
checked when the file is read; they may only stand for the model name of the
estimator that carries them; and their digest must match.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from ._backend import BACKEND_MANIFEST
from .hub import ModelLoadError
from .model_files import model_paths
from .safetensors_check import safetensors_problem
from .specs import ModelSpec

__all__ = ["BACKEND_MANIFEST", "EmbeddedModel", "pack_model", "unpack_model"]

_FORMAT = 1


def _model_files(directory: Path) -> dict[str, bytes]:
    """The files of a model directory as bytes; a link out of it is refused (:func:`.model_files.model_paths`)."""
    return {name: path.read_bytes() for name, path in model_paths(directory).items()}


def _digest(files: dict[str, bytes]) -> str:
    h = hashlib.blake2b(digest_size=16)
    for name in sorted(files):
        h.update(name.encode())
        h.update(len(files[name]).to_bytes(8, "little"))
        h.update(files[name])
    return h.hexdigest()


def model_key(model):
    """How a model is named in a payload: its path or id as text, or the spec object itself."""
    return os.fspath(model) if isinstance(model, (str, os.PathLike)) else model


def pack_model(model, revision, save, directory: Path | None = None) -> dict:
    """The files of ``model`` as a picklable dict.

    ``directory``: a local Hugging Face model directory, copied file by file (its exact
    bytes). Otherwise ``save(directory)`` writes the files from the loaded model
    (safetensors for Hugging Face models; checkpoint, text model and a manifest for
    msclap/laion_clap).
    """
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
        "model": model_key(model),
        "revision": revision,
        "digest": _digest(files),
        "files": files,
    }


# One path component of an embedded file: what model repositories use, nothing a
# filesystem treats specially (no separators, drive letters, leading dots, NUL).
_NAME_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}")
_MAX_DEPTH = 8


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
        from .msclap import MSClap

        return MSClap(
            version=setting("version", str), checkpoint=embedded("checkpoint"), text_model=embedded("text_model", folder=True)
        )
    if backend == "laion_clap":
        from .laion import LaionClap

        return LaionClap(
            checkpoint=embedded("checkpoint"),
            enable_fusion=setting("enable_fusion", bool),
            amodel=setting("amodel", str),
            tmodel=setting("tmodel", str),
            text_model=embedded("text_model", folder=True),
        )
    raise ModelLoadError(f"The embedded model names an unknown backend {backend!r} (known: laion_clap, msclap).")


class EmbeddedModel(ModelSpec):
    """The model files a pickle carried, as a spec of the estimator that carried them.

    Equal (and so sharing one loaded model) by content digest and kind. Loading writes
    the files into a private temporary directory (mode 0700), loads them, and removes
    the directory: the model lives in memory from then on.
    """

    __slots__ = ("kind", "model", "revision", "digest", "payload", "_parts")

    def __init__(self, kind: str, payload: dict, parts):
        self.kind, self.payload, self._parts = kind, payload, parts
        self.model, self.revision, self.digest = payload["model"], payload["revision"], payload["digest"]

    def carries(self, model, revision) -> bool:
        """Whether these are the files of ``model`` at ``revision`` (an estimator's parameters)."""
        try:
            return self.model == model_key(model) and self.revision == revision
        except TypeError:  # an unhashable or odd spec: not ours
            return False

    def load(self, *, device, dtype, revision=None):
        from .registry import resolve_alm, resolve_fm

        resolve = resolve_alm if self.kind == "alm" else resolve_fm
        files = self.payload["files"]
        with tempfile.TemporaryDirectory(prefix="zsfuse-models-") as tmp:
            directory = Path(tmp) / self.digest
            _write_confined(directory, files, self._parts)
            return resolve(_unpacked_source(directory, files)).load(device=device, dtype=dtype, revision=None)

    def __eq__(self, other):
        return isinstance(other, EmbeddedModel) and (self.kind, self.digest) == (other.kind, other.digest)

    def __hash__(self):
        return hash((EmbeddedModel, self.kind, self.digest))

    def __repr__(self):
        return f"EmbeddedModel({self.model!r}, digest={self.digest!r})"


def unpack_model(payload: dict, *, kind: str, model, revision=None) -> EmbeddedModel:
    """The embedded model of a pickle, checked: nothing is written and nothing is re-pointed.

    ``model`` and ``revision``: those of the estimator that carries the payload; the
    payload may only stand for them (a file must not stand for other names).
    """
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ModelLoadError(
            f"The pickle embeds model files in format {found!r}, which this version "
            f"of sklearn-zsfuse does not read (it reads format {_FORMAT})."
        )
    name = payload.get("model")
    if name != model_key(model) or payload.get("revision") != revision:
        raise ModelLoadError(
            f"The file embeds weights for model={name!r} (revision {payload.get('revision')!r}), but the "
            f"estimator that carries them has model={model_key(model)!r} (revision {revision!r}); refusing "
            "to stand for another model name. The file may be crafted."
        )
    files = payload.get("files")
    parts_of = _checked_names(files)
    if _digest(files) != payload.get("digest"):
        raise ModelLoadError(f"The model files embedded for model={name!r} are corrupt (digest mismatch).")
    for file_name, data in files.items():  # before a byte is ever written
        problem = safetensors_problem(data, len(data)) if file_name.endswith(".safetensors") else None
        if problem is not None:
            raise ModelLoadError(f"The embedded file {file_name!r} is damaged: {problem}; nothing was unpacked.")
    return EmbeddedModel(kind, payload, parts_of)
