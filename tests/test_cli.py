"""The zsfuse command on a small folder + CSV corpus of real speech with renamed labels."""

import csv
import json
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest

from sklearn_zsfuse.cli import main

GERMAN = {"happy": "freude", "sad": "trauer", "angry": "wut", "neutral": "neutral"}


@pytest.fixture(scope="module")
def german_corpus(tmp_path_factory, ravdess_meta):
    """16 RAVDESS clips copied into a new folder, 4 speakers, German label names, no fold column."""
    from conftest import RAVDESS

    root = tmp_path_factory.mktemp("korpus")
    m = ravdess_meta[(ravdess_meta.intensity == "normal") & ravdess_meta.emotion.isin(list(GERMAN))]
    m = m[m.actor.isin(["01", "02", "03", "04"]) & (m.statement == "kids") & (m.repetition == 1)]
    rows = []
    for r in m.itertuples():
        target = root / "audio" / f"sprecher{r.actor}_{GERMAN[r.emotion]}.flac"
        target.parent.mkdir(exist_ok=True)
        shutil.copy(RAVDESS / r.path, target)
        rows.append((f"audio/{target.name}", GERMAN[r.emotion], f"sprecher{r.actor}"))
    with open(root / "metadata.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label", "speaker"])
        writer.writerows(rows)
    assert len(rows) == 16
    return root


@pytest.fixture(scope="module")
def evaluated(german_corpus, tiny_clap, tmp_path_factory):
    pytest.importorskip("opensmile")
    pytest.importorskip("matplotlib")
    out = tmp_path_factory.mktemp("out")
    argv = ["evaluate", "--dataset", "csv", "--root", str(german_corpus), "--alm", tiny_clap, "--fm", "egemaps",
            "--grid", "na=1,2", "nt=1,2", "w=0,0.5,1", "--prompt", "freude=happy,joyful", "wut=angry",
            "trauer=sad", "--out", str(out), "--save-model", "zs_fuse", "--device", "cpu", "-q"]
    return out, argv


