"""Corpus metadata that was accepted silently or failed with a raw exception (issue 17, items 9, 17).

- item 9: the same clip on two rows (the same path twice, with two labels, or as
  ``c0.flac`` and ``./c0.flac`` in different folds: train/test leakage) was accepted;
  every loader now refuses it, naming the clip (one check in ``make_corpus``);
- item 17: a 5,000-character path ended in a raw ``OSError: File name too long``, and
  a fold value beyond int64 in a raw ``OverflowError``; both are a CorpusError naming
  the line.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

from sklearn_zsfuse.cli import main
from sklearn_zsfuse.datasets import CorpusError, load_csv, load_ravdess


@pytest.fixture
def root(tmp_path):
    for i in range(4):
        sf.write(tmp_path / f"c{i}.flac", (0.1 * np.sin(np.arange(8000) / (i + 3))).astype(np.float32), 16000)
    return tmp_path


def _metadata(root, rows):
    (root / "metadata.csv").write_text(
        "path,label,speaker,fold\n" + "".join(",".join(map(str, r)) + "\n" for r in rows), encoding="utf-8"
    )


GOOD = [("c1.flac", "b", "s2", 2), ("c2.flac", "a", "s3", 1), ("c3.flac", "b", "s4", 2)]


@pytest.mark.parametrize(
    "rows",
    [
        [("c0.flac", "a", "s1", 1), ("c0.flac", "a", "s1", 1)],
        [("c0.flac", "a", "s1", 1), ("c0.flac", "b", "s1", 1)],
        [("c0.flac", "a", "s1", 1), ("./c0.flac", "a", "s2", 2)],
        [("c0.flac", "a", "s1", 1), ("sub/../c0.flac", "a", "s1", 1)],
    ],
    ids=["same-row-twice", "two-labels", "dot-slash-other-fold", "dotdot"],
)
def test_the_same_clip_on_two_rows_is_refused(root, rows):
    (root / "sub").mkdir()
    _metadata(root, rows + GOOD)
    with pytest.raises(CorpusError, match=r"c0.flac.* on 2 rows"):
        load_csv(root)


def test_a_link_to_a_clip_listed_too_is_the_same_clip(root):
    os.symlink(root / "c0.flac", root / "alias.flac")
    _metadata(root, [("c0.flac", "a", "s1", 1), ("alias.flac", "b", "s1", 2)] + GOOD)
    with pytest.raises(CorpusError, match=r"alias.flac.*c0.flac|c0.flac.*alias.flac"):
        load_csv(root)


def test_a_folder_loader_refuses_duplicates_through_links(tmp_path):
    actor = tmp_path / "Actor_01"
    actor.mkdir()
    name = "03-01-05-01-01-01-01.wav"
    sf.write(actor / name, np.zeros(800, np.float32) + 0.1, 16000)
    os.symlink(actor / name, actor / "03-01-05-01-01-02-01.wav")
    with pytest.raises(CorpusError, match=r"on 2 rows"):
        load_ravdess(tmp_path)


def test_a_very_long_path_is_one_error_naming_the_line(root):
    _metadata(root, [("x" * 5000 + ".flac", "a", "s1", 1)] + GOOD)
    with pytest.raises(CorpusError, match=r"line 2: 'x{20}.*(too long|cannot be)"):
        load_csv(root)


def test_an_overflowing_fold_value_is_one_error_naming_the_line(root):
    _metadata(root, [("c0.flac", "a", "s1", 99999999999999999999)] + GOOD)
    with pytest.raises(CorpusError, match=r"fold column .*line 2: '99999999999999999999'"):
        load_csv(root)


def test_the_cli_says_it_in_one_line(root, tmp_path, tiny_wavlm, capsys):
    _metadata(root, [("c0.flac", "a", "s1", 1), ("./c0.flac", "a", "s2", 2)] + GOOD)
    rc = main(["embed", "--fm", tiny_wavlm, "--dataset", "csv", "--root", str(root), "--out", str(tmp_path / "x.npy")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "on 2 rows" in err, err


def test_distinct_clips_still_load(root):
    _metadata(root, [("c0.flac", "a", "s1", 1)] + GOOD)
    assert len(load_csv(root)) == 4
