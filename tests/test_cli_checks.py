"""The zsfuse command checks every argument before any work, and speaks one line on a user's mistake."""

import csv
import shutil
from pathlib import Path

import joblib
import numpy as np
import pytest

from sklearn_zsfuse.cli import main


@pytest.fixture
def no_encoding(monkeypatch):
    """Fail the test if any model encodes a clip or the evaluation starts."""
    import sklearn_zsfuse.engine as engine
    import sklearn_zsfuse.evaluation.runner as runner

    def refuse(*args, **kwargs):
        raise AssertionError("encoding started before the arguments were checked")

    monkeypatch.setattr(runner, "compute_feature_set", refuse)
    monkeypatch.setattr(engine, "run", refuse)  # every encode of either branch goes through it


def _corpus(root: Path, labels, *, broken=None) -> Path:
    """A csv corpus of real RAVDESS clips, 2 speakers; ``broken``: index of a clip made undecodable."""
    from conftest import RAVDESS

    sources = sorted((RAVDESS / "Actor_01").glob("*.flac"))[: len(labels) // 2] + sorted(
        (RAVDESS / "Actor_02").glob("*.flac")
    )[: len(labels) - len(labels) // 2]
    (root / "audio").mkdir(parents=True)
    rows = []
    for i, (src, label) in enumerate(zip(sources, labels)):
        target = root / "audio" / f"clip{i:02d}.flac"
        if i == broken:
            target.write_bytes(src.read_bytes()[:3000])  # a header, then nothing: cannot be decoded
        else:
            shutil.copy(src, target)
        rows.append((f"audio/{target.name}", label, "a" if i < len(labels) // 2 else "b"))
    with open(root / "metadata.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label", "speaker"])
        writer.writerows(rows)
    return root


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _run(argv, capsys) -> tuple[int, str]:
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    return rc, capsys.readouterr().err


# -- models are checked before any clip is read -------------------------------------------

@pytest.mark.parametrize("option", ["--fm", "--alm"])
def test_a_missing_model_directory_fails_before_any_encoding(option, tmp_path, capsys, no_encoding):
    other = "--alm" if option == "--fm" else "--fm"
    argv = ["evaluate", "--dataset", "csv", "--root", str(tmp_path), option, str(tmp_path / "no-such-model"),
            other, "none", "--no-plots", "-q"]
    rc, err = _run(argv, capsys)
    assert rc == 2
    line = _one_line(err)
    assert option in line and "no-such-model" in line and "does not exist" in line


def test_a_directory_that_is_no_checkpoint_is_refused_up_front(tmp_path, capsys, no_encoding):
    (tmp_path / "empty-model").mkdir()
    rc, err = _run(["embed", "--fm", str(tmp_path / "empty-model"), str(tmp_path / "x.wav"),
                    "--out", str(tmp_path / "x.npy")], capsys)
    assert rc == 2
    assert "not a loadable checkpoint directory" in _one_line(err)


def test_offline_a_hub_id_not_in_the_cache_is_refused_up_front(tmp_path, capsys, monkeypatch, no_encoding):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rc, err = _run(["embed", "--fm", "nobody/no-such-model", str(tmp_path / "x.wav"),
                    "--out", str(tmp_path / "x.npy")], capsys)
    assert rc == 2
    line = _one_line(err)
    assert "nobody/no-such-model" in line and "HF_HUB_OFFLINE" in line


def test_a_local_tiny_model_passes_the_checks(tiny_wavlm, tiny_clap):
    from sklearn_zsfuse.encoders.checks import check_alm, check_fm

    check_fm(tiny_wavlm, "--fm")
    check_alm(tiny_clap, "--alm")
    try:
        import opensmile  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"sklearn-zsfuse\[egemaps\]"):
            check_fm("egemaps", "--fm")
    else:
        check_fm("egemaps", "--fm")


# -- every argument is checked before any work -------------------------------------------

def test_a_misspelt_save_model_fails_before_evaluation(tmp_path, capsys, no_encoding):
    root = _corpus(tmp_path / "c", ["happy", "sad", "happy", "sad"])
    rc, err = _run(["evaluate", "--dataset", "csv", "--root", str(root), "--fm", "egemaps", "--alm", "none",
                    "--save-model", "zsfuse", "--no-plots", "-q"], capsys)
    assert rc == 2
    line = _one_line(err)
    assert "'zsfuse'" in line and "specialist" in line


def test_a_misspelt_save_model_is_answered_before_the_heavy_imports():
    """Issue 12: answered at once (was: after the whole evaluation). No timing: what it imports."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from sklearn_zsfuse.cli import main\n"
        "try:\n"
        "    main(['evaluate', '--dataset', 'csv', '--root', '.', '--fm', 'egemaps', '--alm', 'none',"
        " '--save-model', 'zsfuse'])\n"
        "except SystemExit as stop:\n"
        "    print(stop.code, sorted(m for m in ('sklearn', 'torch', 'scipy', 'transformers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split("\n")[0] == "2 []", out.stdout + out.stderr
    assert "'zsfuse' is not a system (did you mean 'zs_fuse'?)" in out.stderr


def test_save_model_names_only_the_systems_this_run_makes(tmp_path, capsys, no_encoding):
    root = _corpus(tmp_path / "c", ["happy", "sad", "happy", "sad"])
    rc, err = _run(["evaluate", "--dataset", "csv", "--root", str(root), "--fm", "egemaps", "--alm", "none",
                    "--save-model", "zs_fuse", "--no-plots", "-q"], capsys)
    assert rc == 2 and "needs both --alm and --fm" in _one_line(err)
    rc, err = _run(["evaluate", "--dataset", "csv", "--root", str(root), "--fm", "none", "--alm", "x/y",
                    "--save-model", "specialist", "--no-plots", "-q"], capsys)
    assert rc == 2 and "'specialist' needs --fm; this run makes ['zero_shot'" in _one_line(err)


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["embed", "--fm", "egemaps", "--fm", "egemaps", "a.wav", "--out", "x.npy"], "--fm given twice"),
        (["embed", "--fm", "egemaps", "a.wav", "--out", "x.npy", "--out", "y.npy"], "--out given twice"),
        (["evaluate", "--dataset", "csv", "--root", ".", "--grid", "na=1", "--grid", "nt=2"], "--grid given twice"),
        (["evaluate", "--dataset", "csv", "--root", ".", "--device", "cpu", "--device", "cuda"], "--device given twice"),
        (["embed", "--fm", "egemaps", "a.wav", "--out", "x.npy", "--batch-size", "0"], "--batch-size"),
        (["embed", "--fm", "egemaps", "a.wav", "--out", "x.npy", "--layer", "last"], "--layer"),
        (["embed", "--fm", "egemaps", "a.wav", "--out", "x.npy", "--device", "gpu"], "--device"),
        (["evaluate", "--dataset", "csv", "--root", ".", "--limit", "0"], "--limit"),
        (["evaluate", "--dataset", "csv", "--root", ".", "--subset", "actor"], "--subset"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(argv, expected, capsys, no_encoding):
    rc, err = _run(argv, capsys)
    assert rc == 2
    assert expected in _one_line(err)


def test_model_lists_accept_repeats_and_several_values():
    from sklearn_zsfuse.cli import build_parser

    parser = build_parser()
    a = parser.parse_args(["evaluate", "--dataset", "csv", "--root", ".", "--fm", "a", "--fm", "b"])
    b = parser.parse_args(["evaluate", "--dataset", "csv", "--root", ".", "--fm", "a", "b"])
    assert a.fm == b.fm == ["a", "b"]
    default = parser.parse_args(["evaluate", "--dataset", "csv", "--root", "."])
    assert default.fm == ["microsoft/wavlm-large"]  # the default is replaced, not extended
    assert parser.parse_args(["evaluate", "--dataset", "csv", "--root", ".", "--fm", "x"]).fm == ["x"]


# -- user errors found while working: one line, rc 2 -------------------------------------

def test_evaluate_on_a_corpus_with_one_class(tmp_path, capsys, no_encoding):
    pytest.importorskip("opensmile")
    root = _corpus(tmp_path / "c", ["happy"] * 4)
    rc, err = _run(["evaluate", "--dataset", "csv", "--root", str(root), "--fm", "egemaps", "--alm", "none",
                    "--no-plots", "-q"], capsys)
    assert rc == 2
    line = _one_line(err)
    assert "one class" in line and "happy" in line


def test_evaluate_on_a_corpus_with_an_undecodable_clip(tmp_path, capsys):
    pytest.importorskip("opensmile")
    root = _corpus(tmp_path / "c", ["happy", "sad", "happy", "sad"], broken=1)
    rc, err = _run(["evaluate", "--dataset", "csv", "--root", str(root), "--fm", "egemaps", "--alm", "none",
                    "--no-plots", "-q"], capsys)
    assert rc == 2
    line = _one_line(err)
    assert line.startswith("zsfuse evaluate: ") and "clip01.flac" in line and "cannot be used" in line


@pytest.fixture
def some_clip():
    from conftest import RAVDESS

    return str(sorted((RAVDESS / "Actor_01").glob("*.flac"))[0])


@pytest.mark.parametrize("kind", ["csv", "audio", "truncated"])
def test_predict_on_a_file_that_is_no_model(kind, tmp_path, capsys, some_clip):
    from sklearn.linear_model import LogisticRegression

    if kind == "csv":
        model = tmp_path / "metadata.csv"
        model.write_text("path,label,speaker\naudio/a.wav,happy,a\n")
    elif kind == "audio":
        model = Path(some_clip)
    else:
        model = tmp_path / "model.joblib"
        joblib.dump(LogisticRegression().fit(np.eye(2), [0, 1]), model)
        data = model.read_bytes()
        model.write_bytes(data[: len(data) // 2])
    rc, err = _run(["predict", str(model), some_clip], capsys)
    assert rc == 2
    line = _one_line(err)
    assert line.startswith("zsfuse predict: ") and str(model) in line and "cannot be read as a model" in line


def test_an_unexpected_error_is_one_line_unless_debug(monkeypatch, tmp_path, capsys, some_clip):
    import sklearn_zsfuse.cli as cli

    def broken(plan):
        raise RuntimeError("something inside broke")

    monkeypatch.setattr(cli.predict, "check", lambda args: None)
    monkeypatch.setattr(cli.predict, "run", broken)
    rc, err = _run(["predict", str(tmp_path / "m.joblib"), some_clip], capsys)
    assert rc == 1
    line = _one_line(err)
    assert "RuntimeError: something inside broke" in line and "--debug" in line
    with pytest.raises(RuntimeError, match="something inside broke"):
        main(["predict", str(tmp_path / "m.joblib"), some_clip, "--debug"])


# -- subsets, layers and the run's display -------------------------------------------------

def test_subset_and_limit_narrow_the_corpus(tmp_path, capsys):
    pytest.importorskip("opensmile")
    pytest.importorskip("pyarrow")
    import pandas as pd

    root = _corpus(tmp_path / "c", ["happy", "sad", "angry", "happy", "sad", "angry"])
    out = tmp_path / "x.parquet"
    base = ["embed", "--fm", "egemaps", "--dataset", "csv", "--root", str(root), "--out", str(out), "-q"]
    assert main(base + ["--subset", "label=happy,sad"]) == 0
    frame = pd.read_parquet(out)
    assert sorted(frame.label) == ["happy", "happy", "sad", "sad"]
    assert main(base + ["--subset", "label=happy,sad", "speaker=a"]) == 0
    assert sorted(pd.read_parquet(out).label) == ["happy", "sad"]
    assert main(base + ["--limit", "2"]) == 0
    frame = pd.read_parquet(out)
    # spread over speakers and labels, not the first two clips
    assert len(frame) == 2 and sorted(frame.speaker) == ["a", "b"] and frame.label.nunique() == 2
    capsys.readouterr()
    assert main(base + ["--subset", "label=joy"]) == 2
    assert "no label ['joy']" in _one_line(capsys.readouterr().err)


def test_embed_several_layers_from_one_pass(tiny_wavlm, tmp_path, some_clip):
    out = tmp_path / "x.npy"
    assert main(["embed", "--fm", tiny_wavlm, some_clip, "--layer", "0", "-1", "--out", str(out), "-q",
                 "--device", "cpu"]) == 0
    from sklearn_zsfuse import FMEmbedder

    X = np.load(out)
    first = FMEmbedder(tiny_wavlm, layer=0, device="cpu").fit_transform([some_clip])
    last = FMEmbedder(tiny_wavlm, layer=-1, device="cpu").fit_transform([some_clip])
    np.testing.assert_allclose(X, np.hstack([first, last]), rtol=1e-5)


def test_a_layer_out_of_range_is_refused_before_encoding(tiny_wavlm, tmp_path, capsys, no_encoding, some_clip):
    rc, err = _run(["embed", "--fm", tiny_wavlm, some_clip, "--layer", "40", "--out", str(tmp_path / "x.npy")],
                   capsys)
    assert rc == 2 and "--layer 40 is out of range" in _one_line(err)


def test_the_command_shows_plain_progress_lines_in_a_log_file(tmp_path, capsys, some_clip):
    pytest.importorskip("opensmile")
    out = tmp_path / "x.npy"
    assert main(["embed", "--fm", "egemaps", some_clip, "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "\r" not in captured.err and "\x1b" not in captured.err  # stderr is not a terminal here
    assert "FMEmbedder: 1/1 clips done" in captured.err
    assert all(line.startswith("[") for line in captured.err.splitlines())
    assert captured.out.startswith("1 x 88 embeddings")  # stdout holds results only
    assert main(["embed", "--fm", "egemaps", some_clip, "--out", str(out), "-q"]) == 0
    assert capsys.readouterr().err == ""


def test_the_command_restores_the_library_bars(tmp_path, some_clip):
    pytest.importorskip("opensmile")
    hf_logging = pytest.importorskip("transformers.utils.logging")
    assert hf_logging.is_progress_bar_enabled()
    assert main(["embed", "--fm", "egemaps", some_clip, "--out", str(tmp_path / "x.npy"), "-q"]) == 0
    assert hf_logging.is_progress_bar_enabled()


def test_warnings_are_one_line_each_and_shown_once(monkeypatch, tmp_path, capsys, some_clip):
    import warnings as w

    import sklearn_zsfuse.cli as cli

    def noisy(plan):
        for _ in range(3):
            w.warn("the same thing\nover two lines", UserWarning)
        return 0

    monkeypatch.setattr(cli.predict, "check", lambda args: None)
    monkeypatch.setattr(cli.predict, "run", noisy)
    filters = list(w.filters)
    assert main(["predict", str(tmp_path / "m.joblib"), some_clip, "-q"]) == 0
    assert _one_line(capsys.readouterr().err) == "zsfuse predict: UserWarning: the same thing; over two lines"
    assert w.filters == filters


def test_a_missing_checkpoint_file_is_named_as_a_file(tmp_path, capsys, no_encoding):
    rc, err = _run(["embed", "--alm", "laion_clap_music.pt", str(tmp_path / "x.wav"), "--out",
                    str(tmp_path / "x.npy")], capsys)
    assert rc == 2
    assert "the checkpoint file 'laion_clap_music.pt' does not exist" in _one_line(err)


def test_an_explicit_device_that_is_absent_is_a_mistake_not_a_slow_run(tiny_wavlm, tmp_path, capsys, some_clip,
                                                                       monkeypatch):
    # Issue 18: `--device cuda` on a machine without CUDA ran on the CPU after a warning
    # and exited 0; an explicit device that is not there is one line and exit 2.
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "x.npy"
    rc = main(["embed", "--fm", tiny_wavlm, str(some_clip), "--out", str(out), "--device", "cuda", "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert "device='cuda' was asked for, but CUDA is not available" in err[0]
    assert not out.exists()
    assert main(["embed", "--fm", tiny_wavlm, str(some_clip), "--out", str(out), "--device", "auto", "-q"]) == 0


def test_a_layer_the_loaded_model_lacks_is_the_users_mistake(tmp_path, capsys, some_clip):
    # Where the layer count is not known before loading (a registered model that does not
    # declare it, a hub id not cached yet), the embedder finds out at fit: still exit 2.
    from test_alm_registry import ToySpecialist

    from sklearn_zsfuse.encoders import register_fm, unregister_fm

    register_fm("toy-fm-undeclared", lambda ref, **kw: ToySpecialist(ref))
    try:
        rc = main(["embed", "--fm", "toy-fm-undeclared", str(some_clip), "--layer", "7", "--out",
                   str(tmp_path / "x.npy"), "-q"])
    finally:
        unregister_fm("toy-fm-undeclared")
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "layer=7 is out of range" in err[0], err
