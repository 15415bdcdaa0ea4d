"""In-process embedding cache shared by every estimator (and every clone) in a process.

Audio embeddings are keyed by (model fingerprint, preprocessing settings, clip
content digest), so a grid search over fusion weights, templates or text repeats
re-encodes no audio, and a grid over audio repeats encodes each clip once per
value. Text embeddings are cached the same way by prompt string.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

__all__ = ["EmbeddingCache", "audio_cache", "text_cache", "silent_keys", "clear_caches"]


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
