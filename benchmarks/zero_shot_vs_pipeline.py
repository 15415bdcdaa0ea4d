"""(a) Zero-shot scoring: ALMZeroShotScorer vs transformers' zero-shot-audio-classification pipeline.

Same ClapModel (htsat-unfused architecture, random weights), same decoded clips
(RAVDESS, 48 kHz arrays given to both, so decoding is not timed), 8 labels x 3
templates. The pipeline takes one template per call, so it runs once per
template, one clip at a time, re-encoding the 8 label texts for every clip. Our
scorer encodes the 24 prompts once (ensemble of 3 templates) and the audio once
per clip, in batches. Models are loaded and warmed up before timing; caches
start empty. Target: >= 10x.
"""

from __future__ import annotations

import warnings

import numpy as np
from _common import BENCH_TEMPLATES, EMOTION_WORDS, Timer, base_parser, clap_htsat_unfused, header, ravdess


def main():
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    header("zero-shot scoring vs transformers pipeline (benchmark a)", args)

    import transformers
    from transformers import pipeline

    from sklearn_zsfuse import ALMZeroShotScorer, clear_caches
    from sklearn_zsfuse.audio import as_clip_list, decode

    model = clap_htsat_unfused(args.models_dir)
    paths, _, _ = ravdess(args.data, args.clips)
    waves = [decode(c, 48000) for c in as_clip_list(paths, None)]
    seconds = sum(len(w) for w in waves) / 48000
    print(f"{len(waves)} RAVDESS clips ({seconds:.0f} s of audio), {len(EMOTION_WORDS)} labels x "
          f"{len(BENCH_TEMPLATES)} templates, batch_size={args.batch_size}", flush=True)

    transformers.logging.set_verbosity_error()  # a benchmark script: its own process
    pipe = pipeline("zero-shot-audio-classification", model=model, device="cpu")
    scorer = ALMZeroShotScorer(
        model,
        classes=EMOTION_WORDS,
        class_prompts={w: w for w in EMOTION_WORDS},
        templates=BENCH_TEMPLATES,
        sampling_rate=48000,
        device="cpu",
        batch_size=args.batch_size,
    )
    # Warm-up: load both models, first-call allocations.
    pipe(waves[0], candidate_labels=EMOTION_WORDS, hypothesis_template=BENCH_TEMPLATES[0])
    scorer.fit().transform(waves[:2])
    clear_caches()

    with Timer() as ours:
        scores = scorer.fit().transform(waves)
    print(f"sklearn-zsfuse scorer : {ours.seconds:7.1f} s  ({len(waves) / ours.seconds:.2f} clips/s)", flush=True)

    pipe_probs = np.zeros((len(BENCH_TEMPLATES), len(waves), len(EMOTION_WORDS)))
    with Timer() as anchor:
        for t, template in enumerate(BENCH_TEMPLATES):
            for i, wave in enumerate(waves):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out = pipe(wave, candidate_labels=EMOTION_WORDS, hypothesis_template=template)
                for entry in out:
                    pipe_probs[t, i, EMOTION_WORDS.index(entry["label"])] = entry["score"]
    print(f"transformers pipeline : {anchor.seconds:7.1f} s  ({len(waves) / anchor.seconds:.2f} clips/s, "
          f"{len(BENCH_TEMPLATES)} runs of {len(waves)} clips)", flush=True)

    # Same computation? One template through our scorer (audio comes from the cache).
    single = ALMZeroShotScorer(
        model, classes=EMOTION_WORDS, class_prompts={w: w for w in EMOTION_WORDS},
        templates=(BENCH_TEMPLATES[0],), sampling_rate=48000, device="cpu",
    ).fit()
    diff = np.abs(single.predict_proba(waves) - pipe_probs[0]).max()
    print(f"agreement: max |p_ours - p_pipeline| on template 1 = {diff:.2e} "
          f"(scores shape {scores.shape})")

    ratio = anchor.seconds / ours.seconds
    verdict = "met" if ratio >= 10 else "NOT met"
    print(f"RATIO speedup over pipeline = {ratio:.1f}x  (target >= 10x: {verdict})")


if __name__ == "__main__":
    main()
