"""Embedding caches: in memory for the process, and optionally on disk across processes.

Audio embeddings are keyed by (model fingerprint, preprocessing settings, clip
content digest), so a grid search over fusion weights, templates or text repeats
re-encodes no audio, and a grid over audio repeats encodes each clip once per
value. Text embeddings are cached the same way by prompt string.

The memory tier (:data:`caches`: ``caches.audio``, ``caches.text``) is shared by
every estimator and clone in a process; an audio entry also remembers whether its
clip was digital silence, so a result served from memory warns as the first did.
The disk tier (:class:`DiskCache`, chosen with an estimator's ``cache_dir``)
survives the process and is shared by parallel workers (``GridSearchCV(n_jobs=2)``)
and later runs; :data:`caches` holds one :class:`DiskCache` per directory, so its
counters add up over every estimator using it.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import tempfile
import threading
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np

__all__ = [
    "CacheTiers",
    "CacheWarning",
    "Caches",
    "DiskCache",
    "EmbeddingCache",
    "caches",
    "clear_caches",
    "disk_cache",
    "resolve_cache_dir",
]


class EmbeddingCache:
    """A thread-safe LRU of numpy arrays bounded by total bytes.

    Each entry also says whether its input was digital silence (``silent``), so a
    result served from here is reported as the one it repeats.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self._data: OrderedDict[tuple, tuple[np.ndarray, bool]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def entry(self, key: tuple) -> tuple[np.ndarray, bool] | None:
        """``(value, silent)`` of ``key``, or None."""
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return entry

    def get(self, key: tuple):
        entry = self.entry(key)
        return None if entry is None else entry[0]

    def put(self, key: tuple, value: np.ndarray, silent: bool = False) -> None:
        value = np.array(value, copy=True)
        value.setflags(write=False)
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= old[0].nbytes
            if value.nbytes > self.max_bytes:
                return
            self._data[key] = (value, bool(silent))
            self._bytes += value.nbytes
            while self._bytes > self.max_bytes:
                _, (evicted, _) = self._data.popitem(last=False)
                self._bytes -= evicted.nbytes

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0
            self.hits = 0
            self.misses = 0

    def __len__(self) -> int:
        return len(self._data)

    @property
    def nbytes(self) -> int:
        return self._bytes




class CacheWarning(UserWarning):
    """The disk cache cannot be written: the process goes on with memory-only caching."""


# Bump when preprocessing or the stored layout changes, so old entries are not reused.
DISK_FORMAT = 1
_MAGIC = b"ZSFUSE-CACHE\x00"
_DIGEST_SIZE = 32


class DiskCache:
    """Numpy arrays on disk, one file per key, safe for concurrent processes.

    Each file holds a magic string, a checksum, the full key and the array in
    ``.npy`` form. Writes go to a temporary file in the same directory and are
    moved into place with :func:`os.replace`, so a reader sees either no entry
    or a whole one; two processes writing the same key both write the same
    value and the last rename wins. An entry that fails its checksum, key or
    ``np.load`` (a truncated file, a disk error, a foreign file), or whose value
    is impossible (not a floating-point array, NaN or infinite values, another
    shape than the caller expects), counts as ``corrupt``, is deleted and
    reported as a miss, so it is recomputed and never returned.

    A directory that cannot be written (read-only, full, a file or a link loop
    where it should be, a folder where an entry should be) gives one
    :class:`CacheWarning` naming it; from then on this process caches in memory
    only (reads of existing entries go on). The cache only saves time, so a run
    is never stopped by it.

    ``hits``, ``misses``, ``writes`` and ``corrupt`` count this process's
    lookups (use :meth:`stats`).
    """

    def __init__(self, directory: str | os.PathLike):
        self.directory = _absolute(directory)
        self._root = self.directory / f"v{DISK_FORMAT}"
        self._lock = threading.Lock()
        self.hits = self.misses = self.writes = self.corrupt = 0
        self.write_error: str | None = None  # why writing stopped, once it has

    def __repr__(self) -> str:
        return f"DiskCache({str(self.directory)!r})"

    @staticmethod
    def _key_bytes(key: tuple) -> bytes:
        return repr(tuple(key)).encode("utf-8")

    def path_for(self, key: tuple) -> Path:
        """The file that holds ``key``'s entry (whether or not it exists)."""
        name = hashlib.blake2b(self._key_bytes(key), digest_size=20).hexdigest()
        return self._root / name[:2] / f"{name[2:]}.zsf"

    def _count(self, field: str) -> None:
        with self._lock:
            setattr(self, field, getattr(self, field) + 1)

    def get(self, key: tuple, shape: tuple | None = None) -> np.ndarray | None:
        """The entry of ``key``, or None; with ``shape``, an entry of another shape is corrupt."""
        path = self.path_for(key)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            self._count("misses")
            return None
        except OSError:
            self._count("misses")  # unreadable (permissions, I/O error): recompute
            return None
        value = self._parse(data, self._key_bytes(key))
        if value is not None and shape is not None and value.shape != tuple(shape):
            value = None
        if value is None:
            self._count("corrupt")
            self._count("misses")
            try:
                path.unlink()
            except OSError:
                pass  # another process may have replaced or removed it already
            return None
        self._count("hits")
        return value

    @staticmethod
    def _parse(data: bytes, key: bytes) -> np.ndarray | None:
        head = len(_MAGIC) + _DIGEST_SIZE + 4
        if len(data) < head or not data.startswith(_MAGIC):
            return None
        digest = data[len(_MAGIC) : len(_MAGIC) + _DIGEST_SIZE]
        body = data[len(_MAGIC) + _DIGEST_SIZE :]
        if hashlib.blake2b(body, digest_size=_DIGEST_SIZE).digest() != digest:
            return None
        (key_len,) = struct.unpack("<I", body[:4])
        if body[4 : 4 + key_len] != key:  # a hash collision of file names, in theory
            return None
        try:
            value = np.load(io.BytesIO(body[4 + key_len :]), allow_pickle=False)
        except Exception:
            return None
        # A right checksum says the bytes are what some writer wrote, not that they are an
        # embedding: every entry is a non-empty float array of finite values.
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f" or value.ndim == 0 or value.size == 0:
            return None
        if not np.all(np.isfinite(value)):
            return None
        value.setflags(write=False)
        return value

    def put(self, key: tuple, value: np.ndarray) -> None:
        if self.write_error is not None:
            return
        key_bytes = self._key_bytes(key)
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(value), allow_pickle=False)
        body = struct.pack("<I", len(key_bytes)) + key_bytes + buf.getvalue()
        blob = _MAGIC + hashlib.blake2b(body, digest_size=_DIGEST_SIZE).digest() + body
        path = self.path_for(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
        except (OSError, RuntimeError) as exc:  # RuntimeError: a link loop (Python < 3.13)
            self._stop_writing(exc)
            return
        try:
            _write_blob(fd, blob)
            os.replace(tmp, path)
        except PermissionError as exc:
            _unlink_quietly(tmp)
            if os.name == "nt":
                # On Windows a reader holding the file open blocks the rename; the other
                # writer's entry is equally valid, so dropping this write is harmless.
                return
            self._stop_writing(exc)
            return
        except OSError as exc:
            _unlink_quietly(tmp)
            self._stop_writing(exc)
            return
        except BaseException:
            _unlink_quietly(tmp)
            raise
        self._count("writes")

    def _stop_writing(self, exc: BaseException) -> None:
        """One warning naming the directory; then memory-only caching for this process."""
        with self._lock:
            if self.write_error is not None:
                return
            self.write_error = f"{type(exc).__name__}: {exc}"
        warnings.warn(
            f"cache_dir={str(self.directory)!r} cannot be written ({self.write_error}); embeddings "
            "are cached in memory only for the rest of this process. Results are unaffected; a "
            "later run recomputes what was not stored. Free space, fix the permissions, or pass "
            "another cache_dir (None for memory only).",
            CacheWarning,
            stacklevel=4,
        )

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"hits": self.hits, "misses": self.misses, "writes": self.writes, "corrupt": self.corrupt}

    def reset_stats(self) -> None:
        with self._lock:
            self.hits = self.misses = self.writes = self.corrupt = 0

    def __len__(self) -> int:
        return sum(1 for _ in self._root.glob("*/*.zsf")) if self._root.is_dir() else 0

    def clear(self) -> None:
        """Delete every entry of this format version (the directory itself stays)."""
        import shutil

        shutil.rmtree(self._root, ignore_errors=True)


