"""``zsfuse predict`` and model files: .skops read without running code, pickles said to run code,
one line and exit 2 for every file that is not a usable model."""

from __future__ import annotations

import csv
import io
import os
import pickle

import joblib
import numpy as np
import pytest
import soundfile as sf
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sklearn_zsfuse import ALMZeroShotScorer
from sklearn_zsfuse.cli import build_parser, main

sio = pytest.importorskip("skops.io")


@pytest.fixture
def clips(sine_clips, tmp_path):
    waves, sr = sine_clips
    paths = []
    for i, w in enumerate(waves):
        paths.append(str(tmp_path / f"clip{i}.wav"))
        sf.write(paths[-1], w, sr)
    return paths


@pytest.fixture
def scorer(tiny_clap):
    return ALMZeroShotScorer(tiny_clap, classes=["angry", "happy", "sad"], device="cpu").fit()


def _run(argv, capsys):
    rc = main(argv)
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def test_help_says_pickles_run_code_and_skops_does_not(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["predict", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "RUNS WHATEVER CODE IT HOLDS" in text and "Only load pickles you made yourself" in text
    assert ".skops" in text and "without running code" in text


def test_predict_reads_a_skops_file(scorer, clips, tmp_path, capsys):
    path = tmp_path / "model.skops"
    sio.dump(scorer, path)
    rc, out, err = _run(["predict", str(path), *clips], capsys)
    assert rc == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["path", "label", "p_angry", "p_happy", "p_sad"] and len(rows) == 1 + len(clips)
    assert [r[1] for r in rows[1:]] == [str(v) for v in scorer.predict(clips)]


class _NotTrusted(TransformerMixin, BaseEstimator):
    built = []

    def __setstate__(self, state):
        _NotTrusted.built.append(state)
        self.__dict__.update(state)

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X


def test_a_skops_file_with_untrusted_types_is_refused_by_name(tmp_path, clips, capsys):
    pipe = make_pipeline(_NotTrusted(), LogisticRegression()).fit(np.eye(3), [0, 1, 1])
    path = tmp_path / "foreign.skops"
    sio.dump(pipe, path)
    _NotTrusted.built.clear()
    rc, out, err = _run(["predict", str(path), *clips], capsys)
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and "not trusted" in err and "test_cli_predict._NotTrusted" in err
    assert _NotTrusted.built == []  # never constructed


def test_a_crafted_skops_file_is_one_line_and_exit_2(tiny_clap, sine_clips, clips, tmp_path, capsys):
    from test_untrusted_model_files import forge

    waves, sr = sine_clips
    est = ALMZeroShotScorer(tiny_clap, sampling_rate=sr, device="cpu", store_weights_in_pickle=True)
    est.fit(waves, np.array(["angry", "sad", "happy"]))
    target = tmp_path / "outside" / "pwned"
    path = tmp_path / "crafted.skops"
    path.write_bytes(forge(sio.dumps(est), add={str(target): "config.json"}))
    rc, out, err = _run(["predict", str(path), *clips], capsys)
    assert rc == 2 and err.count("\n") == 1 and "refusing to unpack" in err
    assert not target.parent.exists()


class _Ran:
    def __reduce__(self):  # what a hostile pickle does: any call; here a harmless one returning an int
        return (int, ("7",))


@pytest.mark.parametrize("payload", [7, _Ran(), {"not": "a model"}, LogisticRegression], ids=["int", "reduce", "dict", "class"])
def test_a_pickle_that_is_not_an_estimator_is_one_line_and_exit_2(payload, clips, tmp_path, capsys):
    path = tmp_path / "model.joblib"
    joblib.dump(payload, path)
    rc, out, err = _run(["predict", str(path), *clips], capsys)
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and "not a fitted estimator with predict()" in err


def test_save_model_from_evaluate_replaces_the_file_atomically(scorer, tmp_path):
    from sklearn_zsfuse.estimators.persistence import save_model

    target = tmp_path / "model.joblib"
    target.write_bytes(b"previous model")
    save_model(scorer, target)
    assert joblib.load(target).classes_.tolist() == ["angry", "happy", "sad"]
    assert sorted(os.listdir(tmp_path)) == ["model.joblib"]
    assert pickle.loads(pickle.dumps(scorer)).get_params() == scorer.get_params()
