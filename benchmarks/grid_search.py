"""(c) GridSearchCV over fusion weight x templates x N_t vs one cross_validate of one candidate.

The full ZS-Fuse pipeline (CLAP htsat-unfused size + WavLM-Large size, random
weights) on RAVDESS clips of 3 actors, 3 speaker folds. The grid has
5 weights x 2 template sets x 2 text repeats = 20 candidates (60 fits), all at
one N_a, so its audio is encoded once per clip per model, as in the single
cross_validate. Both start from empty embedding caches with the models loaded.
Target: grid time <= 1.2x the single cross_validate.

``--only grid --cache-dir DIR --json`` runs the grid alone and prints the
encoder call counts: benchmarks/warm_cache.py uses it.
"""

from __future__ import annotations

import json
import warnings

from _common import BENCH_TEMPLATES, Timer, base_parser, clap_htsat_unfused, header, ravdess, wavlm

GRID = {
    "fusion__weight": [0.0, 0.25, 0.5, 0.75, 1.0],
    "features__zs__templates": [BENCH_TEMPLATES, BENCH_TEMPLATES[:1]],
    "features__zs__text_repeats": [1, 2],
}


def counters(alm, fm):
    from sklearn_zsfuse.encoders import get_alm_encoder, get_speech_encoder

    a, f = get_alm_encoder(alm, device="cpu"), get_speech_encoder(fm, device="cpu")
    return {"alm_audio_clips": a.audio_clips, "alm_texts": a.texts, "fm_audio_clips": f.audio_clips}


def main():
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=48, help="clips of 3 actors (at most 180)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--fm-size", choices=["large", "base"], default="large")
    parser.add_argument("--only", choices=["both", "grid"], default="both")
    parser.add_argument("--cache-dir", default=None, help="on-disk embedding cache (default: memory only)")
    parser.add_argument("--json", action="store_true", help="print one JSON line of counts and time")
    args = parser.parse_args()
    header("GridSearchCV vs one cross_validate (benchmark c)", args)

    from sklearn.model_selection import GridSearchCV, GroupKFold, cross_validate

    from sklearn_zsfuse import clear_caches, make_zsfuse_pipeline

    alm, fm = clap_htsat_unfused(args.models_dir), wavlm(args.models_dir, args.fm_size)
    paths, y, actors = ravdess(args.data, args.clips, actors=3)
    # The single candidate is one of the grid's (3 templates, N_t=1, weight 0.5).
    pipe = make_zsfuse_pipeline(
        alm, fm, templates=BENCH_TEMPLATES, device="cpu", batch_size=args.batch_size, cache_dir=args.cache_dir
    )
    cv = GroupKFold(3)
    n_candidates = len(GRID["fusion__weight"]) * len(GRID["features__zs__templates"]) * len(
        GRID["features__zs__text_repeats"]
    )
    print(f"{len(paths)} RAVDESS clips of 3 actors, 3 speaker folds, {n_candidates} candidates, "
          f"WavLM-{args.fm_size} size, batch_size={args.batch_size}, cache_dir={args.cache_dir}", flush=True)

    warnings.filterwarnings("ignore", message=".*mismatched key_padding_mask.*")  # this script's process
    if not args.json:  # load both models and warm them up on two clips, then forget their embeddings
        two = [0, next(i for i in range(len(y)) if y[i] != y[0])]  # two labels: the classifier needs both
        make_zsfuse_pipeline(alm, fm, device="cpu").fit([paths[i] for i in two], y[two])
        clear_caches()

    if args.only == "both":
        before = counters(alm, fm)
        with Timer() as single:
            cross_validate(pipe, paths, y, groups=actors, cv=cv, scoring="balanced_accuracy")
        single_counts = {k: v - before[k] for k, v in counters(alm, fm).items()}
        print(f"cross_validate, 1 candidate : {single.seconds:7.1f} s  encoded {single_counts}", flush=True)
        clear_caches()

    before = counters(alm, fm)
    with Timer() as grid:
        search = GridSearchCV(pipe, GRID, cv=cv, scoring="balanced_accuracy").fit(paths, y, groups=actors)
    grid_counts = {k: v - before[k] for k, v in counters(alm, fm).items()}
    assert len(search.cv_results_["params"]) == n_candidates
    print(f"GridSearchCV, {n_candidates} candidates: {grid.seconds:7.1f} s  encoded {grid_counts}", flush=True)
    if args.only == "both":
        ratio = grid.seconds / single.seconds
        print(f"grid overhead beyond the single run: {grid.seconds - single.seconds:.1f} s for "
              f"{n_candidates * 3 - 3} more fits and scorings")
        print(f"RATIO grid / single = {ratio:.2f}x  (target <= 1.2x: {'met' if ratio <= 1.2 else 'NOT met'})")
    if args.json:
        print(json.dumps({"seconds": grid.seconds, **grid_counts}))


if __name__ == "__main__":
    main()
