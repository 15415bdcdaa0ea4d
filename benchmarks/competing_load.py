"""README command 1's evaluation on a RAVDESS subset, alone and beside a competing CPU load (issue 18, item 1).

Runs ``zsfuse evaluate --dataset ravdess --fm egemaps ge2e --layer 0 1 2 all
--specialist-pairs --alm tiny-clap`` (README's first command) on ``--limit`` clips four times, each in a fresh process with a
memory-only cache (so every run encodes the same clips): with the package's thread
default (``--threads`` not given: 1 BLAS/OpenMP thread for the classifiers' fits) and
with ``--threads -1`` (the libraries' own setting, one thread per core), each once on
the machine as it is ("quiet") and once beside ``--busy`` pure-Python spin loops
started here and killed after. Prints each run's evaluation time (``config.seconds``
of results.json) and, per thread setting, the loaded / quiet ratio, with the CPU,
whether it has avx512_bf16, and the load average before each run.

"Quiet" is only as quiet as the machine: on a shared machine other jobs count as
load in both halves; read the load averages printed beside each run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import DEFAULT_DATA, REPO, machine


def _busy(n: int) -> list:
    """``n`` processes that spin on a core each until killed."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def _stop(processes) -> None:
    for p in processes:
        p.kill()
    for p in processes:
        p.wait()


def _evaluate(args, clap: str, out: Path, threads: str | None) -> tuple[float, float]:
    """(evaluation seconds from results.json, wall seconds of the process)."""
    command = [sys.executable, "-m", "sklearn_zsfuse.cli", "evaluate", "--dataset", "ravdess",
               "--root", str(args.data), "--fm", *args.fm, "--alm", clap, "--limit", str(args.limit),
               "--out", str(out), "--no-plots", "-q"]
    if args.layer:
        command += ["--layer", *args.layer]
    if args.specialist_pairs:
        command += ["--specialist-pairs"]
    if threads is not None:
        command += ["--threads", threads]
    t0 = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL)  # the table: read from results.json
    wall = time.perf_counter() - t0
    doc = json.loads((out / "results.json").read_text())
    return float(doc["config"]["seconds"]), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="RAVDESS directory (with metadata.csv)")
    parser.add_argument("--limit", type=int, default=48, help="clips of RAVDESS evaluated (zsfuse evaluate --limit)")
    parser.add_argument("--busy", type=int, default=2, help="competing spin-loop processes")
    parser.add_argument("--fm", nargs="+", default=["egemaps", "ge2e"], help="specialists (README: egemaps ge2e)")
    parser.add_argument("--layer", nargs="*", default=["0", "1", "2", "all"], help="README: 0 1 2 all")
    parser.add_argument("--no-specialist-pairs", dest="specialist_pairs", action="store_false",
                        help="leave out README's --specialist-pairs")
    args = parser.parse_args()
    from sklearn_zsfuse.testing import make_tiny_clap

    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    print(f"machine: {machine()}")
    print(f"avx512_bf16: {'yes' if 'avx512_bf16' in cpuinfo else 'no'}; {args.busy} busy processes; "
          f"--limit {args.limit}; --fm {' '.join(args.fm)} --layer {' '.join(args.layer) or '(default)'}"
          f"{' --specialist-pairs' if args.specialist_pairs else ''} --alm tiny-clap", flush=True)
    results = {}
    with tempfile.TemporaryDirectory(prefix="zsfuse-competing-") as tmp:
        clap = str(make_tiny_clap(Path(tmp) / "tiny-clap"))
        for threads, name in ((None, "package default (1 thread)"), ("-1", "--threads -1 (libraries' own)")):
            for loaded in (False, True):
                load = os.getloadavg()[0]
                busy = _busy(args.busy) if loaded else []
                try:
                    seconds, wall = _evaluate(args, clap, Path(tmp) / f"out-{threads}-{loaded}", threads)
                finally:
                    _stop(busy)
                results[(name, loaded)] = seconds
                print(f"{name:32s} {'loaded' if loaded else 'quiet ':6s}: evaluation {seconds:7.1f} s "
                      f"(process {wall:6.1f} s), load average {load:.1f} before", flush=True)
    for name in ("package default (1 thread)", "--threads -1 (libraries' own)"):
        quiet, loaded = results[(name, False)], results[(name, True)]
        print(f"RATIO {name}: loaded / quiet = {loaded / quiet:.2f} ({loaded:.1f} s / {quiet:.1f} s)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
