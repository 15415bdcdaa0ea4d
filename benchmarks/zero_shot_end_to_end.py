"""Zero-shot end to end on a CPU: a tiny random CLAP scoring RAVDESS files vs a read-and-resample loop.

The tiny CLAP has the real front end (48 kHz, 10 s window, 64-mel log-mel
spectrogram, HTSAT input layout) and a forward pass that costs little, so the
figure is the cost of the input pipeline and the spectrograms, which compete
with decoding for the machine's cores. The anchor is the least any scorer must
do: one thread reading each file and resampling it to 48 kHz (soxr, as the
scorer does). Both start from the same paths with empty caches; the scorer is
loaded and warmed up first. Two rounds, each timing the loop then the scorer, so
both see the same load. Target (issue 9): scorer >= 0.15x the loop.
"""

from __future__ import annotations

from _common import EMOTION_WORDS, Timer, base_parser, header, ravdess


def main():
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    header("zero-shot end to end (tiny CLAP) vs read-and-resample loop", args)

    import torch

    from sklearn_zsfuse import ALMZeroShotScorer, clear_caches
    from sklearn_zsfuse.audio import as_clip_list, decode
    from sklearn_zsfuse.testing import make_tiny_clap

    model = args.models_dir / "tiny-clap"
    if not (model / "config.json").exists():
        make_tiny_clap(model)
    paths, _, _ = ravdess(args.data, args.clips)
    scorer = ALMZeroShotScorer(str(model), classes=EMOTION_WORDS, device="cpu", batch_size=args.batch_size)
    scorer.fit().transform(paths[-2:])  # load, first-call allocations
    print(f"{len(paths)} RAVDESS files, batch_size={args.batch_size}, torch threads {torch.get_num_threads()}, "
          f"tiny CLAP {model}", flush=True)

    ratios = []
    for r in range(args.rounds):
        with Timer() as loop:
            for clip in as_clip_list(paths, None):
                decode(clip, 48000)
        clear_caches()
        with Timer() as ours:
            scorer.transform(paths)
        ratios.append(loop.seconds / ours.seconds)
        print(f"round {r + 1}: read+resample loop {len(paths) / loop.seconds:7.1f} clips/s | scorer "
              f"{len(paths) / ours.seconds:6.1f} clips/s | ratio {ratios[-1]:.3f}", flush=True)
    verdict = "met" if min(ratios) >= 0.15 else "NOT met"
    print(f"RATIO scorer / loop = {', '.join(f'{x:.3f}' for x in ratios)}  (target >= 0.15: {verdict})")


if __name__ == "__main__":
    main()
