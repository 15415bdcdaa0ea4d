"""Disk-cache entries that are not what the cache wrote (issue 17, items 11, 14, 16).

An entry re-signed as float16 (or float64, or big-endian) was served, although every
entry the cache writes is float32; an entry replaced by a FIFO blocked ``DiskCache.get``
forever; one linked to ``/dev/zero`` (or a huge sparse file) was read until a raw
MemoryError. Entries are now opened without blocking, must be regular files no larger
than the entry the caller expects, and hold float32 only: anything else is corrupt,
deleted and recomputed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from sklearn_zsfuse import FMEmbedder, clear_caches
from sklearn_zsfuse.audio import as_clip_list
from sklearn_zsfuse.engine.cache import DiskCache, disk_cache
from test_cache_faults import SR, clips, embed, fresh_disk_caches  # noqa: F401  (fixtures)


def _entry(tiny_wavlm, clips, cache_dir):  # noqa: F811
    """The disk cache, one entry's key and path, and the embeddings of a first run."""
    good = embed(tiny_wavlm, clips, cache_dir)
    fm = FMEmbedder(tiny_wavlm, sampling_rate=SR, device="cpu")
    key = fm._layers(fm._record()).key_prefix
    key += (as_clip_list(clips, SR)[1].content_key(),)
    disk = disk_cache(cache_dir)
    assert disk.path_for(key).is_file()
    return disk, key, good


@pytest.mark.parametrize("dtype", [np.float16, np.float64, np.dtype(">f4")], ids=["float16", "float64", "big-endian"])
def test_an_entry_re_signed_in_another_float_dtype_is_corrupt(tiny_wavlm, clips, tmp_path, dtype):  # noqa: F811
    disk, key, good = _entry(tiny_wavlm, clips, tmp_path / "cache")
    value = disk.get(key)
    disk.put(key, value.astype(dtype))  # a correct checksum over another dtype
    clear_caches()
    corrupt = disk.corrupt
    again = embed(tiny_wavlm, clips, tmp_path / "cache")
    assert disk.corrupt - corrupt == 1
    np.testing.assert_allclose(again, good, rtol=1e-4, atol=1e-5)
    assert disk.get(key).dtype == np.float32


def _within(seconds, func, unblock):
    """``func()`` on a thread; if it has not returned after ``seconds``, ``unblock()`` and fail."""
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("value", func()), daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        unblock()
        thread.join(10)
        pytest.fail(f"blocked for more than {seconds} s")
    return result.get("value")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs: POSIX")
def test_an_entry_replaced_by_a_fifo_is_corrupt_not_a_hang(tiny_wavlm, clips, tmp_path):  # noqa: F811
    disk, key, good = _entry(tiny_wavlm, clips, tmp_path / "cache")
    path = disk.path_for(key)
    path.unlink()
    os.mkfifo(path)
    clear_caches()
    corrupt = disk.corrupt

    def unblock():  # a writer lets the blocked reader go
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))

    again = _within(20, lambda: embed(tiny_wavlm, clips, tmp_path / "cache"), unblock)
    assert disk.corrupt - corrupt == 1
    np.testing.assert_allclose(again, good, rtol=1e-4, atol=1e-5)
    assert path.is_file()  # the FIFO was replaced by a real entry


_CHILD = textwrap.dedent(
    """
    import json, os, resource, sys
    import numpy as np
    from sklearn_zsfuse.engine.cache import DiskCache

    with open("/proc/self/statm") as f:
        size = int(f.read().split()[0]) * resource.getpagesize()
    limit = size + (512 << 20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    cache = DiskCache(sys.argv[1])
    key = ("model", "fm", 1)
    cache.put(key, np.ones((3, 8), np.float32))
    path = cache.path_for(key)
    path.unlink()
    if sys.argv[2] == "dev-zero":
        os.symlink("/dev/zero", path)
    else:
        with open(path, "wb") as f:
            f.truncate(100 << 30)  # 100 GiB, sparse
    try:
        value = cache.get(key, (3, 8))
        print(json.dumps({"value": None if value is None else value.shape, "corrupt": cache.corrupt}))
    except BaseException as exc:
        print(json.dumps({"error": type(exc).__name__}))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/dev/zero, /proc and an address-space limit: Linux")
@pytest.mark.parametrize("how", ["dev-zero", "sparse-100GiB"])
def test_an_endless_or_huge_entry_is_corrupt_without_reading_it(tmp_path, how):
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path / "cache"), how], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"value": None, "corrupt": 1}


def test_a_well_formed_entry_is_still_served(tmp_path):
    cache = DiskCache(tmp_path)
    value = np.arange(24, dtype=np.float32).reshape(3, 8)
    cache.put(("k",), value)
    np.testing.assert_array_equal(cache.get(("k",), (3, 8)), value)
    np.testing.assert_array_equal(cache.get(("k",)), value)
    assert cache.corrupt == 0
