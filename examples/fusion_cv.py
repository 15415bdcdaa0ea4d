"""LateFusionClassifierCV on RAVDESS: the fusion chosen by inner CV, per speaker-independent fold.

    python examples/fusion_cv.py ../shared/data/ravdess --per-class 1     # tiny random CLAP + eGeMAPS
    python examples/fusion_cv.py DIR --alm laion/clap-htsat-unfused \\
        --fm microsoft/wavlm-large --device cuda                         # the real models

The features are computed once (zero-shot logits over RAVDESS's fixed label set and
the specialist's embedding); then, for each of EmoBox's test folds, a
LateFusionClassifierCV chooses method, weight, temperature and normalisation by
GroupKFold over the training actors only and is scored once on the test fold. It
also prints the zero-shot branch's expected calibration error on the test fold
with raw logits and with the temperature fitted on the training clips. Without
--alm a tiny randomly initialised CLAP is built locally: its zero-shot scores are
noise, so the selection should learn to ignore them (weight near 0).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold

from sklearn_zsfuse import ALMZeroShotScorer, FMEmbedder, LateFusionClassifier, LateFusionClassifierCV
from sklearn_zsfuse.datasets import CorpusError, load_corpus
from sklearn_zsfuse.evaluation.metrics import expected_calibration_error, unweighted_accuracy
from sklearn_zsfuse.testing import make_tiny_clap


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path, help="RAVDESS folder")
    parser.add_argument("--alm", help="CLAP hub id or directory (default: a tiny random CLAP)")
    parser.add_argument("--fm", default="egemaps", help="speech model hub id or directory, or egemaps (default)")
    parser.add_argument("--per-class", type=int, default=None, help="clips per actor and emotion (default: all)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)

    try:
        corpus = load_corpus("ravdess", args.root)
    except CorpusError as exc:
        parser.error(str(exc))
    if args.per_class:
        corpus = corpus.first_per_speaker_and_label(args.per_class)
    print(corpus.summary())

    with tempfile.TemporaryDirectory(prefix="zsfuse-") as tmp:
        alm = args.alm or str(make_tiny_clap(Path(tmp) / "tiny-clap"))
        classes = np.unique(corpus.labels)
        # A fixed label set: a training fold without some emotion is still read by label.
        scorer = ALMZeroShotScorer(alm, classes=classes, device=args.device).fit()
        zs = scorer.transform(corpus.paths)
        emb = FMEmbedder(args.fm, device=args.device).fit().transform(corpus.paths)
    X, y, speakers = np.hstack([zs, emb]), np.asarray(corpus.labels), np.asarray(corpus.speakers)

    print("\n| fold | chosen fusion | inner UA | test UA | specialist UA | zero-shot ECE raw -> fitted T |")
    print("|---|---|---|---|---|---|")
    for k, (train, test) in enumerate(corpus.cv.split(X, y), start=1):
        fusion = LateFusionClassifierCV(cv=GroupKFold(min(5, len(np.unique(speakers[train])))),
                                        zero_shot_classes=scorer.classes_)
        fusion.fit(X[train], y[train], groups=speakers[train])
        specialist = LateFusionClassifier(weight=0.0, zero_shot_classes=scorer.classes_).fit(X[train], y[train])
        raw = LateFusionClassifier(weight=1.0, zero_shot_classes=scorer.classes_).fit(X[train], y[train])
        fitted = LateFusionClassifier(weight=1.0, temperature="fit", zero_shot_classes=scorer.classes_)
        fitted.fit(X[train], y[train])
        ece = [expected_calibration_error(y[test], est.zero_shot_proba(X[test]), est.classes_) for est in (raw, fitted)]
        print(f"| {k} | {fusion.best_params_} | {100 * fusion.best_score_:.1f} "
              f"| {100 * unweighted_accuracy(y[test], fusion.predict(X[test])):.1f} "
              f"| {100 * unweighted_accuracy(y[test], specialist.predict(X[test])):.1f} "
              f"| {ece[0]:.3f} -> {ece[1]:.3f} (T = {fitted.temperature_:.3g}) |")


if __name__ == "__main__":
    main()
