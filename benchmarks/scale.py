"""Scale: a synthetic corpus of N short clips through the disk cache, a resumed `zsfuse embed`, and a
25-layer sweep through the evaluation protocol, with each part's peak RSS.

The corpus is N clips of 1 s of noise (16 kHz, 16-bit WAV, each different) written
into a temporary folder (``--workdir``, default the system's temporary folder) and
deleted at the end, with a metadata.csv (label, speaker). The encoders are
registered do-nothing ones (no model, no time: what is measured is the package):

1. cache: ``FMEmbedder(cache_dir=...)`` over every clip, cold (content digests,
   decoding, one disk entry written per clip) then warm (a fresh memory tier: every
   entry looked up and read from disk); clips/s, disk use, files per folder, peak RSS.
   The encoder returns ``--dim`` floats a clip (512: a CLAP-size embedding).
2. resume: ``zsfuse embed --dataset csv`` into a new cache folder, killed (SIGKILL)
   once half the entries are written, then the same command again: how many clips
   the rerun encodes and how long it takes.
3. evaluate: a speech "model" of ``--layers`` layers x ``--hidden`` floats of
   pseudo-random values per clip (25 x 1024: WavLM-Large) and a do-nothing ALM, a
   layer sweep of every layer through ``compute_feature_set`` and ``run_study`` (the
   calls ``evaluate`` makes), MSP-Podcast style: training clips, an official
   development set (the inner split) and one test fold; Gaussian naive Bayes as the
   specialist's classifier (what is measured is the protocol's memory and the
   features' path, not a solver's iterations). Peak RSS and time.

4. before (``--before REF``, e.g. ``main``): part 3 with the package as it is at the git
   revision REF (exported with ``git archive`` into the temporary folder and imported
   first in that child), on the first ``--before-clips`` clips of the corpus (default
   5000,10000): the design that holds every layer of every clip in memory cannot run
   at 100k clips on a 24 GB machine, so its peak RSS is measured at those sizes and
   extrapolated linearly to ``--clips`` (printed as such). The same sizes run with
   this checkout's package too, side by side.

Each part runs in a child process of its own, so each peak RSS is that part's.

    python benchmarks/scale.py [--clips 100000] [--parts cache,resume,evaluate] [--before main]
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import header

if os.environ.get("ZSFUSE_SCALE_PACKAGE"):  # the before part: that revision's package, not this checkout's
    sys.path.insert(0, os.environ["ZSFUSE_SCALE_PACKAGE"])

RATE = 16000
CLASSES = ("angry", "happy", "neutral", "sad")


# ----------------------------------------------------------------------------------------------
# The do-nothing encoders (registered in the child processes)
# ----------------------------------------------------------------------------------------------


def _seed(wave) -> int:
    return int(np.abs(wave[:64]).sum() * 1e4) % (2**32)


class NullSpeech:
    """``n_layers`` x ``hidden_size`` float32 a clip: constant, or pseudo-random from the clip (``random``)."""

    sampling_rate = RATE

    def __init__(self, n_layers: int, hidden_size: int, random: bool):
        self.n_layers, self.hidden_size, self.random = n_layers, hidden_size, random
        self.fingerprint = f"scale-null-speech|{n_layers}x{hidden_size}|{random}"

    def encode(self, waves):
        out = np.empty((len(waves), self.n_layers, self.hidden_size), np.float32)
        for n, w in enumerate(waves):
            if self.random:
                out[n] = np.random.default_rng(_seed(w)).standard_normal(out.shape[1:], dtype=np.float32)
            else:
                out[n] = float(w[0])
        return out


class NullALM:
    """A dual encoder at 16 kHz with a 1 s window whose towers return pseudo-random 512-d vectors."""

    sampling_rate = RATE
    window = RATE
    logit_scale = 10.0
    fingerprint = "scale-null-alm|v1"

    def encode_audio(self, waves):
        return np.stack([np.random.default_rng(_seed(w)).standard_normal(512, dtype=np.float32) for w in waves])

    def encode_text(self, texts):
        return np.stack([np.random.default_rng(sum(map(ord, t))).standard_normal(512, dtype=np.float32)
                         for t in texts])


def _register(args) -> None:
    from sklearn_zsfuse.encoders import register_alm, register_fm

    register_fm("scale-null", lambda ref, **kw: NullSpeech(1, args.dim, False), overwrite=True)
    register_fm("scale-null-layers", lambda ref, **kw: NullSpeech(args.layers, args.hidden, True), overwrite=True)
    register_alm("scale-null-alm", lambda ref, **kw: NullALM(), overwrite=True)


# ----------------------------------------------------------------------------------------------
# The corpus and the measurements
# ----------------------------------------------------------------------------------------------


def make_corpus(folder: Path, n: int) -> list[str]:
    """``n`` clips of 1 s of distinct noise, 1,000 per sub-folder, and metadata.csv."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        rel = f"{i // 1000:04d}/c{i:07d}.wav"
        if i % 1000 == 0:
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        wave = (rng.standard_normal(RATE) * 3000).astype(np.int16)
        sf.write(folder / rel, wave, RATE, subtype="PCM_16")
        rows.append((rel, CLASSES[i % len(CLASSES)], f"s{i % 500:03d}"))
    with open(folder / "metadata.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label", "speaker"])
        writer.writerows(rows)
    return [str(folder / r[0]) for r in rows]


