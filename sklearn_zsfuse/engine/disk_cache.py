"""The on-disk embedding cache: one file per entry, safe for concurrent processes and hostile files."""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import struct
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np

from .entry_file import ABSENT, NOT_AN_ENTRY, read_entry

__all__ = ["CacheWarning", "DISK_FORMAT", "DiskCache", "absolute"]


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
        self.directory = absolute(directory)
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
        npy = body[4 + key_len :]
        try:
            value = _own_float32(npy)
            if value is None:  # not in the form this cache writes: numpy's own reader decides
                value = np.load(io.BytesIO(npy), allow_pickle=False)
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


# The .npy header np.save writes for a C-ordered little-endian float32 array (format 1.0): what
# every entry of this cache holds. Matched exactly, it is read without numpy's header parser
# (ast.literal_eval: most of a small entry's read time); anything else goes to np.load.
_NPY_MAGIC = b"\x93NUMPY\x01\x00"
_NPY_FLOAT32 = re.compile(rb"\{'descr': '<f4', 'fortran_order': False, 'shape': \(((?:[1-9]\d{0,8}, )*[1-9]\d{0,8},?)\), \} *\n")


def _own_float32(npy: bytes) -> np.ndarray | None:
    """The array of ``npy`` if it is exactly a C-ordered float32 .npy file as np.save writes it, else None.

    That header over more or fewer bytes than its shape takes is a ValueError (np.load would
    ignore bytes past the array: an entry of this form is exactly what the cache wrote, or nothing).
    """
    if not npy.startswith(_NPY_MAGIC) or len(npy) < 10:
        return None
    end = 10 + int.from_bytes(npy[8:10], "little")
    match = _NPY_FLOAT32.fullmatch(npy, 10, end)
    if match is None:
        return None
    shape = tuple(int(d) for d in match.group(1).split(b",") if d.strip())
    if len(npy) - end != 4 * math.prod(shape):  # exact integers: no overflow for any header
        raise ValueError(f"a float32 entry of shape {shape} over {len(npy) - end} bytes")
    return np.frombuffer(npy, dtype="<f4", offset=end).reshape(shape)


def _write_blob(fd: int, blob: bytes) -> None:
    """Write ``blob`` to the open file ``fd`` and close it."""
    with os.fdopen(fd, "wb") as f:
        f.write(blob)


def absolute(directory) -> Path:
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


