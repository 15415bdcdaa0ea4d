"""A layer sweep's features on disk: written as the engine delivers them, read one layer at a time.

A sweep keeps every requested layer of every clip: at MSP-Podcast's 270k clips,
25 layers of WavLM-Large are 27.6 GB of float32, more than most machines hold,
while the protocol only ever works on one layer at a time. :class:`LayerStore`
writes each clip's layers into one file as the engine delivers them (no list of
clips, no (n, n_layers, D) array), layer-major, so that each layer is one
contiguous (n, D) block; :class:`StoredLayer` stands for one block and is read
whole when used (``np.asarray``, indexing, ``np.hstack`` ...), then dropped.

Both directions use plain reads and writes, not a memory mapping: pages of a
mapped file that were touched count in the process's resident memory for as long
as the mapping lives, which would bring back the memory this module saves.

The file is anonymous (``tempfile.TemporaryFile``: removed from its folder at once
on POSIX, so nothing is left behind even if the process is killed) in the system's
temporary folder (``TMPDIR``; it takes layers x clips x D x 4 bytes) and is freed
when the last :class:`StoredLayer` of it is. A pickled :class:`StoredLayer` is its
array.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Sequence

import numpy as np

__all__ = ["LayerStore", "StoredLayer"]


class LayerStore:
    """``len(layers)`` blocks of (n, dim) float32; ``write(i, value)`` files clip ``i``'s (n_layers, dim) states.

    ``layers``: hidden-state indices (negative ones count from the last) or ``"all"``
    (the mean over layers, as :class:`~sklearn_zsfuse.FMEmbedder` computes it).
    """

    def __init__(self, n: int, dim: int, layers: Sequence, directory=None):
        self.n, self.dim, self.layers = int(n), int(dim), list(layers)
        self._file = tempfile.TemporaryFile(prefix="zsfuse-features-", dir=directory)
        self._fd = self._file.fileno()
        self._lock = threading.Lock()  # seek + read/write where the OS has no positional calls
        self._row = self.dim * 4

    @property
    def nbytes(self) -> int:
        return len(self.layers) * self.n * self._row

    def write(self, i: int, value) -> None:
        """Clip ``i``'s pooled states, shape (n_layers, dim): one row of every stored layer."""
        value = np.asarray(value, dtype=np.float32)
        for slot, layer in enumerate(self.layers):
            row = value.mean(axis=0) if layer == "all" else value[layer]
            self._write(np.ascontiguousarray(row, dtype=np.float32).tobytes(), (slot * self.n + int(i)) * self._row)

    def layer(self, layer) -> StoredLayer:
        return StoredLayer(self, self.layers.index(layer))

    def read(self, slot: int) -> np.ndarray:
        """The (n, dim) block of ``slot``, read into a new array."""
        out = np.empty((self.n, self.dim), dtype=np.float32)
        view = memoryview(out).cast("B")
        offset, done = slot * self.n * self._row, 0
        while done < len(view):
            got = self._read_into(view[done:], offset + done)
            if got <= 0:
                raise OSError(f"the feature store ended {len(view) - done} bytes early (layer slot {slot})")
            done += got
        return out

    def _write(self, data: bytes, offset: int) -> None:
        if hasattr(os, "pwrite"):
            view = memoryview(data)
            while view:
                written = os.pwrite(self._fd, view, offset)
                view, offset = view[written:], offset + written
            return
        with self._lock:
            self._file.seek(offset)
            self._file.write(data)
            self._file.flush()

    def _read_into(self, view: memoryview, offset: int) -> int:
        if hasattr(os, "preadv"):
            return os.preadv(self._fd, [view], offset)
        with self._lock:
            self._file.seek(offset)
            return self._file.readinto(view)

    def close(self) -> None:
        self._file.close()


class StoredLayer:
    """One layer of a :class:`LayerStore`: an (n, dim) float32 array read from disk whenever it is used."""

    def __init__(self, store: LayerStore, slot: int):
        self.store, self.slot = store, slot

    @property
    def shape(self) -> tuple[int, int]:
        return (self.store.n, self.store.dim)

    dtype = np.dtype(np.float32)
    ndim = 2

    def __len__(self) -> int:
        return self.store.n

    def __array__(self, dtype=None, copy=None):
        out = self.store.read(self.slot)
        return out if dtype is None else out.astype(dtype, copy=False)

    def __getitem__(self, index):
        return self.store.read(self.slot)[index]

    def __reduce__(self):
        return np.asarray, (self.store.read(self.slot),)

    def __repr__(self) -> str:
        return f"StoredLayer(layer={self.store.layers[self.slot]!r}, shape={self.shape})"
