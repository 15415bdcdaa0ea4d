"""ZS-Fuse on RAVDESS: zero-shot, specialist and fused systems, speaker-independent.

    python examples/quickstart.py ../shared/data/ravdess                 # tiny random models
    python examples/quickstart.py DIR --alm laion/clap-htsat-unfused \\
        --fm microsoft/wavlm-large --device cuda                         # the real models

DIR is a RAVDESS folder (``metadata.csv``, or the original Actor_NN/ file names).
Folds are EmoBox's speaker-independent 6-fold split (sklearn_zsfuse.datasets). Without
--alm/--fm, tiny randomly initialised CLAP and WavLM models are built locally:
the pipeline, caching and evaluation are real, the numbers are chance level.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import cross_validate

from sklearn_zsfuse import make_zsfuse_pipeline
from sklearn_zsfuse.datasets import CorpusError, load_corpus
from sklearn_zsfuse.testing import make_tiny_clap, make_tiny_wavlm


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path, help="RAVDESS folder")
    parser.add_argument("--alm", help="CLAP hub id or directory (default: a tiny random CLAP)")
    parser.add_argument("--fm", help="speech model hub id or directory (default: a tiny random WavLM)")
    parser.add_argument("--folds", type=int, nargs="+", default=None, help="EmoBox folds to use (default: all)")
    parser.add_argument("--per-actor", type=int, default=None, help="clips per actor (default: all)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args(argv)

    try:
        corpus = load_corpus("ravdess", args.root)
    except CorpusError as exc:
        parser.error(str(exc))
    keep = np.ones(len(corpus), dtype=bool)
    if args.folds:
        keep &= np.isin(corpus.folds, args.folds)
    if args.per_actor:
        rank = {}
        for i in np.flatnonzero(keep):
            rank[corpus.speakers[i]] = rank.get(corpus.speakers[i], 0) + 1
            keep[i] = rank[corpus.speakers[i]] <= args.per_actor
    corpus = corpus.subset(keep) if not keep.all() else corpus
    paths, y, cv = corpus.paths, corpus.labels, corpus.cv

    with tempfile.TemporaryDirectory(prefix="zsfuse-") as tmp:
        run(args, corpus, paths, y, cv, Path(tmp))


def run(args, corpus, paths, y, cv, tmp: Path):
    alm = args.alm or str(make_tiny_clap(tmp / "tiny-clap"))
    fm = args.fm or str(make_tiny_wavlm(tmp / "tiny-wavlm"))
    random_weights = not (args.alm and args.fm)
    print(f"{len(paths)} clips, {len(set(corpus.speakers))} actors, {cv.get_n_splits()} folds")
    print(f"ALM: {alm}\nFM:  {fm}")
    if random_weights:
        print("NOTE: random-weight model(s): the scores below are chance-level by construction.")

    pipe = make_zsfuse_pipeline(
        alm, fm, device=args.device, batch_size=args.batch_size, class_prompts={"fearful": ["fearful", "scared"]}
    )
    systems = {"zero-shot (w=1)": 1.0, "specialist (w=0)": 0.0, "ZS-Fuse (w=0.5)": 0.5}
    print("\n| system | UA | WA |\n|---|---|---|")
    for name, weight in systems.items():
        start = time.perf_counter()
        res = cross_validate(
            clone(pipe).set_params(fusion__weight=weight), paths, y, cv=cv,
            scoring={"ua": "balanced_accuracy", "wa": "accuracy"},
        )
        ua, wa = res["test_ua"], res["test_wa"]
        print(f"| {name} | {100 * ua.mean():.1f} ± {100 * ua.std():.1f} | {100 * wa.mean():.1f} ± {100 * wa.std():.1f} |"
              f"  ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
