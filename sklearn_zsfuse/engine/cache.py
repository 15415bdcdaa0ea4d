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

import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .disk_cache import CacheWarning, DiskCache, absolute

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
    return absolute(location)


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
    """Memory first, then disk; values found on disk are kept in memory too.

    ``memory`` may be None: a run that streams its results elsewhere (a feature store, a
    worker filling a shared disk cache) holds none of them in this process.
    """

    def __init__(self, memory: EmbeddingCache | None, disk: DiskCache | None = None):
        self.memory = memory
        self.disk = disk

    def lookup(self, key: tuple, shape: tuple | None = None) -> tuple[np.ndarray | None, str | None, bool]:
        """``(value, tier, silent)``: where this lookup found ``key`` ("memory", "disk"), or ``(None, None, False)``.

        Callers count their own hits from the tier, so a summary never depends on
        what other estimators sharing the caches did meanwhile. ``shape`` (if known)
        is what a disk entry must have: one of another shape is corrupt. ``silent``:
        the entry's clip was digital silence (known for entries made in this process).
        """
        return self.from_memory(key) or self.from_disk(key, shape) or (None, None, False)

    def from_memory(self, key: tuple) -> tuple[np.ndarray, str, bool] | None:
        """``(value, "memory", silent)``, or None."""
        entry = None if self.memory is None else self.memory.entry(key)
        return None if entry is None else (entry[0], "memory", entry[1])

    def from_disk(self, key: tuple, shape: tuple | None = None) -> tuple[np.ndarray, str, bool] | None:
        """``(value, "disk", False)``, or None; the value is kept in memory too (thread-safe)."""
        value = None if self.disk is None else self.disk.get(key, shape)
        if value is None:
            return None
        if self.memory is not None:
            self.memory.put(key, value)
        return value, "disk", False

    def get(self, key: tuple, shape: tuple | None = None):
        return self.lookup(key, shape)[0]

    def put(self, key: tuple, value: np.ndarray, silent: bool = False) -> None:
        if self.memory is not None:
            self.memory.put(key, value, silent)
        if self.disk is not None:
            self.disk.put(key, value)
