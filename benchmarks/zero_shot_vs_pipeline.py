"""(a) Zero-shot scoring: ALMZeroShotScorer (float32, bfloat16) vs transformers' zero-shot pipeline and a hand-batched loop.

Same ClapModel (htsat-unfused architecture, random weights), same decoded clips
(RAVDESS, 48 kHz arrays given to both, so decoding is not timed), 8 labels x 3
templates. The pipeline takes one template per call, so it runs once per
template, one clip at a time, re-encoding the 8 label texts for every clip. Our
scorer encodes the 24 prompts once (ensemble of 3 templates) and the audio once
per clip, in batches. Models are loaded and warmed up before timing; caches
start empty. Our scorer runs at float32 and at bfloat16; a hand-batched loop
around the same ClapModel (the processor's features, batches of the same size,
the same prompt ensemble) is the float32 floor a user would write. Targets
(issue 9): ours at bfloat16 >= 10x the pipeline at float32, argmax agreement with
float32 >= 0.99; ours at float32 no slower than the hand-batched loop.
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

    def scorer(dtype, templates=BENCH_TEMPLATES):
        return ALMZeroShotScorer(
            model, classes=EMOTION_WORDS, class_prompts={w: w for w in EMOTION_WORDS}, templates=templates,
            sampling_rate=48000, device="cpu", dtype=dtype, batch_size=args.batch_size,
        )

    ours = {dtype: scorer(dtype) for dtype in ("float32", "bfloat16")}
    # Warm-up: load the models, first-call allocations.
    pipe(waves[0], candidate_labels=EMOTION_WORDS, hypothesis_template=BENCH_TEMPLATES[0])
    hand_batched_scores(pipe, waves[:2], args.batch_size)
    for est in ours.values():
        est.fit().transform(waves[:2])

    took, scores = {}, {}
    for dtype, est in ours.items():
        clear_caches()
        with Timer() as t:
            scores[dtype] = est.fit().transform(waves)
        scores[dtype] = scores[dtype][:, columns(est)]
        took[f"ours {dtype}"] = t.seconds
        print(f"sklearn-zsfuse scorer, {dtype:8s}: {t.seconds:7.1f} s  ({len(waves) / t.seconds:.2f} clips/s)",
              flush=True)
    with Timer() as t:
        hand = hand_batched_scores(pipe, waves, args.batch_size)
    took["hand"] = t.seconds
    print(f"hand-batched ClapModel, float32: {t.seconds:7.1f} s  ({len(waves) / t.seconds:.2f} clips/s, "
          f"feature extractor + get_audio_features, batch {args.batch_size})", flush=True)

    pipe_probs = np.zeros((len(BENCH_TEMPLATES), len(waves), len(EMOTION_WORDS)))
    with Timer() as t:
        for k, template in enumerate(BENCH_TEMPLATES):
            for i, wave in enumerate(waves):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out = pipe(wave, candidate_labels=EMOTION_WORDS, hypothesis_template=template)
                for entry in out:
                    pipe_probs[k, i, EMOTION_WORDS.index(entry["label"])] = entry["score"]
    took["pipeline"] = t.seconds
    print(f"transformers pipeline, float32 : {t.seconds:7.1f} s  ({len(waves) / t.seconds:.2f} clips/s, "
          f"{len(BENCH_TEMPLATES)} runs of {len(waves)} clips)", flush=True)

    # Same computation? One template through our scorer (audio comes from the cache).
    single = scorer("float32", templates=(BENCH_TEMPLATES[0],)).fit()
    print(f"agreement: max |p_ours - p_pipeline| on template 1 = "
          f"{np.abs(single.predict_proba(waves)[:, columns(single)] - pipe_probs[0]).max():.2e}; "
          f"max |p_ours - p_hand-batched| = {np.abs(softmax(scores['float32']) - softmax(hand)).max():.2e}")
    agree = np.mean(scores["float32"].argmax(1) == scores["bfloat16"].argmax(1))
    dp = np.abs(softmax(scores["float32"]) - softmax(scores["bfloat16"])).max()
    print(f"bfloat16 vs float32: argmax agreement {agree:.3f} (target >= 0.99: {'met' if agree >= 0.99 else 'NOT met'}), "
          f"max |delta p| {dp:.2e}")

    ratio = took["pipeline"] / took["ours float32"]
    print(f"RATIO speedup over pipeline, float32 = {ratio:.1f}x")
    ratio = took["pipeline"] / took["ours bfloat16"]
    print(f"RATIO speedup over pipeline (float32), ours at bfloat16 = {ratio:.1f}x  "
          f"(target >= 10x: {'met' if ratio >= 10 else 'NOT met'})")
    ratio = took["ours float32"] / took["ours bfloat16"]
    print(f"RATIO bfloat16 speedup over float32 (ours) = {ratio:.2f}x")
    ratio = took["hand"] / took["ours float32"]
    print(f"RATIO ours / hand-batched ClapModel throughput, float32 = {ratio:.2f}x  "
          f"(target >= 1: {'met' if ratio >= 1 else 'NOT met'})")


def columns(scorer):
    """Our columns in EMOTION_WORDS order (the scorer sorts its classes_)."""
    return [list(scorer.classes_).index(w) for w in EMOTION_WORDS]


def softmax(scores):
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def hand_batched_scores(pipe, waves, batch_size):
    """What a user writes around ``ClapModel``: the processor's features, batches, the prompt ensemble."""
    import torch

    model, tokenizer, fe = pipe.model, pipe.tokenizer, pipe.feature_extractor

    def unit(out):
        return torch.nn.functional.normalize(getattr(out, "pooler_output", out), dim=-1)

    with torch.inference_mode():
        text = []
        for word in EMOTION_WORDS:
            tokens = tokenizer([t.format(word) for t in BENCH_TEMPLATES], padding=True, return_tensors="pt")
            text.append(torch.nn.functional.normalize(unit(model.get_text_features(**tokens)).mean(0), dim=-1))
        text = torch.stack(text)
        scores = []
        for s in range(0, len(waves), batch_size):
            features = fe(waves[s : s + batch_size], sampling_rate=fe.sampling_rate, return_tensors="pt")
            audio = unit(model.get_audio_features(**features))
            scores.append(model.logit_scale_a.exp() * audio @ text.T)
        return torch.cat(scores).numpy()


if __name__ == "__main__":
    main()
