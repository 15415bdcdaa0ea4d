"""Saved models that still work when moved (issue 18 item 4), and model names that fail fast.

- ``save_model`` (and ``zsfuse evaluate --save-model``) record a model directory as an
  absolute path, hub ids and registered names as given; the estimator saved keeps its
  own value.
- ``zsfuse predict`` runs from any directory, re-points a moved model with
  ``--model-dir NAME=DIR`` and takes ``--device``.
- A name that can only be a local path and is not there (``tiny-clpa``, ``egemap``)
  fails at once, in one line that says where the name came from and suggests near
  names (directories there, registered names), without touching the network.
"""

from __future__ import annotations

import csv
import io
import shutil
import socket

import joblib
import pytest
import soundfile as sf

from sklearn_zsfuse import ALMZeroShotScorer, FMEmbedder, make_zsfuse_pipeline
from sklearn_zsfuse.cli import main
from sklearn_zsfuse.encoders import ModelLoadError
from sklearn_zsfuse.estimators.persistence import save_model


@pytest.fixture
def no_network(monkeypatch):
    """Every connection attempt is recorded and refused; the hub is 'online' (no HF_HUB_OFFLINE)."""
    attempts = []

    def refuse(self, address, *args):
        attempts.append(address)
        raise OSError("the network is off in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    return attempts


@pytest.fixture
def place(tmp_path, tiny_clap, tiny_wavlm, monkeypatch):
    """A project directory holding the models under relative names, as README makes them; cwd there."""
    project = tmp_path / "project"
    shutil.copytree(tiny_clap, project / "tiny-clap")
    shutil.copytree(tiny_wavlm, project / "tiny-wavlm")
    monkeypatch.chdir(project)
    return project


@pytest.fixture
def clips(sine_clips, tmp_path):
    waves, sr = sine_clips
    paths = []
    for i, w in enumerate(waves):
        paths.append(str(tmp_path / f"clip{i}.wav"))
        sf.write(paths[-1], w, sr)
    return paths


def _fitted_pipeline(clips):
    pipe = make_zsfuse_pipeline("tiny-clap", "tiny-wavlm", device="cpu", classes=["angry", "happy", "sad"])
    return pipe.fit(clips * 2, ["angry", "happy", "sad"] * 2)


def _predict(argv, capsys):
    from sklearn_zsfuse import clear_models

    clear_models()  # as in a fresh process: no model loaded under the name the file holds
    capsys.readouterr()  # what came before (the fit's "Loading weights" bars) is not the command's
    rc = main(["predict", *argv])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def test_save_model_records_model_directories_as_absolute_paths(place, clips):
    pipe = _fitted_pipeline(clips)
    save_model(pipe, place / "model.joblib")
    loaded = joblib.load(place / "model.joblib")
    assert loaded.get_params()["features__zs__model"] == str(place / "tiny-clap")
    assert loaded.get_params()["features__fm__model"] == str(place / "tiny-wavlm")
    # the estimator saved keeps the value it was given
    assert pipe.get_params()["features__zs__model"] == "tiny-clap"


def test_save_model_keeps_hub_ids_and_registered_names(place):
    (place / "egemaps").mkdir()  # a folder named like a registered model does not make it a path
    est = make_zsfuse_pipeline("laion/clap-htsat-unfused", "egemaps")
    save_model(est, place / "m.joblib")
    params = joblib.load(place / "m.joblib").get_params()
    assert params["features__zs__model"] == "laion/clap-htsat-unfused"
    assert params["features__fm__model"] == "egemaps"


def test_a_saved_model_predicts_from_another_directory(place, clips, tmp_path, monkeypatch, capsys):
    pipe = _fitted_pipeline(clips)
    expected = [str(v) for v in pipe.predict(clips)]
    save_model(pipe, place / "model.joblib")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    rc, out, err = _predict([str(place / "model.joblib"), *clips, "-q"], capsys)
    assert rc == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert [r[1] for r in rows[1:]] == expected


def test_predict_model_dir_repoints_a_moved_model(place, clips, tmp_path, monkeypatch, capsys, no_network):
    pipe = _fitted_pipeline(clips)
    expected = [str(v) for v in pipe.predict(clips)]
    save_model(pipe, place / "model.joblib")
    moved = tmp_path / "moved"
    shutil.move(place / "tiny-clap", moved / "clap")
    monkeypatch.chdir(tmp_path)
    rc, out, err = _predict([str(place / "model.joblib"), *clips, "-q"], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert f"{place / 'model.joblib'}" in err and "features__zs__model" in err
    assert "--model-dir" in err and not no_network
    for name in ("tiny-clap", str(place / "tiny-clap")):  # the last part of the saved path, or all of it
        rc, out, err = _predict([str(place / "model.joblib"), *clips, "--model-dir", f"{name}={moved / 'clap'}",
                                 "-q"], capsys)
        assert rc == 0, err
        assert [r[1] for r in list(csv.reader(io.StringIO(out)))[1:]] == expected


def test_predict_model_dir_must_name_a_model_of_the_file(place, clips, capsys):
    save_model(_fitted_pipeline(clips), place / "model.joblib")
    with pytest.raises(SystemExit) as exit_:
        main(["predict", "model.joblib", *clips, "--model-dir", f"tiny-clp={place / 'tiny-clap'}"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "--model-dir tiny-clp" in err and "tiny-clap" in err and "tiny-wavlm" in err


def test_predict_device_that_is_absent_is_one_line_and_exit_2(place, clips, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    save_model(_fitted_pipeline(clips), place / "model.joblib")
    rc, out, err = _predict(["model.joblib", *clips, "--device", "cuda"], capsys)
    assert rc == 2 and "cuda" in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("option, name, near", [("--alm", "tiny-clpa", "tiny-clap"), ("--fm", "egemap", "egemaps"),
                                                ("--fm", "./tiny-wavln", "./tiny-wavlm")])
def test_an_unknown_local_name_is_one_line_naming_near_names_without_the_hub(place, capsys, no_network, option,
                                                                             name, near):
    (place / "clip.wav").touch()
    rc = main(["embed", option, name, "clip.wav", "--out", "x.npy"])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert f"{option}={name!r}" in err and f"Did you mean {near!r}" in err
    assert not no_network  # answered from the file system and the registry alone


def test_the_library_refuses_an_unknown_local_name_before_the_hub(place, no_network):
    with pytest.raises(ModelLoadError, match="Did you mean 'tiny-clap'"):
        ALMZeroShotScorer("tiny-clpa", classes=["a", "b"]).fit()
    with pytest.raises(ModelLoadError, match="Did you mean 'tiny-wavlm'"):
        FMEmbedder("tiny-wavln").fit()
    assert not no_network


def test_predict_says_a_name_came_from_the_file(place, clips, tmp_path, monkeypatch, capsys, no_network):
    pipe = _fitted_pipeline(clips)
    expected = [str(v) for v in pipe.predict(clips)]
    joblib.dump(pipe, place / "old.joblib")  # saved as given, relative, as before issue 18
    monkeypatch.chdir(tmp_path)
    rc, out, err = _predict([str(place / "old.joblib"), *clips], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert "old.joblib" in err and "features__zs__model='tiny-clap'" in err and "--model-dir tiny-clap=DIR" in err
    assert not no_network
    rc, out, err = _predict([str(place / "old.joblib"), *clips, "--model-dir", f"tiny-clap={place / 'tiny-clap'}",
                             "--model-dir", f"tiny-wavlm={place / 'tiny-wavlm'}", "-q"], capsys)
    assert rc == 0, err
    assert [r[1] for r in list(csv.reader(io.StringIO(out)))[1:]] == expected
