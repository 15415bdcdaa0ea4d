"""The GPU benchmark script also runs on a CPU with tiny models (slow: builds models, imports torch twice)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_script_runs_on_cpu_with_small_models(tmp_path, ravdess_meta):
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "gpu.py"), "--device", "cpu", "--small",
         "--clips", "4", "--models-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for name in ("FMEmbedder (tiny WavLM)", "ALMZeroShotScorer (tiny)"):
        assert out.count(name) == 2  # float32 and bfloat16
    assert out.count("clips/s, real-time factor") == 4 and "batch_size=4" in out
    assert "bf16 vs float32" in out and "PASS" in out
