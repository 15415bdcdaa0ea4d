"""The ``zsfuse`` argument parser: its commands and their options."""

from __future__ import annotations

from pathlib import Path

from .common import (
    DTYPES,
    _add_common_options,
    _add_runtime_options,
    _add_selection_options,
    _model_arg,
)
from .evaluate import DEFAULT_ALM, DEFAULT_FM
from .parsing import CommandParser, Extend, layer, positive_int


def build_parser() -> CommandParser:
    from ..datasets import LOADERS

    parser = CommandParser(prog="zsfuse", description="Zero-shot speech emotion recognition (ZS-Fuse).")
    sub = parser.add_subparsers(dest="command", required=True)

    ev = sub.add_parser(
        "evaluate",
        help="the paper's table on a corpus: specialist, zero-shot, ablations, ZS-Fuse",
        description="Speaker-independent evaluation on a corpus's official folds (or train on one corpus, test on "
        "another). Every hyper-parameter ((N_a, N_t), the fusion weight, temperature and normalisation) is chosen "
        "by inner cross-validation on the training folds only.",
    )
    ev.add_argument("--dataset", required=True, choices=sorted(LOADERS), help="corpus loader")
    ev.add_argument("--root", required=True, type=Path, help="the corpus folder (your own copy)")
    ev.add_argument("--alm", type=_model_arg, action=Extend, nargs="+", default=[DEFAULT_ALM], metavar="ALM",
                    help=f"CLAP hub id(s) or local directories, or none (default: {DEFAULT_ALM}); several run "
                    "every ALM alone and with every --fm")
    ev.add_argument("--fm", type=_model_arg, action=Extend, nargs="+", default=[DEFAULT_FM], metavar="FM",
                    help=f"speech model hub id(s) or directories, 'egemaps' (openSMILE), or none (default: {DEFAULT_FM})")
    ev.add_argument("--layer", nargs="+", type=layer, default=None, metavar="LAYER",
                    help="the specialist's hidden state: an index, 'all' (their mean), or several to sweep, e.g. "
                    "--layer 0 6 12 all (audio is encoded once for all of them; default: the last layer)")
    ev.add_argument("--test-dataset", choices=sorted(LOADERS), default=None,
                    help="cross-corpus: train on --dataset, test on this corpus (on the classes both have)")
    ev.add_argument("--test-root", type=Path, default=None, help="the test corpus folder, with --test-dataset")
    ev.add_argument("--label", action="extend", nargs="+", metavar="SPELLING=CANONICAL",
                    help="map a corpus's label spelling to the canonical vocabulary, e.g. --label wut=angry "
                    "freude=happy (applies to whichever corpus has the spelling)")
    ev.add_argument("--name", default=None, help="the corpus name in titles and tables (default: the loader's name)")
    ev.add_argument("--grid", nargs="+", metavar="KEY=V1,V2",
                    help="candidates: audio_repeats=1,2 text_repeats=1,2,3 weights=0,0.1,...,1 (the defaults; each N_a costs "
                    "one pass of the ALM over the corpus, N_t and weights are nearly free)")
    ev.add_argument("--prompt", action="extend", nargs="+", metavar="LABEL=WORD[,WORD]",
                    help="words for labels in the prompts, e.g. --prompt wut=angry freude=happy,joyful")
    ev.add_argument("--out", type=Path, default=None, help="output folder (default: zsfuse-results/DATASET)")
    ev.add_argument("--class-weight", choices=["balanced"], default=None,
                    help="weigh every class the same in the specialist's classifier, whatever its number of clips "
                    "(for imbalanced corpora such as IEMOCAP or MSP-Podcast)")
    ev.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    ev.add_argument("--save-model", nargs="?", const="best", default=None, metavar="SYSTEM",
                    help="also fit SYSTEM (default: the best by UA) on all clips, hyper-parameters chosen by CV "
                    "over all folds, and save it to OUT/model.joblib for `zsfuse predict`")
    _add_selection_options(ev)
    _add_runtime_options(ev)

    pr = sub.add_parser(
        "predict",
        help="label and class probabilities of audio files with a saved model",
        description="Predict with a fitted estimator saved as .skops (skops.io.dump) or with joblib/pickle. "
        "A .skops file is read without running code from it, and only if every type it holds is one "
        "of scikit-learn's, numpy's or this package's (SKOPS_TRUSTED_TYPES). A .joblib/.pkl file is a "
        "pickle: loading it RUNS WHATEVER CODE IT HOLDS. Only load pickles you made yourself; use "
        ".skops for files from anyone else.",
    )
    pr.add_argument("model", type=Path,
                    help="MODEL.skops (safe to load), or MODEL.joblib / .pkl (runs code: only files you made), "
                    "e.g. from evaluate --save-model")
    pr.add_argument("files", nargs="+", type=Path, help="audio files")
    pr.add_argument("--format", choices=["csv", "json"], default="csv", help="output format on stdout (default: csv)")
    pr.add_argument("--dtype", choices=DTYPES, default=None, help="run the saved model's encoders at this "
                    "precision instead of the one it was fitted with (see evaluate --dtype)")
    pr.add_argument("--workers", type=positive_int, default=None,
                    help="input threads decoding and resampling audio (default: the model's setting)")
    _add_common_options(pr)

    em = sub.add_parser("embed", help="write audio embeddings (specialist or ALM audio tower) to .npy or .parquet")
    which = em.add_mutually_exclusive_group(required=True)
    which.add_argument("--fm", help="speech model hub id or directory, or 'egemaps'")
    which.add_argument("--alm", help="CLAP hub id or directory (normalised audio embeddings)")
    em.add_argument("files", nargs="*", type=Path, help="audio files (or use --dataset and --root)")
    em.add_argument("--dataset", choices=sorted(LOADERS), help="embed every clip of this corpus")
    em.add_argument("--root", type=Path, help="the corpus folder, with --dataset")
    em.add_argument("--layer", type=layer, nargs="+", default=[-1], metavar="LAYER",
                    help="FM hidden state(s): one or more indices (0 = the front end, -1 = the last), or 'all' "
                    "for their mean; several give one block of columns per layer, from one pass (default: -1)")
    em.add_argument("--audio-repeats", type=positive_int, default=1, help="N_a for --alm (default: 1)")
    em.add_argument("--out", required=True, type=Path, help="X.npy (plus X.paths.txt) or X.parquet")
    _add_selection_options(em)
    _add_runtime_options(em)
    for command in (ev, pr, em):
        command.set_defaults(command_parser=command)
    return parser


