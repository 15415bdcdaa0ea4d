"""examples/fusion_cv.py runs end to end on RAVDESS (slow: features for 192 clips, six outer folds)."""

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "fusion_cv.py"


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_fusion_cv_example_prints_one_row_per_fold(ravdess_meta, capsys):
    pytest.importorskip("opensmile")
    from conftest import RAVDESS

    argv = sys.argv
    sys.argv = [str(EXAMPLE), str(RAVDESS), "--per-class", "1", "--device", "cpu"]
    try:
        runpy.run_path(str(EXAMPLE), run_name="__main__")
    finally:
        sys.argv = argv
    out = capsys.readouterr().out
    assert "ravdess: 192 clips, 24 speakers, 6 folds" in out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "'method'" in line]
    assert len(rows) == 6 and all("T = " in row for row in rows)
