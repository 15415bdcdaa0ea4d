"""Feed rate of the zero-shot input pipeline against a plain read-and-resample loop.

A registered dual encoder that does almost nothing (48 kHz, 10 s window, as
LAION-CLAP; its forward pass is a sum) scores cold RAVDESS clips, so what is
measured is the host's part: content digests, decoding, resampling to 48 kHz,
tiling and windowing, batching, the cache. The reference is a single-thread loop
that reads each file with soundfile and resamples it to 48 kHz with soxr, over
the same files, in the same run.

Acceptance (issue 9): the scorer with the default workers reaches >= 0.8x the
loop's clips/s.

    python benchmarks/feed_rate.py [--clips 128] [--repeats 3]
"""

from __future__ import annotations

import time

import numpy as np
from _common import base_parser, header, ravdess


class Trivial:
    """An ALM at LAION-CLAP rates whose encoders cost nothing."""

    sampling_rate = 48000
    window = 480000
    logit_scale = 1.0
    fingerprint = "feed-rate-trivial"

    def encode_audio(self, waves):
        return np.stack([[w[:100].sum(), 1.0, 2.0, 3.0] for w in waves]).astype(np.float32)

    def encode_text(self, texts):  # distinct per class word (fit refuses classes that embed the same)
        return np.asarray([[1.0, 1.0, 1.0, sum(map(ord, t)) % 7] for t in texts], np.float32)


def read_and_resample(paths) -> float:
    import soundfile as sf
    import soxr

    t0 = time.perf_counter()
    for p in paths:
        wave, rate = sf.read(p, dtype="float32")
        soxr.resample(wave, rate, 48000, quality="HQ")
    return time.perf_counter() - t0


def score(paths, n_workers) -> float:
    from sklearn_zsfuse import ALMZeroShotScorer, clear_caches

    clear_caches()  # cold: nothing cached
    scorer = ALMZeroShotScorer("feed-rate-trivial", classes=["a", "b"], device="cpu", n_workers=n_workers).fit()
    t0 = time.perf_counter()
    scorer.transform(paths)
    return time.perf_counter() - t0


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3, help="rounds; the fastest of each is kept")
    args = parser.parse_args()
    header("Feed rate: trivial 48 kHz / 10 s dual encoder vs a read-and-resample loop", args)
    from sklearn_zsfuse.encoders import register_alm
    from sklearn_zsfuse.engine import default_workers

    register_alm("feed-rate-trivial", lambda ref, **kw: Trivial(), overwrite=True)
    paths, _, _ = ravdess(args.data, args.clips)
    read_and_resample(paths)  # page cache warm for every contender alike
    workers = {"1 worker": 1, f"default ({default_workers()} workers)": None}
    best = {"loop": float("inf"), **{k: float("inf") for k in workers}}
    for _ in range(args.repeats):  # interleaved, so a busy moment hits every contender
        best["loop"] = min(best["loop"], read_and_resample(paths))
        for name, n in workers.items():
            best[name] = min(best[name], score(paths, n))
    n = len(paths)
    print(f"{n} clips, fastest of {args.repeats} rounds")
    print(f"  read + resample to 48 kHz loop (1 thread): {n / best['loop']:7.0f} clips/s")
    for name in workers:
        ratio = best["loop"] / best[name]
        print(f"  ALMZeroShotScorer, {name:22s}: {n / best[name]:7.0f} clips/s  ratio {ratio:.2f}")
    default = best["loop"] / best[list(workers)[-1]]
    print(f"acceptance (default workers >= 0.8x the loop): {'PASS' if default >= 0.8 else 'FAIL'}")


if __name__ == "__main__":
    main()
