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
