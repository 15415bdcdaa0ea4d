"""The example scripts run end to end on RAVDESS (slow: whole folds)."""

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name, *args):
    argv = sys.argv
    sys.argv = [str(EXAMPLES / name), *map(str, args)]
    try:
        runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    finally:
        sys.argv = argv


@pytest.mark.slow
def test_grid_search_example_selects_on_training_folds(ravdess_meta, capsys):
    pytest.importorskip("opensmile")
    from conftest import RAVDESS

    run_example("grid_search.py", RAVDESS, "--device", "cpu")
    out = capsys.readouterr().out
    assert "ravdess: 192 clips, 24 speakers, 6 folds" in out
    assert out.count("N_a=") == 6 and "| mean |" in out


@pytest.mark.slow
def test_deploy_example_round_trips_through_joblib(ravdess_meta, capsys, tmp_path):
    pytest.importorskip("opensmile")
    from conftest import RAVDESS

    run_example("deploy.py", RAVDESS, "--device", "cpu", "--out", tmp_path / "ser.joblib")
    out = capsys.readouterr().out
    assert "no weights" in out and "held-out fold 1 (64 clips" in out
    assert (tmp_path / "ser.joblib").stat().st_size < 200_000
