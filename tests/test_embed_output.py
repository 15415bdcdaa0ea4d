"""``zsfuse embed --out``: the file it names, written whole or not at all (issue 17, items 13, 15).

``--out X.NPY`` said it wrote ``X.NPY`` and wrote ``X.NPY.npy`` (numpy appends ``.npy``
to any other spelling); on a full disk an earlier ``X.npy`` was truncated to a partial
file while ``X.paths.txt`` stayed, so the pair no longer matched. Both files are now
written to temporary files beside the target and renamed over it once complete.
"""

from __future__ import annotations

import errno

import numpy as np
import pytest
import soundfile as sf

from sklearn_zsfuse.cli import main

SR = 16000


@pytest.fixture
def clips(sine_clips, tmp_path):
    waves, sr = sine_clips
    paths = []
    for i, w in enumerate(waves):
        paths.append(str(tmp_path / f"clip{i}.wav"))
        sf.write(paths[-1], w, sr)
    return paths


def test_out_with_an_upper_case_suffix_writes_that_file(tiny_wavlm, clips, tmp_path, capsys):
    out = tmp_path / "X.NPY"
    assert main(["embed", "--fm", tiny_wavlm, *clips, "--out", str(out), "-q"]) == 0
    said = capsys.readouterr().out
    assert str(out) in said
    assert out.is_file() and not (tmp_path / "X.NPY.npy").exists()
    assert np.load(out).shape[0] == len(clips)
    assert (tmp_path / "X.paths.txt").read_text().splitlines() == clips


def test_a_failed_write_leaves_the_earlier_pair_as_it_was(tiny_wavlm, clips, tmp_path, monkeypatch, capsys):
    out = tmp_path / "X.npy"
    assert main(["embed", "--fm", tiny_wavlm, *clips, "--out", str(out), "-q"]) == 0
    before = out.read_bytes(), (tmp_path / "X.paths.txt").read_bytes()
    real_save = np.save

    def disk_full(file, arr, *args, **kwargs):  # writes part of the array, then the disk is full
        target = file if hasattr(file, "write") else open(file if str(file).endswith(".npy") else f"{file}.npy", "wb")
        target.write(b"\x93NUMPY" + b"\0" * 12000)
        if target is not file:
            target.close()
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", disk_full)
    rc = main(["embed", "--fm", tiny_wavlm, *clips[:2], "--out", str(out), "-q"])
    monkeypatch.setattr(np, "save", real_save)
    err = capsys.readouterr().err
    assert rc == 2 and "No space left on device" in err and err.count("\n") == 1, err
    assert (out.read_bytes(), (tmp_path / "X.paths.txt").read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".", "X"))) == ["X.npy", "X.paths.txt"]


def test_parquet_is_written_atomically_too(tiny_wavlm, clips, tmp_path, monkeypatch, capsys):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    out = tmp_path / "X.parquet"
    assert main(["embed", "--fm", tiny_wavlm, *clips, "--out", str(out), "-q"]) == 0
    before = out.read_bytes()

    def disk_full(self, path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"PAR1" + b"\0" * 100)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", disk_full)
    assert main(["embed", "--fm", tiny_wavlm, *clips[:1], "--out", str(out), "-q"]) == 2
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".", "X"))) == ["X.parquet"]
