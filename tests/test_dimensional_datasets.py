"""Dimensional labels in the loaders (issue 20.1), on small label files laid out as the real corpora's.

MSP-Podcast: release 1.11's ``Labels/labels_consensus.csv`` (and ``.json``), columns
FileName, EmoClass, EmoAct, EmoVal, EmoDom, SpkrID, Gender, Split_Set. IEMOCAP:
``IEMOCAP_full_release``'s ``SessionN/dialog/EmoEvaluation/*.txt`` lines ending in
``[V, A, D]``. Each clip gets its own ratings, so a misaligned column is caught.
"""

import json

import numpy as np
import pytest

from sklearn_zsfuse.datasets import Corpus, CorpusError, load_corpus
from sklearn_zsfuse.datasets.dimensions import DIMENSIONAL_LOADERS, Scale, dimensional_options
from sklearn_zsfuse.datasets.labels import relabel

from test_datasets import silent

MSP_ROWS = [  # FileName, EmoClass, EmoAct, EmoVal, EmoDom, SpkrID, Split_Set
    ("MSP-PODCAST_0003_0001.wav", "S", 2.2, 1.8, 3.0, "12", "Test1"),
    ("MSP-PODCAST_0001_0001.wav", "A", 6.4, 2.0, 6.2, "10", "Train"),
    ("MSP-PODCAST_0001_0002.wav", "N", 4.0, 4.2, 4.4, "10", "Train"),
    ("MSP-PODCAST_0002_0001.wav", "H", 5.6, 6.6, 5.0, "11", "Development"),
    ("MSP-PODCAST_0005_0001.wav", "X", 3.2, 3.4, 3.6, "14", "Train"),
    ("MSP-PODCAST_0005_0002.wav", "O", 1.2, 5.8, 2.4, "14", "Test1"),
]


def msp_tree(root, rows=MSP_ROWS, json_form=False):
    for name, *_ in rows:
        silent(root / "Audios" / name)
    (root / "Labels").mkdir(exist_ok=True)
    if json_form:
        (root / "Labels" / "labels_consensus.json").write_text(json.dumps({
            n: {"EmoClass": c, "EmoAct": a, "EmoVal": v, "EmoDom": d, "SpkrID": s, "Gender": "Male", "Split_Set": p}
            for n, c, a, v, d, s, p in rows}))
    else:
        (root / "Labels" / "labels_consensus.csv").write_text(
            "FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set\n"
            + "".join(f"{n},{c},{a},{v},{d},{s},Male,{p}\n" for n, c, a, v, d, s, p in rows))
    return root


def expected(rows, keep):
    rows = sorted((r for r in rows if keep(r[1])), key=lambda r: r[0])
    return {"arousal": [r[2] for r in rows], "valence": [r[3] for r in rows], "dominance": [r[4] for r in rows]}


@pytest.mark.parametrize("json_form", [False, True], ids=["csv", "json"])
def test_msp_podcast_ratings_follow_their_clips_on_a_1_to_7_scale(tmp_path, json_form):
    corpus = load_corpus("msp_podcast", msp_tree(tmp_path, json_form=json_form))
    assert corpus.targets == ("category", "arousal", "valence", "dominance")
    assert list(corpus.labels) == ["angry", "neutral", "happy", "sad"]  # the categorical corpus is unchanged
    for name, values in expected(MSP_ROWS, lambda c: c not in "OX").items():
        np.testing.assert_array_equal(corpus.dimensions[name], values)
        assert (corpus.scales[name].low, corpus.scales[name].high) == (1.0, 7.0)
    assert "dimensions: arousal 1 to 7" in corpus.summary()
    # the attribute track scores every rated clip: O and X are kept on request, with their ratings
    every = load_corpus("msp_podcast", tmp_path, keep_other_labels=True)
    assert list(every.labels) == ["angry", "neutral", "happy", "sad", "no_agreement", "other"]
    np.testing.assert_array_equal(every.dimensions["valence"], expected(MSP_ROWS, lambda c: True)["valence"])
    assert list(every.folds) == [-1, -1, -1, 1, -1, 1]
    # a subset keeps each clip's ratings
    part = every.subset(every.folds == 1)
    np.testing.assert_array_equal(part.dimensions["arousal"], [2.2, 1.2])