def _write_blob(fd: int, blob: bytes) -> None:
    """Write ``blob`` to the open file ``fd`` and close it."""
    with os.fdopen(fd, "wb") as f:
        f.write(blob)


def _absolute(directory) -> Path:
    """``directory`` made absolute and resolved where it can be (a link loop cannot: kept as given)."""
    path = Path(os.fspath(directory)).expanduser()
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))


def _unlink_quietly(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def resolve_cache_dir(cache_dir) -> Path | None:
    """``cache_dir`` as a directory path: a path, a ``joblib.Memory`` (its location) or None."""
    if cache_dir is None:
        return None
    location = getattr(cache_dir, "location", cache_dir)  # joblib.Memory
    if location is None:  # joblib.Memory(None) caches nothing
        return None
    if not str(os.fspath(location)).strip():
        raise ValueError(
            f"cache_dir={os.fspath(location)!r} names no directory (it would mean the working "
            "directory); pass a directory path, or None to cache in memory only."
        )
    return _absolute(location)


class Caches:
    """The process's embedding caches: the memory tier (audio, text) and one disk cache per directory."""

    # 2 GiB holds the per-layer pooled WavLM-Large states of about 20k clips.
    AUDIO_BYTES = 2 * 1024**3
    TEXT_BYTES = 256 * 1024**2

    def __init__(self):
        self.audio = EmbeddingCache(self.AUDIO_BYTES)
        self.text = EmbeddingCache(self.TEXT_BYTES)
        self._disks: dict[Path, DiskCache] = {}
        self._lock = threading.Lock()

    def disk(self, cache_dir) -> DiskCache | None:
        """The :class:`DiskCache` of ``cache_dir`` (None when ``cache_dir`` is None), one per directory."""
        directory = resolve_cache_dir(cache_dir)
        if directory is None:
            return None
        with self._lock:
            cache = self._disks.get(directory)
            if cache is None:
                cache = self._disks[directory] = DiskCache(directory)
            return cache

    def clear(self) -> None:
        """Drop every embedding held in memory (disk entries stay; models stay loaded)."""
        self.audio.clear()
        self.text.clear()

    def forget_disks(self) -> None:
        """Drop the disk cache objects (their counters); the directories are untouched."""
        with self._lock:
            self._disks.clear()


caches = Caches()


def clear_caches() -> None:
    """Drop every cached embedding held in memory (models stay loaded; see ``encoders.clear_models``)."""
    caches.clear()


def disk_cache(cache_dir) -> DiskCache | None:
    """The process-wide :class:`DiskCache` of ``cache_dir`` (None when ``cache_dir`` is None).

    One object per directory, so its counters add up over every estimator and
    clone that uses the directory in this process.
    """
    return caches.disk(cache_dir)


class CacheTiers:
    """Memory first, then disk; values found on disk are kept in memory too."""

    def __init__(self, memory: EmbeddingCache, disk: DiskCache | None = None):
        self.memory = memory
        self.disk = disk

    def lookup(self, key: tuple, shape: tuple | None = None) -> tuple[np.ndarray | None, str | None, bool]:
        """``(value, tier, silent)``: where this lookup found ``key`` ("memory", "disk"), or ``(None, None, False)``.

        Callers count their own hits from the tier, so a summary never depends on
        what other estimators sharing the caches did meanwhile. ``shape`` (if known)
        is what a disk entry must have: one of another shape is corrupt. ``silent``:
        the entry's clip was digital silence (known for entries made in this process).
        """
        entry = self.memory.entry(key)
        if entry is not None:
            return entry[0], "memory", entry[1]
        if self.disk is not None:
            value = self.disk.get(key, shape)
            if value is not None:
                self.memory.put(key, value)
                return value, "disk", False
        return None, None, False

    def get(self, key: tuple, shape: tuple | None = None):
        return self.lookup(key, shape)[0]

    def put(self, key: tuple, value: np.ndarray, silent: bool = False) -> None:
        self.memory.put(key, value, silent)
        if self.disk is not None:
            self.disk.put(key, value)
