"""Long-clip scaling of FMEmbedder: a 240 s clip against a 120 s clip, time and peak memory.

Tiny random WavLM (``sklearn_zsfuse.testing.make_tiny_wavlm``: 50 frames/s),
``max_duration=None``. Each measurement runs in a fresh process so that its peak
RSS is its own: growth = peak RSS during ``transform`` minus RSS before it (model
loaded, waveform in memory, one warm-up clip encoded).

Acceptance (issue 9): with chunking (the default ``chunk_seconds=30``), 240 s takes
<= 2.5x the time of 120 s, and its peak memory growth is within 1.25x + 100 MB of
the 120 s clip's. ``--unchunked`` adds the same figures with ``chunk_seconds=None``
(quadratic self-attention) for comparison.

    python benchmarks/long_clips.py [--unchunked] [--repeats 3]
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from _common import REPO, Timer, base_parser, header


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(seconds: float, chunk: float | None, models_dir: str, threads: int) -> None:
    import resource

    import numpy as np
    import torch

    if threads:
        torch.set_num_threads(threads)
    sys.path.insert(0, str(REPO))
    from sklearn_zsfuse import FMEmbedder
    from sklearn_zsfuse.testing import make_tiny_wavlm

    from pathlib import Path

    path = Path(models_dir) / "tiny-wavlm"
    if not (path / "config.json").exists():
        make_tiny_wavlm(path)
    sr = 16000
    emb = FMEmbedder(str(path), sampling_rate=sr, max_duration=None, chunk_seconds=chunk, device="cpu", n_workers=1).fit()
    emb.transform([np.zeros(sr, np.float32) + 0.01])  # warm-up: allocator, kernels
    wave = (0.1 * np.random.default_rng(0).standard_normal(int(seconds * sr))).astype(np.float32)
    before = _rss_mb()
    with Timer() as t:
        emb.transform([wave])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    print(json.dumps({"seconds": t.seconds, "growth_mb": max(0.0, peak - before)}))


def measure(seconds, chunk, args) -> dict:
    cmd = [sys.executable, __file__, "--child", str(seconds), "--models-dir", str(args.models_dir),
           "--threads", str(args.threads)]
    if chunk is None:
        cmd.append("--unchunked")
    runs = []
    for _ in range(args.repeats):
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    # The fastest run: the others waited for a busy core. Memory does not vary.
    return {"seconds": min(r["seconds"] for r in runs), "growth_mb": max(r["growth_mb"] for r in runs)}


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--child", type=float, help=argparse_hidden())
    parser.add_argument("--unchunked", action="store_true", help="also measure chunk_seconds=None")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (the fastest is kept)")
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, None if args.unchunked else 30.0, str(args.models_dir), args.threads)
        return
    header("FMEmbedder on long clips: 240 s vs 120 s (tiny WavLM, max_duration=None)", None)
    modes = [("chunk_seconds=30", 30.0)] + ([("chunk_seconds=None", None)] if args.unchunked else [])
    t0 = time.perf_counter()
    for label, chunk in modes:
        short, long = measure(120, chunk, args), measure(240, chunk, args)
        ratio = long["seconds"] / short["seconds"]
        bound = 1.25 * short["growth_mb"] + 100
        ok = ratio <= 2.5 and long["growth_mb"] <= bound
        print(
            f"{label:18s} 120 s: {short['seconds']:6.2f} s, +{short['growth_mb']:7.1f} MB | "
            f"240 s: {long['seconds']:6.2f} s, +{long['growth_mb']:7.1f} MB | time x{ratio:.2f} (<= 2.5), "
            f"memory {long['growth_mb']:.1f} MB vs bound {bound:.1f} MB"
            + (f"  {'PASS' if ok else 'FAIL'}" if chunk is not None else "")
        )
    print(f"total {time.perf_counter() - t0:.0f} s")


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