def test_msp_podcast_bad_or_missing_ratings(tmp_path):
    rows = [list(r) for r in MSP_ROWS]
    rows[2][3] = "n/a"
    msp_tree(tmp_path, [tuple(r) for r in rows])
    with pytest.raises(CorpusError, match=r"column 'EmoVal' of .*labels_consensus.csv.*line 4: 'n/a'"):
        load_corpus("msp_podcast", tmp_path)
    # an older layout without the rating columns: the categories load, no dimensions
    (tmp_path / "Labels" / "labels_consensus.csv").write_text(
        "FileName,EmoClass,SpkrID,Split_Set\n" + "".join(f"{r[0]},{r[1]},{r[5]},{r[6]}\n" for r in MSP_ROWS))
    corpus = load_corpus("msp_podcast", tmp_path)
    assert corpus.targets == ("category",) and len(corpus) == 4


def iemocap_tree(root, vad=lambda i, s: (1 + 0.5 * i, 5 - 0.25 * s, 2 + 0.1 * i)):
    codes = [("F", "neu"), ("M", "exc"), ("F", "hap"), ("M", "sad"), ("F", "ang"), ("M", "fru")]
    for s in range(1, 6):
        ses = root / f"Session{s}"
        dialog = f"Ses{s:02d}F_impro01"
        lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
        for i, (who, code) in enumerate(codes):
            utt = f"{dialog}_{who}{i:03d}"
            silent(ses / "sentences" / "wav" / dialog / f"{utt}.wav")
            v, a, d = vad(i, s)
            lines.append(f"[{i}.0000 - {i + 1}.5000]\t{utt}\t{code}\t[{v:.4f}, {a:.4f}, {d:.4f}]")
            lines.append(f"C-E1:\t{code};\t()")
        (ses / "dialog" / "EmoEvaluation").mkdir(parents=True, exist_ok=True)
        (ses / "dialog" / "EmoEvaluation" / f"{dialog}.txt").write_text("\n".join(lines))
    return root


def test_iemocap_reads_v_a_d_in_that_order_on_a_1_to_5_scale(tmp_path):
    corpus = load_corpus("iemocap", iemocap_tree(tmp_path))
    assert len(corpus) == 25 and corpus.targets == ("category", "arousal", "valence", "dominance")
    for path, s, v, a, d in zip(corpus.paths, corpus.folds, corpus.dimensions["valence"],
                                corpus.dimensions["arousal"], corpus.dimensions["dominance"]):
        i = int(path[-7:-4])  # the utterance's index in its dialog
        assert (v, a, d) == pytest.approx((1 + 0.5 * i, 5 - 0.25 * s, 2 + 0.1 * i))
    assert corpus.scales["arousal"] == Scale(1.0, 5.0, corpus.scales["arousal"].source)
    assert not any("kept as given" in n for n in corpus.notes)
    every = load_corpus("iemocap", tmp_path, keep_other_labels=True)
    assert len(every) == 30 and np.sum(every.labels == "frustrated") == 5
    assert any("outside the 4-class setup kept" in n for n in every.notes)


def test_iemocap_ratings_off_the_scale_are_kept_and_said(tmp_path):
    corpus = load_corpus("iemocap", iemocap_tree(tmp_path, vad=lambda i, s: (1 + i, 3, 3)))  # valence up to 6
    assert corpus.dimensions["valence"].max() == 5.0  # only the 4-class clips (i <= 4) are kept
    every = load_corpus("iemocap", tmp_path, keep_other_labels=True)
    assert every.dimensions["valence"].max() == 6.0
    assert any("outside 1-5 kept as given: valence 5" in n for n in every.notes)


