"""Ship a fitted ZS-Fuse pipeline with joblib and use it elsewhere.

    python examples/deploy.py ../shared/data/ravdess [--alm DIR] [--fm egemaps] [--out ser.joblib]

Fits the pipeline on the training folds of RAVDESS (fold 1 held out), saves it,
then - as a fresh process would - drops every loaded model and cached embedding,
loads the file and predicts held-out clips. The file holds parameters and learned
state only: the models reload from their ids or directories on first use. The same
file works from the shell:

    zsfuse predict ser.joblib clip1.wav clip2.wav --format json
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import joblib
import numpy as np

from sklearn_zsfuse import clear_caches, clear_models, make_zsfuse_pipeline
from sklearn_zsfuse.datasets import load_corpus
from sklearn_zsfuse.evaluation.metrics import score_all
from sklearn_zsfuse.testing import make_tiny_clap


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path, help="RAVDESS folder")
    parser.add_argument("--alm", help="CLAP hub id or directory (default: a tiny random CLAP)")
    parser.add_argument("--fm", default="egemaps", help="specialist: hub id, directory or egemaps (default)")
    parser.add_argument("--weight", type=float, default=0.5, help="fusion weight (choose it by CV: grid_search.py)")
    parser.add_argument("--per-class", type=int, default=2,
                        help="clips per actor and emotion, to keep the demo short (default: 2; 0 = all)")
    parser.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp(prefix="zsfuse-")) / "ser.joblib")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)

    corpus = load_corpus("ravdess", args.root)
    if args.per_class:
        corpus = corpus.first_per_speaker_and_label(args.per_class)
    alm = args.alm or str(make_tiny_clap(Path(tempfile.mkdtemp(prefix="zsfuse-")) / "tiny-clap"))
    train, test = np.flatnonzero(corpus.folds != 1), np.flatnonzero(corpus.folds == 1)
    paths = np.asarray(corpus.paths, dtype=object)

    pipe = make_zsfuse_pipeline(alm, args.fm, weight=args.weight, device=args.device)
    pipe.fit(list(paths[train]), corpus.labels[train])
    joblib.dump(pipe, args.out)
    print(f"saved {args.out} ({args.out.stat().st_size / 1024:.0f} KiB: parameters and learned state, no weights)")

    clear_models()  # what a new process starts with
    clear_caches()
    restored = joblib.load(args.out)
    predicted = restored.predict(list(paths[test]))
    proba = restored.predict_proba(list(paths[test[:3]]))
    print(f"held-out fold 1 ({len(test)} clips, actors {sorted(set(corpus.speakers[test]))}):",
          {k: round(100 * v, 1) for k, v in score_all(corpus.labels[test], predicted).items()})
    for path, p in zip(paths[test[:3]], proba):
        best = int(np.argmax(p))
        print(f"  {Path(path).name}: {restored.classes_[best]} (p={p[best]:.2f})")
    print(f"\nshell: zsfuse predict {args.out} {paths[test[0]]}")


if __name__ == "__main__":
    main()
