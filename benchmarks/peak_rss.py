"""(d) Streaming: peak RSS of embedding 2,000 clips vs 200 clips.

Each size runs in a fresh process that loads the model, warms it up, records
its RSS, then transforms a list of file paths and reports the peak RSS
(``ru_maxrss``). The files are RAVDESS clips written as 16-bit FLAC, reused
round-robin with a little noise added per copy so every file has different
content (distinct cache keys; nothing is served as a duplicate). Decoded, the
2,000 clips are ~470 MB at 16 kHz float32: holding the corpus would show.

The model defaults to the tiny random WavLM of sklearn_zsfuse.testing so the
run takes a few minutes on a CPU; a big model only adds a constant to both
runs (``--model DIR`` takes any speech model directory). Target: the two
peaks within 10 %.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from _common import base_parser, header, ravdess


def write_corpus(data: Path, directory: Path, n: int) -> list[str]:
    """``n`` distinct FLAC files made from RAVDESS clips (written once, reused by later runs)."""
    import numpy as np
    import soundfile as sf

    from sklearn_zsfuse.audio import as_clip_list, decode

    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"clip{i:05d}.flac" for i in range(n)]
    missing = [i for i, p in enumerate(paths) if not p.exists()]
    if missing:
        print(f"writing {len(missing)} perturbed FLAC copies to {directory} (once) ...", flush=True)
        sources, _, _ = ravdess(data, 1440)
        rng = np.random.default_rng(0)
        for i in missing:
            wave = decode(as_clip_list([sources[i % len(sources)]], None)[0], 16000)
            wave = np.clip(wave + rng.normal(0, 3e-4, wave.shape).astype(np.float32), -1, 1)
            tmp = paths[i].with_suffix(".part")
            sf.write(tmp, wave, 16000, format="FLAC", subtype="PCM_16")
            os.replace(tmp, paths[i])
    return [str(p) for p in paths]


def child(args) -> None:
    import warnings

    import torch

    from sklearn_zsfuse import FMEmbedder

    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=".*mismatched key_padding_mask.*")
    paths = [line for line in Path(args.child_list).read_text().splitlines() if line]
    emb = FMEmbedder(args.model, device="cpu", batch_size=args.batch_size).fit()
    emb.transform(paths[:2])  # load and warm up, then clear its cache entries
    from sklearn_zsfuse import clear_caches

    clear_caches()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    out = emb.transform(paths)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"n": len(paths), "rss_before_kb": before, "peak_kb": peak, "seconds": seconds,
                      "out_shape": list(out.shape)}))


def main():
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[200, 2000])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--model", default=None, help="speech model directory (default: tiny random WavLM)")
    parser.add_argument("--clips-dir", type=Path, default=None, help="where the FLAC copies are written")
    parser.add_argument("--child-list", help=argparse_hidden())
    args = parser.parse_args()
    if args.child_list:
        return child(args)
    header("peak RSS, 2,000 clips vs 200 (benchmark d)", args)

    from sklearn_zsfuse.testing import make_tiny_wavlm

    if args.model is None:
        args.model = str(args.models_dir / "tiny-wavlm")
        if not (Path(args.model) / "config.json").exists():
            make_tiny_wavlm(args.model)
    clips_dir = args.clips_dir or args.models_dir / "rss-clips"
    paths = write_corpus(args.data, clips_dir, max(args.sizes))
    results = []
    for n in args.sizes:
        listing = clips_dir / f"list{n}.txt"
        listing.write_text("\n".join(paths[:n]))
        cmd = [sys.executable, __file__, "--child-list", str(listing), "--model", args.model,
               "--batch-size", str(args.batch_size), "--threads", str(args.threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            sys.exit(proc.stderr)
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(r)
        print(f"{n:5d} clips: peak RSS {r['peak_kb'] / 1024:7.1f} MB (after model load and warm-up "
              f"{r['rss_before_kb'] / 1024:.1f} MB), {r['seconds']:.0f} s, output {r['out_shape']}", flush=True)
    small, big = results
    ratio = big["peak_kb"] / small["peak_kb"]
    growth = (big["peak_kb"] - big["rss_before_kb"]) - (small["peak_kb"] - small["rss_before_kb"])
    print(f"model {args.model}, batch_size={args.batch_size}")
    print(f"extra growth for {big['n'] - small['n']} more clips: {growth / 1024:.1f} MB "
          f"({growth * 1024 / (big['n'] - small['n']):.0f} bytes per clip)")
    print(f"RATIO peak RSS {big['n']} / {small['n']} clips = {ratio:.3f}  "
          f"(target within 10%: {'met' if abs(ratio - 1) <= 0.10 else 'NOT met'})")


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
