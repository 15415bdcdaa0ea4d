"""GPU run: throughput and real-time factor of the embedder and the scorer at float32 and bfloat16.

WavLM-Large-size FMEmbedder and CLAP htsat-unfused-size ALMZeroShotScorer
(random weights) on RAVDESS clips, each at float32 then bfloat16, from empty
caches after a warm-up. Prints clips/s, the real-time factor (processing time
/ audio duration; < 1 is faster than real time), the batch size and, on CUDA,
peak GPU memory. bfloat16 is checked against float32 on the same clips:
per-clip cosine similarity of the FM embeddings and of the CLAP audio
embeddings >= --min-cosine (default 0.99)
and the zero-shot argmax agreeing on >= --min-agreement of the clips.

On a GPU: ``python benchmarks/gpu.py`` (about 3 minutes on one H100 with the
defaults, most of it model building on first use). On a CPU, small and slow:
``python benchmarks/gpu.py --device cpu --small`` (tiny random models).
"""

from __future__ import annotations

import warnings

import numpy as np
from _common import EMOTION_WORDS, Timer, base_parser, clap_htsat_unfused, header, ravdess, wavlm


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return (a * b).sum(axis=1)


def main():
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--small", action="store_true", help="tiny random models and few clips (CPU check)")
    parser.add_argument("--clips", type=int, default=None, help="default 128 (8 with --small)")
    parser.add_argument("--batch-size", type=int, default=None, help="default 32 (4 with --small)")
    parser.add_argument("--min-cosine", type=float, default=0.99)
    parser.add_argument("--min-agreement", type=float, default=0.9)
    parser.set_defaults(threads=0)  # the GPU script leaves torch's threads alone unless asked
    args = parser.parse_args()
    n_clips = args.clips or (8 if args.small else 128)
    batch_size = args.batch_size or (4 if args.small else 32)
    header(f"GPU path: float32 vs bfloat16 ({'small CPU check' if args.small else 'full-size models'})", args)

    import torch

    from sklearn_zsfuse import ALMZeroShotScorer, FMEmbedder, clear_caches
    from sklearn_zsfuse.encoders import resolve_device

    device = resolve_device(args.device)
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

    def run(name, make):
        out = {}
        for dtype in ("float32", "bfloat16"):
            est = make(dtype)
            est.fit()
            est.transform(paths[:2])  # load, warm up (kernels, allocator)
            clear_caches()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            with Timer() as t:
                out[dtype] = est.transform(paths)
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
            mem = (
                f", peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB"
                if device.startswith("cuda") else ""
            )
            print(f"{name:26s} {dtype:8s}: {len(paths) / t.seconds:8.2f} clips/s, real-time factor "
                  f"{t.seconds / seconds:.4f}, batch_size={batch_size}{mem}", flush=True)
            if hasattr(est, "audio_embeddings"):  # from the cache just filled
                out[dtype + " audio"] = est.audio_embeddings(paths)
        return out

    fm = run("FMEmbedder (WavLM-Large)" if not args.small else "FMEmbedder (tiny WavLM)",
             lambda dt: FMEmbedder(fm_dir, device=device, dtype=dt, batch_size=batch_size))
    zs = run("ALMZeroShotScorer (CLAP)" if not args.small else "ALMZeroShotScorer (tiny)",
             lambda dt: ALMZeroShotScorer(alm_dir, classes=EMOTION_WORDS, device=device, dtype=dt,
                                          batch_size=batch_size))
    fm_cos = cosine_rows(fm["float32"], fm["bfloat16"]).min()
    zs_cos = cosine_rows(zs["float32 audio"], zs["bfloat16 audio"]).min()
    agree = np.mean(zs["float32"].argmax(1) == zs["bfloat16"].argmax(1))
    ok = fm_cos >= args.min_cosine and zs_cos >= args.min_cosine and agree >= args.min_agreement
    print(f"bf16 vs float32: min cosine FM embeddings {fm_cos:.6f}, CLAP audio embeddings {zs_cos:.6f} "
          f"(tolerance >= {args.min_cosine}); zero-shot argmax agreement {agree:.3f} "
          f"(tolerance >= {args.min_agreement}): {'PASS' if ok else 'FAIL'}")


if __name__ == "__main__":
    main()
