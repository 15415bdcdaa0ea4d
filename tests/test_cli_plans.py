"""Each command is check(args) -> plan, then run(plan); a user's mistake exits 2, a bug exits 1."""

import joblib
import numpy as np
import pytest

from sklearn_zsfuse.cli import build_parser, main

from test_cli_checks import _corpus, _one_line, _run


def test_evaluate_parses_every_option_once_into_its_plan(tmp_path):
    pytest.importorskip("opensmile")  # the plan checks that --fm egemaps can load
    from sklearn_zsfuse.cli import evaluate
    from sklearn_zsfuse.evaluation import Grid

    root = _corpus(tmp_path / "c", ["wut", "trauer", "wut", "trauer"])
    args = build_parser().parse_args([
        "evaluate", "--dataset", "csv", "--root", str(root), "--fm", "egemaps", "--alm", "none", "--no-plots",
        "--grid", "na=1,2", "w=0,1", "--prompt", "angry=angry,furious", "--label", "wut=angry", "trauer=sad",
        "--save-model", "specialist", "--workers", "2",
    ])
    plan = evaluate.check(args)
    assert plan.grid == Grid(audio_repeats=(1, 2), weights=(0.0, 1.0))
    assert plan.prompts == {"angry": ["angry", "furious"]}
    assert sorted(set(plan.corpus.labels)) == ["angry", "sad"]  # relabelled once, in the check
    assert plan.alms == [] and plan.fms == ["egemaps"] and plan.save_model == "specialist"
    assert plan.estimator_params == {"dtype": "float32", "n_workers": 2}
    assert plan.out.name == "csv" and plan.plots is False


def test_predict_reads_and_checks_the_model_in_its_check(tmp_path):
    from sklearn.linear_model import LogisticRegression

    from sklearn_zsfuse.cli import predict

    path = tmp_path / "model.joblib"
    joblib.dump(LogisticRegression().fit(np.eye(2), [0, 1]), path)
    plan = predict.check(build_parser().parse_args(["predict", str(path), "a.wav", "--format", "json"]))
    assert isinstance(plan.model, LogisticRegression) and plan.paths == ["a.wav"] and plan.format == "json"


def test_a_non_model_is_refused_before_the_run(tmp_path, capsys, monkeypatch):
    from sklearn_zsfuse.cli import predict

    def run(plan):
        raise AssertionError("the run started")

    monkeypatch.setattr(predict, "run", run)
    (tmp_path / "notes.txt").write_text("not a model")
    rc, err = _run(["predict", str(tmp_path / "notes.txt"), "a.wav"], capsys)
    assert rc == 2 and "cannot be read as a model" in _one_line(err)


def test_an_internal_value_error_exits_1_with_one_line(tmp_path, capsys, monkeypatch):
    """A ValueError inside the package is a bug, not the user's mistake (was: exit 2, as if it were)."""
    pytest.importorskip("opensmile")
    from sklearn_zsfuse.evaluation import runner

    def broken(*args, **kwargs):
        raise ValueError("an internal invariant broke")

    monkeypatch.setattr(runner, "run_study", broken)
    root = _corpus(tmp_path / "c", ["happy", "sad", "happy", "sad"])
    argv = ["evaluate", "--dataset", "csv", "--root", str(root), "--fm", "egemaps", "--alm", "none", "--no-plots",
            "-q", "--out", str(tmp_path / "out")]
    rc, err = _run(argv, capsys)
    assert rc == 1
    line = _one_line(err)
    assert line == ("zsfuse evaluate: unexpected ValueError: an internal invariant broke (run again with --debug "
                    "for the traceback)")
    with pytest.raises(ValueError, match="an internal invariant broke"):
        main(argv + ["--debug"])


def test_corpora_without_two_shared_classes_are_the_users_mistake(tmp_path, capsys):
    pytest.importorskip("opensmile")
    train = _corpus(tmp_path / "a", ["happy", "sad", "happy", "sad"])
    test = _corpus(tmp_path / "b", ["angry", "sad", "angry", "sad"])
    rc, err = _run(["evaluate", "--dataset", "csv", "--root", str(train), "--test-dataset", "csv", "--test-root",
                    str(test), "--fm", "egemaps", "--alm", "none", "--no-plots", "-q", "--out", str(tmp_path / "o")],
                   capsys)
    assert rc == 2 and "share 1 class(es)" in _one_line(err)


def test_an_undeployable_system_is_refused_before_the_evaluation(tmp_path, capsys):
    root = _corpus(tmp_path / "c", ["happy", "sad", "happy", "sad"])
    rc, err = _run(["evaluate", "--dataset", "csv", "--root", str(root), "--fm", "none", "--alm", "x/y",
                    "--save-model", "zero_shot+calibrated", "--no-plots", "-q"], capsys)
    assert rc == 2 and "zero_shot+calibrated has no deployable estimator of its own" in _one_line(err)


def test_python_m_runs_the_command():
    """``python -m sklearn_zsfuse.cli`` (docs/cli.md) is the command (was: 'cannot be directly executed')."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "sklearn_zsfuse.cli", "evaluate", "--dataset", "csv", "--root", ".",
                          "--alm", "none", "--fm", "none"], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 2 and "leave nothing to evaluate" in out.stderr
