"""Embedding caches: in memory for the process, and optionally on disk across processes.

Audio embeddings are keyed by (model fingerprint, preprocessing settings, clip
content digest), so a grid search over fusion weights, templates or text repeats
re-encodes no audio, and a grid over audio repeats encodes each clip once per
value. Text embeddings are cached the same way by prompt string.

The memory tier (:data:`audio_cache`, :data:`text_cache`) is shared by every
estimator and clone in a process. The disk tier (:class:`DiskCache`, chosen with
an estimator's ``cache_dir``) survives the process and is shared by parallel
workers (``GridSearchCV(n_jobs=2)``) and later runs.
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

from .entry_file import ABSENT, NOT_AN_ENTRY, read_entry

__all__ = [
    "CacheTiers",
    "CacheWarning",
    "DiskCache",
    "EmbeddingCache",
    "audio_cache",
    "clear_caches",
    "disk_cache",
    "resolve_cache_dir",
    "silent_keys",
    "text_cache",
]


class EmbeddingCache:
    """A thread-safe LRU of numpy arrays bounded by total bytes."""

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self._data: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple):
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: tuple, value: np.ndarray) -> None:
        value = np.array(value, copy=True)
        value.setflags(write=False)
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            if value.nbytes > self.max_bytes:
                return
            self._data[key] = value
            self._bytes += value.nbytes
            while self._bytes > self.max_bytes:
                _, evicted = self._data.popitem(last=False)
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


# 2 GiB holds the per-layer pooled WavLM-Large states of about 20k clips.
audio_cache = EmbeddingCache(max_bytes=2 * 1024**3)
text_cache = EmbeddingCache(max_bytes=256 * 1024**2)
# Audio cache keys of clips that decoded to digital silence, so that a transform served
# from the cache warns about them as the first one did.
silent_keys: set[tuple] = set()


def clear_caches() -> None:
    """Drop every cached embedding (models stay loaded; see ``encoders.clear_models``)."""
    audio_cache.clear()
    text_cache.clear()
    silent_keys.clear()


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
    ``np.load`` (a truncated file, a disk error, a foreign file), whose value
    is impossible (not a float32 array, NaN or infinite values, another
    shape than the caller expects), or that is not a regular file of at most that
    shape's size (a FIFO, a device, a link, a huge file: never read, never waited
    on), counts as ``corrupt``, is deleted and reported as a miss, so it is
    recomputed and never returned.

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
        """The entry of ``key``, or None; with ``shape``, an entry of another shape is corrupt.

        Only what an entry of that shape can take is read: a FIFO, a device, a link or a
        file larger than that is corrupt without being read.
        """
        path = self.path_for(key)
        key_bytes = self._key_bytes(key)
        data = read_entry(path, _entry_limit(key_bytes, shape))
        if data is ABSENT:
            self._count("misses")  # no entry, or unreadable (permissions, I/O error): recompute
            return None
        value = None if data is NOT_AN_ENTRY else self._parse(data, key_bytes)
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
        # embedding: every entry is a non-empty float32 array of finite values (the engine
        # stores float32 only, so another dtype is a forgery or another program's file).
        if not isinstance(value, np.ndarray) or value.dtype != np.float32 or value.ndim == 0 or value.size == 0:
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


# Without an expected shape, no embedding entry comes near this.
_MAX_ENTRY = 256 << 20
# An entry's bytes besides the array's data: magic, checksum, key length, key, .npy header.
_NPY_HEADER_MAX = 4096


def _entry_limit(key_bytes: bytes, shape: tuple | None) -> int:
    """The largest entry of ``shape`` (float32), or :data:`_MAX_ENTRY` when the shape is not known."""
    if shape is None:
        return _MAX_ENTRY
    return len(_MAGIC) + _DIGEST_SIZE + 4 + len(key_bytes) + _NPY_HEADER_MAX + 4 * int(np.prod(shape, dtype=np.int64))


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


_disk_caches: dict[Path, DiskCache] = {}
_disk_lock = threading.Lock()


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


def disk_cache(cache_dir) -> DiskCache | None:
    """The process-wide :class:`DiskCache` of ``cache_dir`` (None when ``cache_dir`` is None).

    One object per directory, so its counters add up over every estimator and
    clone that uses the directory in this process.
    """
    directory = resolve_cache_dir(cache_dir)
    if directory is None:
        return None
    with _disk_lock:
        cache = _disk_caches.get(directory)
        if cache is None:
            cache = _disk_caches[directory] = DiskCache(directory)
        return cache


class CacheTiers:
    """Memory first, then disk; values found on disk are kept in memory too."""

    def __init__(self, memory: EmbeddingCache, disk: DiskCache | None = None):
        self.memory = memory
        self.disk = disk

    def lookup(self, key: tuple, shape: tuple | None = None) -> tuple[np.ndarray | None, str | None]:
        """``(value, tier)``: where this lookup found ``key`` ("memory", "disk"), or ``(None, None)``.

        Callers count their own hits from the tier, so a summary never depends on
        what other estimators sharing the caches did meanwhile. ``shape`` (if known)
        is what a disk entry must have: one of another shape is corrupt.
        """
        value = self.memory.get(key)
        if value is not None:
            return value, "memory"
        if self.disk is not None:
            value = self.disk.get(key, shape)
            if value is not None:
                self.memory.put(key, value)
                return value, "disk"
        return None, None

    def get(self, key: tuple, shape: tuple | None = None):
        return self.lookup(key, shape)[0]

    def put(self, key: tuple, value: np.ndarray) -> None:
        self.memory.put(key, value)
        if self.disk is not None:
            self.disk.put(key, value)
