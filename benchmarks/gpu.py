"""GPU run: per model and dtype, the input feed rate, the forward rate and end-to-end clips/s.

WavLM-Large-size FMEmbedder and CLAP htsat-unfused-size ALMZeroShotScorer
(random weights) on RAVDESS files, each at float32 then bfloat16, with the
estimators' default input workers. Three figures per row, all in clips/s:

- feed: the estimator's whole input side with the model's forward pass replaced
  by a stub that returns a stored output at once (decoding, resampling,
  windowing, and for CLAP the spectrograms on the device): the most the host
  can deliver to this model;
- forward: the model's forward pass alone, on inputs prepared beforehand, in
  batches of ``--batch-size``: the most the device can take;
- end to end: ``transform`` on the files from empty caches (real-time factor =
  processing time / audio duration; < 1 is faster than real time).

End to end close to min(feed, forward) means the pipeline overlaps the two; a
feed below the forward rate means the device waits for the host. bfloat16 is
checked against float32 on the same clips: per-clip cosine similarity of the FM
embeddings and of the CLAP audio embeddings >= --min-cosine (default 0.99) and
zero-shot argmax agreement on >= --min-agreement of the clips (default 0.99).

On a GPU: ``python benchmarks/gpu.py`` (a few minutes on one H100, most of it
model building on first use). On a CPU, small: ``python benchmarks/gpu.py
--device cpu --small`` (tiny random models; the test suite runs it).
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
from _common import EMOTION_WORDS, Timer, base_parser, clap_htsat_unfused, header, ravdess, wavlm


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return (a * b).sum(axis=1)


@contextmanager
def stubbed(encoder, method: str):
    """``encoder.method`` answers at once with its first real output, resized to each batch."""
    real = getattr(encoder, method)
    first = []

    def stub(inputs):
        if not first:
            first.append(np.asarray(real(inputs)))
        return np.resize(first[0], (len(inputs), *first[0].shape[1:]))

    setattr(encoder, method, stub)
    try:
        yield
    finally:
        delattr(encoder, method)  # the class's method again


def main():
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--small", action="store_true", help="tiny random models and few clips (CPU check)")
    parser.add_argument("--clips", type=int, default=None, help="default 128 (8 with --small)")
    parser.add_argument("--batch-size", type=int, default=None, help="default 32 (4 with --small)")
    parser.add_argument("--min-cosine", type=float, default=0.99)
    parser.add_argument("--min-agreement", type=float, default=0.99)
    parser.set_defaults(threads=0)  # the GPU script leaves torch's threads alone unless asked
    args = parser.parse_args()
    n_clips = args.clips or (8 if args.small else 128)
    batch_size = args.batch_size or (4 if args.small else 32)
    header(f"GPU path: feed, forward and end to end ({'small CPU check' if args.small else 'full-size models'})", args)

    import torch

    from sklearn_zsfuse import ALMZeroShotScorer, FMEmbedder, clear_caches
    from sklearn_zsfuse.audio import amplified_window, as_clip_list, decode
    from sklearn_zsfuse.encoders import resolve_device

    device = resolve_device(args.device)
    cuda = device.startswith("cuda")
    if args.small:
        from sklearn_zsfuse.testing import make_tiny_clap, make_tiny_wavlm

        fm_dir, alm_dir = args.models_dir / "tiny-wavlm", args.models_dir / "tiny-clap"
        if not (fm_dir / "config.json").exists():
            make_tiny_wavlm(fm_dir)
        if not (alm_dir / "config.json").exists():
            make_tiny_clap(alm_dir)
        fm_dir, alm_dir = str(fm_dir), str(alm_dir)
    else:
        fm_dir, alm_dir = wavlm(args.models_dir, "large"), clap_htsat_unfused(args.models_dir)
    paths, _, _ = ravdess(args.data, n_clips)
    import soundfile as sf

    seconds = sum(sf.info(p).duration for p in paths)
    print(f"device {device}, {len(paths)} RAVDESS clips ({seconds:.0f} s of audio), batch_size={batch_size}",
          flush=True)
    warnings.filterwarnings("ignore", message=".*mismatched key_padding_mask.*")  # this script's process

    def sync():
        if cuda:
            torch.cuda.synchronize()

    def batches(items):
        return [items[s : s + batch_size] for s in range(0, len(items), batch_size)]

    def forward_rate(encoder, forward, prepare):
        """clips/s of ``forward`` alone, on inputs ``prepare`` made from the decoded clips."""
        inputs = [prepare(b) for b in batches([decode(c, encoder.sampling_rate) for c in as_clip_list(paths, None)])]
        forward(inputs[0])  # kernels for this shape
        sync()
        with Timer() as t:
            for x in inputs:
                forward(x)
            sync()
        return len(paths) / t.seconds

    def run(name, make, method, prepare):
        out = {}
        for dtype in ("float32", "bfloat16"):
            est = make(dtype).fit()
            est.transform(paths[:2])  # load, warm up (kernels, allocator)
            encoder = est._encoder()
            with stubbed(encoder, method):
                clear_caches()
                est.transform(paths[:2])  # the stub's one real forward pass, not timed
                clear_caches()
                with Timer() as feed:
                    est.transform(paths)
            clear_caches()
            forward = forward_rate(encoder, getattr(encoder, method), lambda b: prepare(encoder, b))
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            sync()
            with Timer() as t:
                out[dtype] = est.transform(paths)
                sync()
            mem = f", peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB" if cuda else ""
            print(f"{name:26s} {dtype:8s}: feed {len(paths) / feed.seconds:8.1f} | forward {forward:8.1f} | "
                  f"end to end {len(paths) / t.seconds:8.2f} clips/s, real-time factor {t.seconds / seconds:.4f}, "
                  f"batch_size={batch_size}{mem}", flush=True)
            if hasattr(est, "audio_embeddings"):  # from the cache just filled
                out[dtype + " audio"] = est.audio_embeddings(paths)
        return out

    fm = run(
        "FMEmbedder (WavLM-Large)" if not args.small else "FMEmbedder (tiny WavLM)",
        lambda dt: FMEmbedder(fm_dir, device=device, dtype=dt, batch_size=batch_size),
        "encode",
        lambda encoder, waves: waves,
    )
    zs = run(
        "ALMZeroShotScorer (CLAP)" if not args.small else "ALMZeroShotScorer (tiny)",
        lambda dt: ALMZeroShotScorer(alm_dir, classes=EMOTION_WORDS, device=device, dtype=dt, batch_size=batch_size),
        "encode_features",
        lambda encoder, waves: encoder.audio_features([amplified_window(w, 1, encoder.window) for w in waves]),
    )
    fm_cos = cosine_rows(fm["float32"], fm["bfloat16"]).min()
    zs_cos = cosine_rows(zs["float32 audio"], zs["bfloat16 audio"]).min()
    agree = np.mean(zs["float32"].argmax(1) == zs["bfloat16"].argmax(1))
    ok = fm_cos >= args.min_cosine and zs_cos >= args.min_cosine and agree >= args.min_agreement
    print(f"bf16 vs float32: min cosine FM embeddings {fm_cos:.6f}, CLAP audio embeddings {zs_cos:.6f} "
          f"(tolerance >= {args.min_cosine}); zero-shot argmax agreement {agree:.3f} "
          f"(tolerance >= {args.min_agreement}): {'PASS' if ok else 'FAIL'}")


if __name__ == "__main__":
    main()
