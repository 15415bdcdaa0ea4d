"""Nested cross-validation: choose prompts, amplification and the fusion weight on training folds only.

    python examples/grid_search.py ../shared/data/ravdess                      # tiny random CLAP + eGeMAPS
    python examples/grid_search.py DIR --alm laion/clap-htsat-unfused --fm microsoft/wavlm-large --device cuda

Outer folds: the corpus's official (EmoBox) speaker-independent folds. Inner folds:
speaker groups of the training clips, so GridSearchCV never sees a test-fold clip.
The embedding cache makes the inner grid cheap: audio is encoded once per N_a.
Without --alm a tiny random-weight CLAP is built locally: its zero-shot scores are
chance level by construction; the eGeMAPS specialist is real.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import GridSearchCV, GroupKFold, ParameterGrid, cross_validate

from sklearn_zsfuse import make_zsfuse_pipeline
from sklearn_zsfuse.datasets import load_corpus
from sklearn_zsfuse.evaluation.metrics import scorers
from sklearn_zsfuse.testing import make_tiny_clap


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path, help="RAVDESS folder")
    parser.add_argument("--alm", help="CLAP hub id or directory (default: a tiny random CLAP)")
    parser.add_argument("--fm", default="egemaps", help="specialist: hub id, directory or egemaps (default)")
    parser.add_argument("--per-class", type=int, default=1,
                        help="clips per actor and emotion, to keep the demo short (default: 1; 0 = all)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)

    corpus = load_corpus("ravdess", args.root)
    if args.per_class:
        corpus = corpus.first_per_speaker_and_label(args.per_class)
    alm = args.alm or str(make_tiny_clap(Path(tempfile.mkdtemp(prefix="zsfuse-")) / "tiny-clap"))
    print(corpus.summary())

    pipe = make_zsfuse_pipeline(alm, args.fm, device=args.device, class_prompts={"fearful": ["fearful", "scared"]})
    grid = {
        "features__zs__templates": ["single", "ensemble"],  # SINGLE_TEMPLATE, DEFAULT_TEMPLATES
        "features__zs__audio_repeats": [1, 2],
        "features__zs__text_repeats": [1, 2],
        "fusion__weight": [0.0, 0.25, 0.5, 0.75, 1.0],
    }
    search = GridSearchCV(pipe, grid, cv=GroupKFold(n_splits=4), scoring="balanced_accuracy", refit=True)
    start = time.perf_counter()
    result = cross_validate(
        search, corpus.paths, corpus.labels, cv=corpus.cv, scoring=scorers(),
        params={"groups": corpus.speakers},  # sliced to each outer training set, used by the inner GroupKFold
        return_estimator=True,
    )
    print(f"\nnested CV: {corpus.n_folds} outer folds x {len(ParameterGrid(grid))} candidates, "
          f"{time.perf_counter() - start:.0f} s")
    print("| fold | UA (%) | WA (%) | chosen on the training folds |")
    print("|---|---|---|---|")
    for k, (ua, wa, est) in enumerate(zip(result["test_ua"], result["test_wa"], result["estimator"]), start=1):
        p = est.best_params_
        print(f"| {k} | {100 * ua:.1f} | {100 * wa:.1f} | {p['features__zs__templates']}, N_a={p['features__zs__audio_repeats']}, "
              f"N_t={p['features__zs__text_repeats']}, w={p['fusion__weight']} |")
    print(f"| mean | {100 * np.mean(result['test_ua']):.1f} ± {100 * np.std(result['test_ua']):.1f} | "
          f"{100 * np.mean(result['test_wa']):.1f} ± {100 * np.std(result['test_wa']):.1f} | |")


if __name__ == "__main__":
    main()
