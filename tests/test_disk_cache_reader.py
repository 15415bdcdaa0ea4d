"""The disk cache reads its own entries (C-ordered float32 .npy) without numpy's header parser
(issue 21, item 4: a warm lookup of 10^5 entries), and every other form still goes through
``np.load`` and the cache's checks: a forged header is refused, never trusted.
"""

from __future__ import annotations

import hashlib
import io
import struct

import numpy as np
import pytest

from sklearn_zsfuse.engine import disk_cache as module
from sklearn_zsfuse.engine.disk_cache import DiskCache

KEY = ("model", "clip-digest")


def _put_raw(disk: DiskCache, key, npy: bytes) -> None:
    """An entry whose checksum is right over ``npy``, as a forger with the format would write it."""
    key_bytes = repr(tuple(key)).encode("utf-8")
    body = struct.pack("<I", len(key_bytes)) + key_bytes + npy
    blob = module._MAGIC + hashlib.blake2b(body, digest_size=module._DIGEST_SIZE).digest() + body
    path = disk.path_for(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)


def _npy(value) -> bytes:
    buf = io.BytesIO()
    np.save(buf, value, allow_pickle=False)
    return buf.getvalue()


@pytest.mark.parametrize("shape", [(1,), (512,), (3, 5), (25, 1024), (2, 3, 4)])
def test_own_entries_are_read_without_np_load_and_equal_what_was_written(tmp_path, monkeypatch, shape):
    disk = DiskCache(tmp_path)
    value = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    disk.put(KEY, value)

    def no_np_load(*args, **kwargs):
        raise AssertionError("np.load called for an entry of the cache's own form")

    monkeypatch.setattr(module.np, "load", no_np_load)
    got = disk.get(KEY, shape=shape)
    assert got is not None and got.dtype == np.float32 and got.shape == shape
    np.testing.assert_array_equal(got, value)
    assert not got.flags.writeable
    assert disk.stats()["corrupt"] == 0


@pytest.mark.parametrize("extra", [-4, 4])
def test_a_float32_header_whose_data_is_short_or_long_is_corrupt(tmp_path, extra):
    disk = DiskCache(tmp_path)
    npy = _npy(np.ones((3, 4), np.float32))
    _put_raw(disk, KEY, npy[:extra] if extra < 0 else npy + b"\0" * extra)
    assert disk.get(KEY) is None
    assert disk.stats()["corrupt"] == 1 and not disk.path_for(KEY).exists()


@pytest.mark.parametrize("value", [
    np.array([1.0, np.nan], np.float32),  # the fast path, then the finite check
    np.array([1.0, np.inf], np.float32),
    np.ones((2, 2), np.float64),  # np.load's path, then the dtype check
    np.ones((2, 2), np.dtype(">f4")),
    np.zeros((0, 4), np.float32),  # a zero dimension is not the own form: np.load, then refused as empty
    np.float32(3.0).reshape(()),  # a 0-d array
], ids=["nan", "inf", "float64", "big-endian", "empty", "scalar"])
def test_forged_values_are_still_refused(tmp_path, value):
    disk = DiskCache(tmp_path)
    _put_raw(disk, KEY, _npy(value))
    assert disk.get(KEY) is None
    assert disk.stats()["corrupt"] == 1


def test_a_fortran_ordered_float32_entry_goes_to_np_load_and_reads_the_same(tmp_path):
    disk = DiskCache(tmp_path)
    value = np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4))
    npy = _npy(value)
    assert b"'fortran_order': True" in npy
    assert module._own_float32(npy) is None
    _put_raw(disk, KEY, npy)
    np.testing.assert_array_equal(disk.get(KEY), value)


@pytest.mark.parametrize("header", [
    b"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 4), }",  # a dimension past the pattern
    b"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), 'x': 1, }",  # an extra key
    b"{'descr': '<f4', 'fortran_order': False, 'shape': (-3, 4), }",
    b"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }\n\n",  # stray newlines before the padding
])
def test_headers_not_of_the_own_form_are_not_read_by_the_fast_path(header):
    padded = header + b" " * (-(len(header) + 11) % 64) + b"\n"
    npy = b"\x93NUMPY\x01\x00" + len(padded).to_bytes(2, "little") + padded + b"\0" * 48
    assert module._own_float32(npy) is None


def test_the_fast_path_equals_np_load_on_np_saves_own_output():
    rng = np.random.default_rng(1)
    for shape in [(7,), (1, 1), (4, 1, 9), (100, 3)]:
        npy = _npy(rng.standard_normal(shape).astype(np.float32))
        fast = module._own_float32(npy)
        assert fast is not None
        np.testing.assert_array_equal(fast, np.load(io.BytesIO(npy)))