def paths_of(folder: Path) -> list[str]:
    with open(folder / "metadata.csv", newline="") as f:
        return [str(folder / row["path"]) for row in csv.DictReader(f)]


def disk_use(folder: Path) -> tuple[int, int, int, int]:
    """(bytes on disk, files, folders, most files in one folder) under ``folder``."""
    total = files = folders = widest = 0
    for dirpath, dirnames, filenames in os.walk(folder):
        folders += len(dirnames)
        files += len(filenames)
        widest = max(widest, len(filenames))
        for name in filenames:
            total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
    return total, files, folders, widest


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def count_entries(cache: Path) -> int:
    n = 0
    for root in cache.glob("v*"):
        for sub in os.scandir(root):
            if sub.is_dir():
                n += sum(1 for e in os.scandir(sub.path) if e.name.endswith(".zsf"))
    return n


def child_cache(args) -> None:
    from sklearn_zsfuse import FMEmbedder, clear_caches

    _register(args)
    paths = paths_of(args.corpus)
    cache = args.corpus / "cache"
    embedder = FMEmbedder("scale-null", layer=0, device="cpu", cache_dir=str(cache)).fit()
    t0 = time.perf_counter()
    cold = embedder.transform(paths)
    t_cold = time.perf_counter() - t0
    clear_caches()
    t0 = time.perf_counter()
    warm = embedder.transform(paths)
    t_warm = time.perf_counter() - t0
    assert np.array_equal(cold, warm)
    size, files, folders, widest = disk_use(cache)
    n = len(paths)
    print(f"cache: {n} clips, entries of {args.dim} float32")
    print(f"  cold (digest, decode, encode, write): {t_cold:7.1f} s  {n / t_cold:8.0f} clips/s")
    print(f"  warm (digest, look up and read every entry): {t_warm:7.1f} s  {n / t_warm:8.0f} clips/s")
    print(f"  disk: {size / 1e6:.0f} MB in {files} files, {folders} folders, at most {widest} files in a folder")
    print(f"  peak RSS {peak_rss_mb():.0f} MB")
    print(f"RESULT warm_seconds={t_warm:.1f} cold_seconds={t_cold:.1f}")


def child_embed(args) -> None:
    """`zsfuse embed` over the corpus with the registered encoder (run twice by the resume part)."""
    from sklearn_zsfuse.cli import main

    _register(args)
    sys.exit(main(["embed", "--fm", "scale-null", "--dataset", "csv", "--root", str(args.corpus), "--out",
                   str(args.corpus / "X.npy"), "--cache-dir", str(args.corpus / "cache-resume"), "--device", "cpu"]))


