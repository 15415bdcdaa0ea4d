"""A model's fingerprint vouches for the bytes of its files, not their size and date (issue 17, item 7).

Weights edited in place with their size and modification time put back were not
noticed: the disk cache served embeddings of the old weights (probabilities moved by
up to 0.485). The fingerprint now holds a digest of each weight, config and tokenizer
file, computed once per process per file version.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from sklearn_zsfuse import FMEmbedder, clear_caches
from sklearn_zsfuse.encoders import clear_models, get_speech_encoder
from sklearn_zsfuse.encoders._backend import file_stamp
from sklearn_zsfuse.encoders.base import model_fingerprint


def _edit_keeping_size_and_mtime(path, edit) -> None:
    before = os.stat(path)
    edit(path)
    assert os.stat(path).st_size == before.st_size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(path).st_mtime_ns == before.st_mtime_ns


def _scale_a_weight(path) -> None:
    tensors = load_file(path)
    name = "encoder.layer_norm.weight"
    tensors[name] = tensors[name] * 3.0 + 0.5
    save_file(tensors, path, metadata={"format": "pt"})


def test_weights_edited_in_place_change_the_fingerprint_and_miss_the_disk_cache(tiny_wavlm, tmp_path, sine_clips):
    waves, sr = sine_clips
    directory = tmp_path / "wavlm"
    shutil.copytree(tiny_wavlm, directory)
    cache = tmp_path / "cache"
    clear_models()
    before = FMEmbedder(str(directory), sampling_rate=sr, device="cpu", cache_dir=cache).fit(waves).transform(waves)
    fingerprint = get_speech_encoder(str(directory), device="cpu").fingerprint

    _edit_keeping_size_and_mtime(directory / "model.safetensors", _scale_a_weight)
    clear_models()
    clear_caches()  # a new process: only the disk cache remains
    after = FMEmbedder(str(directory), sampling_rate=sr, device="cpu", cache_dir=cache).fit(waves).transform(waves)
    assert get_speech_encoder(str(directory), device="cpu").fingerprint != fingerprint
    assert not np.allclose(before, after, atol=1e-3)
    clear_models()


def test_a_checkpoint_file_stamp_follows_its_content(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"\x01" * 4096)
    stamp = file_stamp(path)
    _edit_keeping_size_and_mtime(path, lambda p: p.write_bytes(b"\x02" * 4096))
    assert file_stamp(path) != stamp


def test_a_text_model_directory_stamp_follows_its_files(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "merges.txt").write_text("a b\n")
    stamp = file_stamp(tmp_path)
    _edit_keeping_size_and_mtime(tmp_path / "merges.txt", lambda p: p.write_text("a c\n"))
    assert file_stamp(tmp_path) != stamp


def test_touching_or_copying_files_keeps_the_fingerprint_of_their_content(tiny_wavlm, tmp_path):
    directory = tmp_path / "wavlm"
    shutil.copytree(tiny_wavlm, directory)
    config = None
    first = model_fingerprint(str(directory), None, config)
    os.utime(directory / "model.safetensors")  # a new mtime, the same bytes
    assert model_fingerprint(str(directory), None, config) == first


@pytest.mark.parametrize("size", [0, 1, (1 << 20) + 3])
def test_the_digest_is_of_the_whole_file(tmp_path, size):
    from sklearn_zsfuse.encoders.file_digest import file_digest

    path = tmp_path / "f.bin"
    data = np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8).tobytes()
    path.write_bytes(data)
    digest = file_digest(path)
    if size:
        _edit_keeping_size_and_mtime(path, lambda p: p.write_bytes(data[:-1] + bytes([data[-1] ^ 1])))
        assert file_digest(path) != digest