def test_evaluate_writes_the_table_json_and_plots(evaluated, capsys):
    out, argv = evaluated
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("| system | UA (%) | WA (%) | F1 (%) |")
    for name in ("specialist", "zero_shot", "zero_shot+ensemble", "zero_shot+ensemble+amplification", "zs_fuse"):
        assert f"| {name} |" in printed
    doc = json.loads((out / "results.json").read_text())
    assert doc["dataset"] == "csv"
    assert doc["config"]["classes"] == ["freude", "neutral", "trauer", "wut"]
    assert doc["config"]["fm"] == "egemaps" and doc["config"]["n_clips"] == 16
    assert doc["config"]["fold_scheme"] == "leave one speaker out"
    assert doc["config"]["class_prompts"]["freude"] == ["happy", "joyful"]
    for entry in doc["systems"].values():
        assert set(entry) == {"ua", "wa", "f1", "ua_std", "wa_std", "f1_std", "per_class_recall", "folds"}
        assert len(entry["folds"]) == 4
        assert 0 <= entry["ua"] <= 1
    amp = [f["params"] for f in doc["systems"]["zero_shot+ensemble+amplification"]["folds"]]
    assert all(p["audio_repeats"] in (1, 2) and p["text_repeats"] in (1, 2) for p in amp)
    assert (out / "table.md").read_text().count("|") > 20
    for png in ("confusion_matrix.png", "ua_vs_weight.png", "ua_heatmap_amplification.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    assert (out / "model.joblib").is_file()


def test_predict_with_the_saved_model(evaluated, german_corpus, capsys):
    out, argv = evaluated
    if not (out / "model.joblib").is_file():
        assert main(argv) == 0
    clips = sorted(str(p) for p in (german_corpus / "audio").iterdir())[:3]
    capsys.readouterr()
    assert main(["predict", str(out / "model.joblib"), *clips, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["path"] for r in rows] == clips
    for r in rows:
        assert r["label"] in {"freude", "neutral", "trauer", "wut"}
        assert sum(r["probabilities"].values()) == pytest.approx(1.0)
        assert r["label"] == max(r["probabilities"], key=r["probabilities"].get)
    assert main(["predict", str(out / "model.joblib"), clips[0]]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "path,label,p_freude,p_neutral,p_trauer,p_wut" and lines[1].startswith(clips[0])
    assert main(["predict", str(out / "model.joblib"), str(german_corpus / "gone.wav")]) == 2
    assert "gone.wav" in capsys.readouterr().err


def test_embed_to_npy_and_parquet(german_corpus, tmp_path, capsys):
    pytest.importorskip("opensmile")
    clips = sorted(str(p) for p in (german_corpus / "audio").iterdir())[:2]
    assert main(["embed", "--fm", "egemaps", *clips, "--out", str(tmp_path / "x.npy"), "-q"]) == 0
    X = np.load(tmp_path / "x.npy")
    assert X.shape == (2, 88) and np.isfinite(X).all()
    assert (tmp_path / "x.paths.txt").read_text().splitlines() == clips
    pytest.importorskip("pyarrow")
    import pandas as pd

    assert main(["embed", "--fm", "egemaps", "--dataset", "csv", "--root", str(german_corpus),
                 "--out", str(tmp_path / "x.parquet"), "-q"]) == 0
    frame = pd.read_parquet(tmp_path / "x.parquet")
    assert frame.shape == (16, 4 + 88)
    assert list(frame.columns[:5]) == ["path", "label", "speaker", "fold", "F0semitoneFrom27.5Hz_sma3nz_amean"]
    rows = frame.set_index("path").loc[clips]
    np.testing.assert_allclose(rows.iloc[:, 3:].to_numpy(), X, rtol=1e-6)
    assert list(rows.label) == ["freude", "neutral"] and list(rows.speaker) == ["sprecher01", "sprecher01"]
    assert sorted(set(frame.fold)) == [1, 2, 3, 4]  # one per speaker


def test_evaluate_errors_are_for_people(tmp_path, tiny_wavlm, capsys):
    assert main(["evaluate", "--dataset", "ravdess", "--root", str(tmp_path / "nowhere"), "--fm", tiny_wavlm,
                 "--alm", "none", "-q"]) == 2
    assert "does not exist. Expected a RAVDESS folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate", "--dataset", "csv", "--root", str(tmp_path), "--alm", "none", "--fm", "none"])
    assert "nothing to evaluate" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate", "--dataset", "csv", "--root", str(tmp_path), "--grid", "na=0"])
    assert "integers >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate", "--dataset", "csv", "--root", str(tmp_path), "--grid", "depth=3"])
    assert "KEY=V1,V2" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate", "--dataset", "csv", "--root", str(tmp_path), "--prompt", "wut"])
    assert "LABEL=WORD" in capsys.readouterr().err


def test_cache_dir_is_passed_to_the_estimators(german_corpus, tmp_path):
    pytest.importorskip("opensmile")
    from sklearn_zsfuse import clear_caches

    clips = sorted(str(p) for p in (german_corpus / "audio").iterdir())[:2]
    cache = tmp_path / "cache"
    args = ["embed", "--fm", "egemaps", *clips, "--out", str(tmp_path / "x.npy"), "--cache-dir", str(cache), "-q"]
    assert main(args) == 0
    entries = list(cache.rglob("*.zsf"))
    assert len(entries) == 2  # one entry per clip
    first = np.load(tmp_path / "x.npy")
    clear_caches()  # a new run: only the disk cache remains
    assert main(args) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), first)
    assert sorted(cache.rglob("*.zsf")) == sorted(entries)


def test_the_console_script_is_declared():
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["zsfuse"] == "sklearn_zsfuse.cli:main"


def test_missing_matplotlib_is_reported_before_any_work(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(SystemExit):
        main(["evaluate", "--dataset", "csv", "--root", str(tmp_path), "--fm", "egemaps", "--alm", "none"])
    assert "pip install 'sklearn-zsfuse[plots]', or pass --no-plots" in capsys.readouterr().err
