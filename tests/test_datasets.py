"""Corpus loaders on small fake trees that follow each corpus's real naming scheme."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sklearn.model_selection import cross_val_score
from sklearn.dummy import DummyClassifier

from sklearn_zsfuse.datasets import Corpus, CorpusError, LOADERS, load_corpus
from sklearn_zsfuse.datasets.ravdess import EMOBOX_FOLDS


def silent(path: Path, rate=16000, seconds=0.05):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.zeros(int(rate * seconds), dtype=np.float32), rate)
    return path


def fold_speakers(corpus: Corpus) -> dict:
    return {int(f): sorted(set(corpus.speakers[corpus.folds == f])) for f in corpus.fold_ids}


def assert_speaker_independent(corpus: Corpus):
    for s in np.unique(corpus.speakers):
        assert len(set(corpus.folds[corpus.speakers == s])) == 1, s


def test_ravdess_from_file_names_uses_the_emobox_folds(tmp_path):
    for actor in range(1, 25):
        for emotion in ("01", "05"):
            silent(tmp_path / f"Actor_{actor:02d}" / f"03-01-{emotion}-01-01-01-{actor:02d}.wav")
    silent(tmp_path / "Actor_01" / "03-02-05-01-01-01-01.wav")  # song: left out with a note
    silent(tmp_path / "Actor_01" / "notes.wav")
    corpus = load_corpus("ravdess", tmp_path)
    assert len(corpus) == 48
    assert set(corpus.labels) == {"neutral", "angry"}
    assert corpus.n_folds == 6
    assert {f: tuple(s) for f, s in fold_speakers(corpus).items()} == EMOBOX_FOLDS
    assert any("song" in n for n in corpus.notes) and any("notes.wav" in n for n in corpus.notes)
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in corpus.paths)
    # cv= works in scikit-learn
    scores = cross_val_score(DummyClassifier(), np.zeros((48, 1)), corpus.labels, cv=corpus.cv)
    assert scores.shape == (6,)


def test_ravdess_metadata_csv_takes_precedence(tmp_path):
    silent(tmp_path / "Actor_02" / "03-01-03-02-01-01-02.flac")
    silent(tmp_path / "Actor_03" / "03-01-04-01-02-02-03.flac")
    (tmp_path / "metadata.csv").write_text(
        "path,emotion,actor,emobox_fold\n"
        "Actor_02/03-01-03-02-01-01-02.flac,happy,02,5\n"
        "Actor_03/03-01-04-01-02-02-03.flac,sad,03,4\n"
    )
    corpus = load_corpus("ravdess", tmp_path)
    assert list(corpus.labels) == ["happy", "sad"] and list(corpus.folds) == [5, 4]
    assert list(corpus.speakers) == ["02", "03"]


def test_ravdess_real_metadata_agrees_with_the_hard_coded_folds():
    from conftest import RAVDESS

    if not (RAVDESS / "metadata.csv").is_file():
        pytest.skip("RAVDESS not available")
    corpus = load_corpus("ravdess", RAVDESS)
    assert len(corpus) == 1440
    assert {f: tuple(s) for f, s in fold_speakers(corpus).items()} == EMOBOX_FOLDS


def test_crema_d(tmp_path):
    for actor in range(1001, 1011):
        for emo in ("ANG", "NEU", "SAD"):
            silent(tmp_path / "AudioWAV" / f"{actor}_IEO_{emo}_{'XX' if emo == 'NEU' else 'HI'}.wav")
    silent(tmp_path / "AudioWAV" / "1001_IEO_XYZ_HI.wav")
    corpus = load_corpus("crema-d", tmp_path)
    assert len(corpus) == 30 and set(corpus.labels) == {"angry", "neutral", "sad"}
    assert corpus.n_folds == 5
    assert fold_speakers(corpus)[1] == ["1001", "1006"]
    assert_speaker_independent(corpus)
    assert any("XYZ" in n for n in corpus.notes)


def _iemocap_tree(root: Path, sessions=range(1, 6)):
    for s in sessions:
        ses = root / f"Session{s}"
        dialog = f"Ses{s:02d}F_impro01"
        lines = ["% header", ""]
        for i, (who, code) in enumerate([("F", "neu"), ("M", "exc"), ("F", "hap"), ("M", "sad"), ("F", "ang"), ("M", "fru")]):
            utt = f"{dialog}_{who}{i:03d}"
            silent(ses / "sentences" / "wav" / dialog / f"{utt}.wav")
            lines.append(f"[{i}.0000 - {i + 1}.5000]\t{utt}\t{code}\t[2.5000, 3.0000, 2.0000]")
            lines.append(f"C-E1:\t{code};\t()")
        (ses / "dialog" / "EmoEvaluation").mkdir(parents=True, exist_ok=True)
        (ses / "dialog" / "EmoEvaluation" / f"{dialog}.txt").write_text("\n".join(lines))


def test_iemocap_four_classes_and_sessions_as_folds(tmp_path):
    _iemocap_tree(tmp_path)
    corpus = load_corpus("iemocap", tmp_path)
    assert len(corpus) == 25  # fru left out in each session
    assert sorted(np.unique(corpus.labels)) == ["angry", "happy", "neutral", "sad"]
    assert np.sum(corpus.labels == "happy") == 10  # excited merged into happy
    assert list(corpus.fold_ids) == [1, 2, 3, 4, 5]
    assert fold_speakers(corpus)[2] == ["Ses02F", "Ses02M"]
    assert any("fru 5" in n for n in corpus.notes)


def test_iemocap_incomplete_copy_is_named(tmp_path):
    _iemocap_tree(tmp_path, sessions=range(1, 5))
    with pytest.raises(CorpusError, match=r"lacks \['Session5'\]"):
        load_corpus("iemocap", tmp_path)
    _iemocap_tree(tmp_path, sessions=[5])
    next((tmp_path / "Session3" / "sentences" / "wav").rglob("*F000.wav")).unlink()
    with pytest.raises(CorpusError, match=r"(?s)1 labelled utterance\(s\) have no audio.*Ses03F_impro01_F000.wav"):
        load_corpus("iemocap", tmp_path)


def test_msp_podcast_official_partitions(tmp_path):
    rows = [
        ("MSP-PODCAST_0001_0001.wav", "A", "10", "Train"),
        ("MSP-PODCAST_0001_0002.wav", "N", "10", "Train"),
        ("MSP-PODCAST_0002_0001.wav", "H", "11", "Development"),
        ("MSP-PODCAST_0003_0001.wav", "S", "12", "Test1"),
        ("MSP-PODCAST_0003_0002.wav", "C", "Unknown", "Test1"),
        ("MSP-PODCAST_0004_0001.wav", "U", "13", "Test2"),
        ("MSP-PODCAST_0005_0001.wav", "X", "14", "Train"),
        ("MSP-PODCAST_0005_0002.wav", "O", "14", "Train"),
    ]
    for name, *_ in rows:
        silent(tmp_path / "Audios" / name)
    (tmp_path / "Labels").mkdir()
    (tmp_path / "Labels" / "labels_consensus.csv").write_text(
        "FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set\n"
        + "".join(f"{n},{c},3.0,4.0,3.5,{s},Female,{p}\n" for n, c, s, p in rows)
    )
    corpus = load_corpus("msp_podcast", tmp_path)
    assert len(corpus) == 5
    assert list(corpus.labels) == ["angry", "neutral", "happy", "sad", "contempt"]
    assert list(corpus.folds) == [-1, -1, -1, 1, 1]
    assert list(corpus.development) == [False, False, True, False, False]
    assert corpus.n_folds == 1 and corpus.cv.get_n_splits() == 1
    assert any("Test2 1" in n for n in corpus.notes) and any("O 1, X 1" in n for n in corpus.notes)
    test2 = load_corpus("msp_podcast", tmp_path, test_set="Test2")
    assert list(test2.labels[test2.folds == 1]) == ["surprised"]
    with pytest.raises(CorpusError, match="test_set='Test9' is not a partition"):
        load_corpus("msp_podcast", tmp_path, test_set="Test9")
    # The JSON form of the labels works too.
    (tmp_path / "Labels" / "labels_consensus.csv").unlink()
    (tmp_path / "Labels" / "labels_consensus.json").write_text(json.dumps(
        {n: {"EmoClass": c, "SpkrID": s, "Split_Set": p, "Gender": "Female"} for n, c, s, p in rows}
    ))
    assert list(load_corpus("msp_podcast", tmp_path).labels) == list(corpus.labels)
    (tmp_path / "Audios" / rows[0][0]).unlink()
    with pytest.raises(CorpusError, match="1 labelled file.*MSP-PODCAST_0001_0001.wav"):
        load_corpus("msp_podcast", tmp_path)


def test_emodb_leave_one_speaker_out(tmp_path):
    for spk in ("03", "08", "09", "10"):
        for emo in "WLEAFTN":
            silent(tmp_path / "wav" / f"{spk}a01{emo}a.wav")
    corpus = load_corpus("emodb", tmp_path)
    assert len(corpus) == 28
    assert set(corpus.labels) == {"angry", "bored", "disgust", "fearful", "happy", "sad", "neutral"}
    assert fold_speakers(corpus) == {1: ["03"], 2: ["08"], 3: ["09"], 4: ["10"]}
    by_name = {Path(p).name: lab for p, lab in zip(corpus.paths, corpus.labels)}
    assert by_name["08a01Wa.wav"] == "angry" and by_name["10a01La.wav"] == "bored"


def test_tess(tmp_path):
    for spk in ("OAF", "YAF"):
        for emo, folder in (("angry", "angry"), ("ps", "Pleasant_surprise"), ("neutral", "neutral")):
            silent(tmp_path / f"{spk}_{folder}" / f"{spk}_back_{emo}.wav")
    corpus = load_corpus("tess", tmp_path)
    assert len(corpus) == 6 and set(corpus.labels) == {"angry", "surprised", "neutral"}
    assert fold_speakers(corpus) == {1: ["OAF"], 2: ["YAF"]}


def test_savee_flat_and_original_layouts(tmp_path):
    for spk in ("DC", "JE", "JK", "KL"):
        for code in ("a", "sa", "su", "n"):
            silent(tmp_path / "flat" / f"{spk}_{code}01.wav")
            silent(tmp_path / "orig" / "AudioData" / spk / f"{code}01.wav")
    flat, orig = load_corpus("savee", tmp_path / "flat"), load_corpus("savee", tmp_path / "orig")
    for corpus in (flat, orig):
        assert len(corpus) == 16
        assert set(corpus.labels) == {"angry", "sad", "surprised", "neutral"}
        assert fold_speakers(corpus) == {1: ["DC"], 2: ["JE"], 3: ["JK"], 4: ["KL"]}
    assert list(flat.labels) == list(orig.labels)


def test_emovo(tmp_path):
    for spk in ("f1", "f2", "f3", "m1", "m2", "m3"):
        for emo in ("dis", "gio", "neu", "pau", "rab", "sor", "tri"):
            silent(tmp_path / spk / f"{emo}-{spk}-b1.wav")
    corpus = load_corpus("emovo", tmp_path)
    assert len(corpus) == 42 and corpus.n_folds == 6
    assert set(corpus.labels) == {"disgust", "happy", "neutral", "fearful", "angry", "surprised", "sad"}
    assert_speaker_independent(corpus)


def test_csv_with_speakers_makes_speaker_folds(tmp_path):
    lines = ["path,label,speaker"]
    for spk in range(7):
        for lab in ("freude", "wut"):
            silent(tmp_path / "clips" / f"s{spk}_{lab}.wav")
            lines.append(f"clips/s{spk}_{lab}.wav,{lab},sp{spk}")
    (tmp_path / "metadata.csv").write_text("\n".join(lines) + "\n")
    corpus = load_corpus("csv", tmp_path)
    assert len(corpus) == 14 and corpus.n_folds == 5
    assert_speaker_independent(corpus)
    assert fold_speakers(corpus)[1] == ["sp0", "sp5"]
    three = load_corpus("csv", tmp_path, n_folds=10)
    assert three.n_folds == 7 and three.fold_scheme == "leave one speaker out"


def test_csv_with_folds_and_without_speakers(tmp_path):
    for i in range(8):
        silent(tmp_path / f"{i}.wav")
    (tmp_path / "metadata.csv").write_text(
        "path,label,fold\n" + "".join(f"{i}.wav,{'ab'[i % 2]},{i % 2 if i < 6 else -1}\n" for i in range(8))
    )
    corpus = load_corpus("csv", tmp_path)
    assert list(corpus.folds) == [0, 1, 0, 1, 0, 1, -1, -1]
    assert corpus.cv.get_n_splits() == 2
    (tmp_path / "metadata.csv").write_text("path,label\n" + "".join(f"{i}.wav,{'ab'[i % 2]}\n" for i in range(8)))
    unspeakered = load_corpus("csv", tmp_path)
    assert unspeakered.n_folds == 4 and any("not speaker independent" in n for n in unspeakered.notes)


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "has no metadata.csv"),
        ("path,emotion\nx.wav,a\n", r"lacks column\(s\) \['label'\]"),
        ("path,label\nmissing.wav,a\nalso.wav,b\n", r"(?s)2 of 2 clip path\(s\).*line 2: 'missing.wav' not found"),
        ("path,label,fold\nok.wav,a,x\n", "must hold integers"),
        ("path,label\nok.wav,\n", "empty labels on line"),
    ],
)
def test_csv_errors_say_what_is_wrong(tmp_path, content, message):
    silent(tmp_path / "ok.wav")
    if content is not None:
        (tmp_path / "metadata.csv").write_text(content)
    with pytest.raises(CorpusError, match=message):
        load_corpus("csv", tmp_path)


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_wrong_root_says_what_was_expected(tmp_path, name):
    with pytest.raises(CorpusError, match="does not exist. Expected"):
        load_corpus(name, tmp_path / "nowhere")
    silent(tmp_path / "random_name.wav")
    with pytest.raises(CorpusError, match="Expected|expected"):
        load_corpus(name, tmp_path)


def test_unknown_dataset_lists_the_choices():
    with pytest.raises(CorpusError, match="choose one of.*ravdess"):
        load_corpus("nope", ".")


def test_subset_keeps_folds_and_notes(tmp_path):
    for actor in (1, 2):
        silent(tmp_path / f"Actor_{actor:02d}" / f"03-01-01-01-01-01-{actor:02d}.wav")
    corpus = load_corpus("ravdess", tmp_path)
    sub = corpus.subset([1])
    assert list(sub.speakers) == ["02"] and list(sub.folds) == [5] and "subset" in sub.notes[-1]


def test_first_per_speaker_and_label(tmp_path):
    for actor in (1, 2):
        for emotion in ("01", "05"):
            for rep in ("01", "02"):
                silent(tmp_path / f"Actor_{actor:02d}" / f"03-01-{emotion}-01-01-{rep}-{actor:02d}.wav")
    corpus = load_corpus("ravdess", tmp_path)
    small = corpus.first_per_speaker_and_label(1)
    assert len(small) == 4 and sorted(zip(small.speakers, small.labels)) == sorted(
        {(s, lab) for s, lab in zip(corpus.speakers, corpus.labels)}
    )
    assert all(p.endswith("-01-01.wav") or p.endswith("-01-02.wav") for p in small.paths)
