"""The GPU benchmark script also runs on a CPU with tiny models (a subprocess: builds models, imports torch)."""

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_gpu_script_runs_on_cpu_with_small_models(tmp_path, ravdess_meta):
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "gpu.py"), "--device", "cpu", "--small",
         "--clips", "4", "--models-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    rows = re.findall(
        r"^(FMEmbedder \(tiny WavLM\)|ALMZeroShotScorer \(tiny\)) +(float32|bfloat16) *: feed +([\d.]+) \| "
        r"forward +([\d.]+) \| end to end +([\d.]+) clips/s, real-time factor ([\d.]+), batch_size=4$",
        out, flags=re.MULTILINE,
    )
    # each model at both dtypes, three positive rates per row
    assert sorted((name, dtype) for name, dtype, *_ in rows) == sorted(
        (name, dtype) for name in ("FMEmbedder (tiny WavLM)", "ALMZeroShotScorer (tiny)")
        for dtype in ("float32", "bfloat16")
    ), out
    assert all(float(rate) > 0 for row in rows for rate in row[2:5])
    assert "bf16 vs float32" in out and "PASS" in out


def test_scale_script_runs_small(tmp_path):
    """benchmarks/scale.py end to end on 240 clips, small layers (its figures at 10^5 clips: benchmarks/README.md)."""
    before = ["--before", "HEAD", "--before-clips", "120,240"] if (REPO / ".git").exists() else []
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "scale.py"), "--clips", "240", "--dim", "16", "--layers", "3",
         "--hidden", "8", "--workdir", str(tmp_path), *before],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert re.search(r"RESULT warm_seconds=[\d.]+ cold_seconds=[\d.]+", out), out
    resumed = re.search(r"RESULT resume_encoded=(\d+) missing=(\d+)", out)
    assert resumed and resumed.group(1) == resumed.group(2), out  # the rerun encodes exactly what was missing
    assert "a sweep of 3 layers x 8 floats" in out and re.search(r"RESULT peak_rss_mb=\d+", out), out
    if before:
        assert "before/after: peak RSS" in out and "package-HEAD" in out, out
    assert list(tmp_path.iterdir()) == []  # the corpus and the exported package are deleted