def part_resume(args) -> None:
    cache = args.corpus / "cache-resume"
    n = len(paths_of(args.corpus))
    command = [sys.executable, __file__, "--child", "embed", "--corpus", str(args.corpus), "--dim", str(args.dim)]
    t0 = time.perf_counter()
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while first.poll() is None and (not cache.exists() or count_entries(cache) < n // 2):
        time.sleep(0.5)
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed_after = time.perf_counter() - t0
    present = count_entries(cache)
    t0 = time.perf_counter()
    rerun = subprocess.run(command, capture_output=True, text=True)
    t_rerun = time.perf_counter() - t0
    if rerun.returncode != 0:
        sys.exit(f"the rerun failed:\n{rerun.stderr[-3000:]}")
    summary = re.search(r"(\d+) clips: (\d+) encoded, (\d+) reused from memory, (\d+) from disk", rerun.stderr)
    print(f"resume: `zsfuse embed` killed after {killed_after:.1f} s with {present} of {n} entries written "
          f"({present / killed_after:.0f} clips/s, process start included)")
    print(f"  the same command again: {t_rerun:.1f} s (process start, corpus, model, file written); "
          f"{summary.group(2)} encoded, {summary.group(4)} from disk")
    print(f"RESULT resume_encoded={summary.group(2)} missing={n - present}")


def child_evaluate(args) -> None:
    from sklearn.naive_bayes import GaussianNB

    from sklearn_zsfuse.evaluation import Grid, compute_feature_set, run_study

    _register(args)
    paths = paths_of(args.corpus)[: args.limit]
    n = len(paths)
    rng = np.random.default_rng(1)
    labels = np.asarray([CLASSES[i % len(CLASSES)] for i in range(n)], dtype=object)
    speakers = np.asarray([f"s{i % 500:03d}" for i in range(n)], dtype=object)
    part = rng.random(n)
    folds = np.where(part < 0.2, 1, -1)  # one test fold; the rest trains
    development = (part >= 0.2) & (part < 0.3)  # the official development set: the inner split
    grid = Grid(audio_repeats=(1,), text_repeats=(1,), weights=(0.0, 0.5, 1.0))
    start = time.perf_counter()

    def log(message):
        print(f"  [{time.perf_counter() - start:6.0f} s, RSS peak {peak_rss_mb():6.0f} MB] {message}", flush=True)

    layers = list(range(args.layers))
    t0 = time.perf_counter()
    features = compute_feature_set(paths, list(CLASSES), alms=["scale-null-alm"], fms=["scale-null-layers"],
                                   layers=layers, grid=grid, device="cpu", concurrent=False, log=log)
    t_features = time.perf_counter() - t0
    rss_features = peak_rss_mb()
    t0 = time.perf_counter()
    study = run_study(features, labels, folds, speakers, classes=np.asarray(CLASSES, dtype=object), grid=grid,
                      development=development, classifier=GaussianNB(), log=log)
    t_protocol = time.perf_counter() - t0
    gb = n * args.layers * args.hidden * 4 / 1e9
    print(f"evaluate: {n} clips, a sweep of {args.layers} layers x {args.hidden} floats ({gb:.1f} GB of features) "
          f"and one ALM; {len(study.fm_runs)} specialists, {len(study.pairs)} pairs")
    print(f"  features: {t_features:.0f} s, peak RSS {rss_features:.0f} MB")
    print(f"  protocol: {t_protocol:.0f} s; peak RSS of the whole part {peak_rss_mb():.0f} MB")
    import sklearn_zsfuse

    print(f"  package: {Path(sklearn_zsfuse.__file__).parent}")
    print(f"RESULT peak_rss_mb={peak_rss_mb():.0f}")


def _evaluate_child(args, folder: Path, limit: int | None, package: Path | None) -> float:
    """Part 3 in a child process (on the first ``limit`` clips, with ``package`` imported first); its peak RSS."""
    command = [sys.executable, __file__, "--child", "evaluate", "--corpus", str(folder), "--dim", str(args.dim),
               "--layers", str(args.layers), "--hidden", str(args.hidden)]
    if limit is not None:
        command += ["--limit", str(limit)]
    env = {k: v for k, v in os.environ.items() if k != "ZSFUSE_SCALE_PACKAGE"}
    if package is not None:
        env["ZSFUSE_SCALE_PACKAGE"] = str(package)
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"the evaluate part failed ({'revision ' + str(package) if package else 'this checkout'}, "
                 f"{limit} clips):\n{done.stderr[-3000:]}")
    lines = [line for line in done.stdout.splitlines() if not line.startswith("  [")]
    print("\n".join("    " + line for line in lines), flush=True)
    return float(re.search(r"RESULT peak_rss_mb=(\d+)", done.stdout).group(1))


