"""One label vocabulary across loaders; csv labels mapped through it; user overrides."""

import csv

import numpy as np
import pytest

from sklearn_zsfuse.datasets import CorpusError, load_corpus
from sklearn_zsfuse.datasets.labels import (
    CANONICAL_LABELS,
    canonical_label,
    check_overrides,
    corpus_codes,
    map_labels,
    relabel,
    shared_classes,
)


def test_every_loader_speaks_the_canonical_vocabulary():
    codes = corpus_codes()
    assert set(codes) == {"ravdess", "crema_d", "iemocap", "msp_podcast", "emodb", "tess", "savee", "emovo"}
    for name, table in codes.items():
        assert set(table.values()) <= set(CANONICAL_LABELS), name
    # Multi-letter codes that spell a class the same way everywhere map through the shared table too.
    assert canonical_label("ANG") == canonical_label("ang") == canonical_label("Anger") == "angry"
    assert canonical_label("fea") == canonical_label("fear") == "fearful"
    assert canonical_label("ps") == "surprised"
    # Single letters differ between corpora (EmoDB's A = Angst, MSP-Podcast's A = angry): only loaders map them.
    assert canonical_label("A") is None
    assert codes["emodb"]["A"] == "fearful" and codes["msp_podcast"]["A"] == "angry"


def test_overrides_map_new_spellings_and_refuse_non_canonical_targets():
    assert canonical_label("Wut", {"wut": "angry"}) == "angry"
    assert check_overrides({"Freude": "joy"}) == {"freude": "happy"}  # a spelling of a canonical label is fine
    with pytest.raises(ValueError, match="'angri' is not a canonical label"):
        check_overrides({"wut": "angri"})
    mapped, notes = map_labels(["wut", "Anger", "ekel", "sad"], {"wut": "angry"})
    assert mapped == ["angry", "angry", "ekel", "sad"]
    assert any("Anger->angry (1)" in n and "wut->angry (1)" in n for n in notes)
    assert any("kept as written: ekel (1)" in n for n in notes)
    with pytest.raises(ValueError, match=r"\['zorn'\]: no clip has such a label"):
        map_labels(["wut"], {"zorn": "angry"})


def _csv_corpus(root, rows):
    root.mkdir(parents=True, exist_ok=True)
    for path, _, _ in rows:
        (root / path).write_bytes(b"")
    with open(root / "metadata.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label", "speaker"])
        w.writerows(rows)
    return root


def test_the_csv_loader_maps_spellings_and_says_so(tmp_path):
    rows = [(f"c{i}.wav", label, f"s{i % 2}") for i, label in enumerate(["Anger", "ang", "wut", "neutral"] * 2)]
    root = _csv_corpus(tmp_path / "c", rows)
    corpus = load_corpus("csv", root)
    assert sorted(set(corpus.labels)) == ["angry", "neutral", "wut"]
    assert any("kept as written: wut (2)" in n for n in corpus.notes)
    mapped = load_corpus("csv", root, labels={"wut": "angry"})
    assert sorted(set(mapped.labels)) == ["angry", "neutral"]
    with pytest.raises(CorpusError, match="no clip has such a label"):
        load_corpus("csv", root, labels={"zorn": "angry"})
    again = relabel(corpus, {"wut": "angry"})
    assert sorted(set(again.labels)) == ["angry", "neutral"] and len(again.notes) == len(corpus.notes) + 1


def test_shared_classes_keeps_what_both_corpora_have_and_counts_the_rest(tmp_path):
    a = load_corpus("csv", _csv_corpus(tmp_path / "a", [(f"a{i}.wav", l, f"s{i % 2}") for i, l in
                                                         enumerate(["angry", "sad", "calm", "calm"] * 2)]))
    b = load_corpus("csv", _csv_corpus(tmp_path / "b", [(f"b{i}.wav", l, f"t{i % 2}") for i, l in
                                                         enumerate(["angry", "sad", "ekel"] * 2)]))
    a2, b2, report = shared_classes(a, b)
    assert report["kept"] == ["angry", "sad"]
    assert report["train_dropped"] == {"calm": 4} and report["test_dropped"] == {"ekel": 2}
    assert set(a2.labels) == set(b2.labels) == {"angry", "sad"} and len(a2) == 4 and len(b2) == 4
    c = load_corpus("csv", _csv_corpus(tmp_path / "c", [(f"c{i}.wav", l, f"u{i % 2}") for i, l in
                                                         enumerate(["happy", "sad"] * 2)]))
    with pytest.raises(ValueError, match="share 1 class"):
        shared_classes(a, c)
    assert np.all(a.labels == load_corpus("csv", tmp_path / "a").labels)