def csv_tree(root, header="path,label,speaker,arousal,val\n", rows=None):
    rows = rows or [(f"c{i}.wav", "happy" if i % 2 else "sad", f"s{i % 3}", 1 + i % 5, (i % 7) / 2) for i in range(12)]
    for r in rows:
        silent(root / r[0])
    (root / "metadata.csv").write_text(header + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return root, rows


def test_csv_reads_named_numeric_columns_with_their_scale(tmp_path):
    root, rows = csv_tree(tmp_path)
    corpus = load_corpus("csv", root, dimensions={"arousal": "arousal", "valence": "val"},
                         scales={"arousal": (1, 5)})
    assert corpus.targets == ("category", "arousal", "valence")
    order = np.argsort([r[0] for r in rows])
    np.testing.assert_array_equal(corpus.dimensions["arousal"], np.asarray([r[3] for r in rows], float)[order])
    np.testing.assert_array_equal(corpus.dimensions["valence"], np.asarray([r[4] for r in rows], float)[order])
    assert (corpus.scales["arousal"].low, corpus.scales["arousal"].high) == (1, 5)
    assert (corpus.scales["valence"].low, corpus.scales["valence"].high) == (0, 3)  # observed: and said so
    assert any("no scale given for valence" in n for n in corpus.notes)
    assert load_corpus("csv", root, dimensions="arousal").targets == ("category", "arousal")
    assert load_corpus("csv", root).targets == ("category",)  # nothing asked: nothing read
    # relabelling keeps the ratings
    renamed = relabel(corpus, {"sad": "sad"})
    np.testing.assert_array_equal(renamed.dimensions["valence"], corpus.dimensions["valence"])


def test_a_csv_corpus_rated_on_dimensions_only_needs_no_label_column(tmp_path):
    root, rows = csv_tree(tmp_path, header="path,speaker,arousal\n", rows=[
        (f"c{i}.wav", f"s{i % 3}", 1 + i % 5) for i in range(9)])
    corpus = load_corpus("csv", root, dimensions=["arousal"])
    assert set(corpus.labels) == {"unlabelled"} and len(corpus) == 9
    assert any("no label column" in n for n in corpus.notes)
    with pytest.raises(CorpusError, match=r"lacks column\(s\) \['label'\]"):
        load_corpus("csv", root)  # a categorical corpus needs its labels
    with pytest.raises(CorpusError, match="has no label column"):
        load_corpus("csv", root, dimensions=["arousal"], labels={"wut": "angry"})


def test_csv_dimension_errors_name_the_problem(tmp_path):
    root, rows = csv_tree(tmp_path)
    with pytest.raises(CorpusError, match=r"no column\(s\) \['valence'\].*columns are \['path', 'label'"):
        load_corpus("csv", root, dimensions=["arousal", "valence"])
    with pytest.raises(CorpusError, match="scales are given for \\['dominance'\\]"):
        load_corpus("csv", root, dimensions=["arousal"], scales={"dominance": (1, 5)})
    with pytest.raises(CorpusError, match="low < high"):
        load_corpus("csv", root, dimensions=["arousal"], scales={"arousal": (5, 1)})
    rows[3] = rows[3][:3] + ("",) + rows[3][4:]
    csv_tree(tmp_path, rows=rows)
    with pytest.raises(CorpusError, match=r"column 'arousal' .* number on every row; bad values: \[.line 5: ''.\]"):
        load_corpus("csv", root, dimensions=["arousal"])


def test_a_corpus_says_each_dimensions_scale():
    with pytest.raises(ValueError, match="every dimension needs its scale"):
        Corpus("x", tmp_path_for_record(), ["a.wav"], np.asarray(["happy"]), np.asarray(["s"]), np.asarray([1]),
               "one fold", dimensions={"arousal": np.asarray([3.0])})


def tmp_path_for_record():
    from pathlib import Path

    return Path(".")


def test_which_loaders_have_dimensions_is_one_table():
    assert set(DIMENSIONAL_LOADERS) == {"msp_podcast", "iemocap", "csv"}
    assert dimensional_options("msp_podcast", {"arousal": "arousal"}) == {"keep_other_labels": True}
    assert dimensional_options("csv", {"arousal": "act"}, {"arousal": (1, 7)}) == {
        "dimensions": {"arousal": "act"}, "scales": {"arousal": (1, 7)}}
    with pytest.raises(ValueError, match="ravdess corpus has no dimensional labels"):
        dimensional_options("ravdess", {"arousal": "arousal"})
    with pytest.raises(ValueError, match="NAME=COLUMN.*csv loader only"):
        dimensional_options("iemocap", {"arousal": "act"})