def part_before(args, folder: Path) -> None:
    """The sweep's peak RSS with the package at ``args.before`` and with this checkout, at small sizes."""
    export = folder / f"package-{re.sub(r'[^A-Za-z0-9._-]', '_', args.before)}"
    export.mkdir()
    repo = Path(__file__).resolve().parent.parent
    archive = subprocess.run(["git", "-C", str(repo), "archive", args.before, "sklearn_zsfuse"], capture_output=True)
    if archive.returncode != 0:
        sys.exit(f"git archive {args.before} failed: {archive.stderr.decode(errors='replace')}")
    subprocess.run(["tar", "-x", "-C", str(export)], input=archive.stdout, check=True)
    sizes = sorted({min(int(s), args.clips) for s in args.before_clips.split(",")})
    peaks = {}
    for label, package in ((f"before ({args.before})", export), ("after (this checkout)", None)):
        for size in sizes:
            print(f"  {label}, {size} clips:", flush=True)
            peaks[label, size] = _evaluate_child(args, folder, size, package)
    print(f"before/after: peak RSS of the {args.layers}-layer sweep (features and protocol), MB")
    print(f"  {'clips':>8} {'before':>10} {'after':>10}")
    for size in sizes:
        print(f"  {size:>8} {peaks[f'before ({args.before})', size]:>10.0f} "
              f"{peaks['after (this checkout)', size]:>10.0f}")
    if len(sizes) >= 2:
        a, b = sizes[0], sizes[-1]
        for label in (f"before ({args.before})", "after (this checkout)"):
            slope = (peaks[label, b] - peaks[label, a]) / (b - a)
            at = peaks[label, b] + slope * (args.clips - b)
            print(f"  {label}: {slope * 1000:.0f} MB per 1000 clips; extrapolated to {args.clips} clips: "
                  f"{at:.0f} MB (a straight line through the two measured sizes, not a measurement)")
        print(f"  (the features alone: {args.layers} x {args.hidden} float32 a clip = "
              f"{args.layers * args.hidden * 4 * args.clips / 1e6:.0f} MB at {args.clips} clips)")


# ----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=100000)
    parser.add_argument("--parts", default="cache,resume,evaluate")
    parser.add_argument("--dim", type=int, default=512, help="floats per cache entry in the cache and resume parts")
    parser.add_argument("--layers", type=int, default=25, help="layers of the sweep")
    parser.add_argument("--hidden", type=int, default=1024, help="floats per layer of the sweep")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--before", default=None, metavar="REF",
                        help="also run the sweep with the package at this git revision (e.g. main), at --before-clips")
    parser.add_argument("--before-clips", default="5000,10000", help="clip counts of the before/after sweeps")
    parser.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        {"cache": child_cache, "embed": child_embed, "evaluate": child_evaluate}[args.child](args)
        return
    header(f"Scale: {args.clips} clips ({args.parts})")
    folder = Path(tempfile.mkdtemp(prefix="zsfuse-scale-", dir=args.workdir))
    try:
        t0 = time.perf_counter()
        make_corpus(folder, args.clips)
        print(f"corpus: {args.clips} clips of 1 s written in {time.perf_counter() - t0:.0f} s ({folder})", flush=True)
        common = ["--corpus", str(folder), "--dim", str(args.dim), "--layers", str(args.layers),
                  "--hidden", str(args.hidden)]
        parts = args.parts.split(",") + (["before"] if args.before else [])
        for part in parts:
            t0 = time.perf_counter()
            if part == "resume":
                args.corpus = folder
                part_resume(args)
            elif part == "before":
                part_before(args, folder)
            else:
                done = subprocess.run([sys.executable, __file__, "--child", part, *common])
                if done.returncode != 0:
                    sys.exit(f"part {part} failed")
            print(f"({part}: {time.perf_counter() - t0:.0f} s)", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
