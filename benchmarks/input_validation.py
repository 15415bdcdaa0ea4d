"""Cost of the up-front input check (check_clips) against what a transform does anyway.

    python benchmarks/input_validation.py [../shared/data/ravdess]

On every clip of the corpus, side by side in one run: the old existence-only check,
the current check (existence, size, soundfile header; finiteness for arrays), the
content hashing every transform does for its cache keys, and a full decode at 16 kHz
(the least any encoder needs). Prints seconds and ratios to the decode.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from sklearn_zsfuse.audio import as_clip_list, check_clips, decode


def best_of(fn, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(root: Path) -> None:
    import pandas as pd

    meta = pd.read_csv(root / "metadata.csv")
    paths = [str(root / p) for p in meta.path]
    clips = as_clip_list(paths, None)
    arrays = as_clip_list([decode(c, 16000) for c in clips[:200]], 16000)

    rows = {
        "existence only (before)": best_of(lambda: [c.source.exists() and not c.source.is_dir() for c in clips]),
        "check_clips (now)": best_of(lambda: check_clips(clips)),
        "content hashing": best_of(lambda: [c.content_key() for c in clips]),
        "full decode at 16 kHz": best_of(lambda: [decode(c, 16000) for c in clips], repeats=1),
    }
    decode_time = rows["full decode at 16 kHz"]
    print(f"{len(clips)} files from {root}")
    print(f"{'step':<28} {'seconds':>8} {'/ decode':>9}")
    for name, seconds in rows.items():
        print(f"{name:<28} {seconds:8.3f} {seconds / decode_time:9.3f}")
    array_check = best_of(lambda: check_clips(arrays))
    array_decode = best_of(lambda: [decode(c, 16000) for c in arrays])
    print(f"\n{len(arrays)} in-memory arrays: check_clips {array_check:.4f} s, decode {array_decode:.4f} s, "
          f"ratio {array_check / array_decode:.3f}")
    print(f"(mean clip length {np.mean([c.source.size for c in arrays]) / 16000:.2f} s)")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "data" / "ravdess"))
