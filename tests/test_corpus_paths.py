"""Paths in a corpus stay under its root unless the user allows otherwise (issue 10 item 4).

A corpus's metadata may come from someone else: a row ``../../x.flac`` must not make
the evaluation read a file outside the corpus, and ``/etc/passwd`` must not be opened.
"""

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sklearn_zsfuse.datasets import CorpusError, load_corpus


def wav(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.zeros(800, dtype=np.float32), 16000)
    return path


@pytest.fixture
def layout(tmp_path):
    """root/ holds the corpus; outside/ is a sibling folder it must not reach."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    wav(root / "a.wav")
    wav(root / "b.wav")
    wav(outside / "x.wav")
    return root, outside


def test_a_dotdot_row_is_refused_naming_the_line_and_the_root(layout):
    root, _ = layout
    (root / "metadata.csv").write_text("path,label,speaker\na.wav,happy,s1\n../outside/x.wav,sad,s2\n")
    with pytest.raises(CorpusError) as info:
        load_corpus("csv", root)
    message = str(info.value)
    assert "line 3: '../outside/x.wav'" in message
    assert f"outside the corpus root {str(root)!r}" in message
    assert "allow_outside_root=True" in message
    corpus = load_corpus("csv", root, allow_outside_root=True)
    assert any(p.endswith("x.wav") for p in corpus.paths) and len(corpus) == 2


def test_an_absolute_path_outside_the_root_is_refused_before_it_is_opened(layout, monkeypatch):
    root, outside = layout
    target = outside / "x.wav"
    (root / "metadata.csv").write_text(f"path,label,speaker\na.wav,happy,s1\n{target},sad,s2\n/etc/passwd,sad,s2\n")
    looked_at = []
    real_is_file = Path.is_file

    def spy(self):
        looked_at.append(str(self))
        return real_is_file(self)

    monkeypatch.setattr(Path, "is_file", spy)
    with pytest.raises(CorpusError, match=r"(?s)2 of 3 clip path\(s\).*line 3:.*line 4: '/etc/passwd'"):
        load_corpus("csv", root)
    assert "/etc/passwd" not in looked_at and str(target) not in looked_at
    # An absolute path that stays under the root is fine.
    (root / "metadata.csv").write_text(f"path,label,speaker\n{root / 'a.wav'},happy,s1\nb.wav,sad,s2\n")
    assert len(load_corpus("csv", root)) == 2


def test_a_symlink_pointing_out_of_the_root_is_refused(layout):
    root, outside = layout
    os.symlink(outside / "x.wav", root / "link.wav")
    (root / "metadata.csv").write_text("path,label,speaker\na.wav,happy,s1\nlink.wav,sad,s2\n")
    with pytest.raises(CorpusError, match=r"line 3: 'link.wav' \(resolves to .*x.wav'\)"):
        load_corpus("csv", root)
    # A link that stays inside is fine.
    os.symlink(root / "b.wav", root / "inside.wav")
    (root / "metadata.csv").write_text("path,label,speaker\na.wav,happy,s1\ninside.wav,sad,s2\n")
    assert len(load_corpus("csv", root)) == 2


def test_ravdess_metadata_is_confined_too(tmp_path):
    root = tmp_path / "ravdess"
    wav(root / "Actor_01" / "03-01-01-01-01-01-01.wav")
    wav(tmp_path / "elsewhere.wav")
    (root / "metadata.csv").write_text(
        "path,emotion,actor\nActor_01/03-01-01-01-01-01-01.wav,neutral,01\n../elsewhere.wav,sad,02\n"
    )
    with pytest.raises(CorpusError, match=r"(?s)ravdess: 1 of 2 clip path.*outside the corpus root.*line 3: '../elsewhere.wav'"):
        load_corpus("ravdess", root)


def test_scanned_corpora_refuse_files_linked_from_outside(tmp_path):
    root = tmp_path / "tess"
    wav(root / "OAF_angry" / "OAF_back_angry.wav")
    wav(tmp_path / "secret.wav")
    os.symlink(tmp_path / "secret.wav", root / "OAF_angry" / "OAF_dog_angry.wav")
    with pytest.raises(CorpusError, match=r"(?s)tess: 1 file\(s\) under .* lead outside the corpus root.*OAF_dog_angry.wav"):
        load_corpus("tess", root)
    assert len(load_corpus("tess", root, allow_outside_root=True)) == 2


def test_a_symlinked_folder_loop_does_not_hang_the_scan(tmp_path):
    root = tmp_path / "tess"
    wav(root / "OAF_angry" / "OAF_back_angry.wav")
    os.symlink(root, root / "OAF_angry" / "again")
    corpus = load_corpus("tess", root)
    assert len(corpus) == 1


def test_msp_podcast_file_names_stay_in_the_audio_folder(tmp_path):
    wav(tmp_path / "Audios" / "MSP-PODCAST_0001_0001.wav")
    wav(tmp_path / "Audios" / "MSP-PODCAST_0002_0001.wav")
    wav(tmp_path.parent / "x.wav")
    (tmp_path / "Labels").mkdir()
    (tmp_path / "Labels" / "labels_consensus.csv").write_text(
        "FileName,EmoClass,SpkrID,Split_Set\n"
        "MSP-PODCAST_0001_0001.wav,A,1,Train\nMSP-PODCAST_0002_0001.wav,S,2,Test1\n../../x.wav,H,3,Train\n"
    )
    with pytest.raises(CorpusError, match=r"(?s)msp_podcast: 1 labelled file name.*outside the corpus root.*'../../x.wav'"):
        load_corpus("msp_podcast", tmp_path)


def _shared_disk(tmp_path, n=4):
    """A csv corpus whose metadata lists absolute paths on another disk (common on shared machines)."""
    root, disk = tmp_path / "corpus", tmp_path / "shared-disk"
    rows = []
    for i in range(n):
        target = wav(disk / f"clip{i}.wav")
        rows.append(f"{target},{'happy' if i % 2 else 'sad'},s{i % 2}")
    root.mkdir()
    (root / "metadata.csv").write_text("path,label,speaker\n" + "\n".join(rows) + "\n")
    return root


def test_the_confinement_message_names_the_command_line_switch(tmp_path, tiny_wavlm, capsys):
    """Issue 18: the message told a CLI user to call load_corpus(..., allow_outside_root=True)."""
    from sklearn_zsfuse.cli import main

    root = _shared_disk(tmp_path)
    rc = main(["embed", "--fm", tiny_wavlm, "--dataset", "csv", "--root", str(root), "--out", str(tmp_path / "x.npy")])
    err = capsys.readouterr().err
    assert rc == 2 and "--allow-outside-root" in err and "allow_outside_root=True" in err
    assert len(err.strip().splitlines()) == 1


def test_allow_outside_root_reads_a_corpus_of_absolute_paths(tmp_path, tiny_wavlm, capsys):
    from sklearn_zsfuse.cli import main

    root = _shared_disk(tmp_path)
    out = tmp_path / "x.npy"
    rc = main(["embed", "--fm", tiny_wavlm, "--dataset", "csv", "--root", str(root), "--allow-outside-root",
               "--out", str(out), "-q"])
    assert rc == 0, capsys.readouterr().err
    assert np.load(out).shape[0] == 4


def test_evaluate_takes_allow_outside_root_for_both_corpora():
    from sklearn_zsfuse.cli import build_parser

    args = build_parser().parse_args(["evaluate", "--dataset", "csv", "--root", "r", "--allow-outside-root"])
    assert args.allow_outside_root is True
    args = build_parser().parse_args(["evaluate", "--dataset", "csv", "--root", "r"])
    assert args.allow_outside_root is False
