"""Disk-cache faults degrade to memory-only caching with one warning naming cache_dir (issue 10 item 6).

The cache only saves time: a directory that cannot be written (read-only file system, full
disk, a file or a link loop where the directory should be, a folder where an entry should
be) must not abort a run, and must not be silent either. ``cache_dir=""`` is a mistake
(it would mean the working directory) and is refused. An entry whose checksum is right but
whose value is impossible (NaN, another shape or dtype) is corrupt: counted, deleted and
recomputed, never returned.
"""

import errno
import os
import warnings

import numpy as np
import pytest

from sklearn_zsfuse import ALMZeroShotScorer, FMEmbedder, clear_caches
from sklearn_zsfuse.engine import cache as cache_module
from sklearn_zsfuse.engine import disk_cache as disk_cache_module
from sklearn_zsfuse.engine.cache import CacheWarning, DiskCache, disk_cache

SR = 16000


@pytest.fixture
def clips():
    t = np.arange(SR) / SR
    return [(0.2 * np.sin(2 * np.pi * f * t)).astype(np.float32) for f in (200, 300, 400)]


@pytest.fixture(autouse=True)
def fresh_disk_caches():
    """Each test gets its own DiskCache objects (they remember a fault for the process)."""
    cache_module.caches.forget_disks()
    yield
    cache_module.caches.forget_disks()


def embed(tiny_wavlm, clips, cache_dir):
    return FMEmbedder(tiny_wavlm, sampling_rate=SR, device="cpu", cache_dir=cache_dir).fit().transform(clips)


def run_with_one_warning(tiny_wavlm, clips, cache_dir):
    """transform works and equals the uncached result; exactly one CacheWarning naming cache_dir."""
    expected = embed(tiny_wavlm, clips, None)
    clear_caches()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        out = embed(tiny_wavlm, clips, cache_dir)
        clear_caches()
        again = embed(tiny_wavlm, clips, cache_dir)  # a second run in the process: no new warning
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    np.testing.assert_allclose(again, expected, rtol=1e-6)
    found = [w for w in record if issubclass(w.category, CacheWarning)]
    assert len(found) == 1, [str(w.message) for w in record]
    message = str(found[0].message)
    assert "cache_dir=" in message and "memory only" in message
    return message


def test_a_read_only_file_system(tiny_wavlm, clips, tmp_path, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(disk_cache_module.tempfile, "mkstemp", read_only)
    message = run_with_one_warning(tiny_wavlm, clips, tmp_path / "cache")
    assert str(tmp_path / "cache") in message and "Read-only file system" in message


def test_a_full_disk(tiny_wavlm, clips, tmp_path, monkeypatch):
    def full(fd, blob):
        os.close(fd)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(disk_cache_module, "_write_blob", full)
    message = run_with_one_warning(tiny_wavlm, clips, tmp_path / "cache")
    assert "No space left on device" in message
    assert not list((tmp_path / "cache").rglob("*.part"))  # no temporary file left behind


def test_a_file_as_cache_dir(tiny_wavlm, clips, tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    message = run_with_one_warning(tiny_wavlm, clips, target)
    assert str(target) in message
    assert target.read_text() == "mine"


def test_a_symlink_loop_as_cache_dir(tiny_wavlm, clips, tmp_path):
    os.symlink(tmp_path / "b", tmp_path / "a")
    os.symlink(tmp_path / "a", tmp_path / "b")
    message = run_with_one_warning(tiny_wavlm, clips, tmp_path / "a")
    assert str(tmp_path / "a") in message


def test_a_directory_where_an_entry_should_be(tiny_wavlm, clips, tmp_path):
    cache_dir = tmp_path / "cache"
    fm = FMEmbedder(tiny_wavlm, sampling_rate=SR, device="cpu")
    encoder_key = fm._layers(fm._record()).key_prefix
    # Put a folder at every entry path these clips would use.
    from sklearn_zsfuse.audio import as_clip_list

    disk = DiskCache(cache_dir)
    for clip in as_clip_list(clips, SR):
        disk.path_for(encoder_key + (clip.content_key(),)).mkdir(parents=True)
    run_with_one_warning(tiny_wavlm, clips, cache_dir)


def test_an_empty_cache_dir_is_refused_and_writes_nothing_here(tiny_wavlm, clips, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"cache_dir='' names no directory"):
        embed(tiny_wavlm, clips, "")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "forged, why",
    [
        (lambda good: np.full_like(good, np.nan), "NaN"),
        (lambda good: good[:-1], "shape"),
        (lambda good: good.astype(np.int64), "dtype"),
        (lambda good: np.float32(1.0), "0-d"),
    ],
    ids=["nan", "shape", "dtype", "scalar"],
)
def test_a_forged_entry_with_a_valid_checksum_is_corrupt(tiny_wavlm, clips, tmp_path, forged, why):
    cache_dir = tmp_path / "cache"
    good = embed(tiny_wavlm, clips, cache_dir)
    disk = disk_cache(cache_dir)
    fm = FMEmbedder(tiny_wavlm, sampling_rate=SR, device="cpu")
    encoder_key = fm._layers(fm._record()).key_prefix
    from sklearn_zsfuse.audio import as_clip_list

    key = encoder_key + (as_clip_list(clips, SR)[1].content_key(),)
    value = disk.get(key)
    assert value is not None
    disk.put(key, forged(value))  # a correct checksum over an impossible value
    clear_caches()
    corrupt = disk.corrupt
    again = embed(tiny_wavlm, clips, cache_dir)
    np.testing.assert_allclose(again, good, rtol=1e-4, atol=1e-5)  # re-encoded alone, not in a batch
    assert disk.corrupt - corrupt == 1
    np.testing.assert_allclose(disk.get(key), value, rtol=1e-4, atol=1e-5)  # recomputed and stored again


def test_a_forged_text_entry_is_corrupt_too(tiny_clap, tmp_path):
    cache_dir = tmp_path / "cache"
    kw = dict(classes=["happy", "sad"], device="cpu", cache_dir=cache_dir)
    reference = ALMZeroShotScorer(tiny_clap, **kw).fit().text_embeddings_
    disk = disk_cache(cache_dir)
    fingerprint = ALMZeroShotScorer(tiny_clap, device="cpu")._encoder().fingerprint
    key = (fingerprint, "text", "this person is feeling happy.")
    value = disk.get(key)
    disk.put(key, np.concatenate([value, value]))
    clear_caches()
    corrupt = disk.corrupt
    np.testing.assert_allclose(ALMZeroShotScorer(tiny_clap, **kw).fit().text_embeddings_, reference, rtol=1e-6)
    assert disk.corrupt - corrupt == 1
