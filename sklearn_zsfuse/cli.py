"""The ``zsfuse`` command: evaluate on a corpus, predict with a saved model, write embeddings.

    zsfuse evaluate --dataset ravdess --root DIR [--alm ID|PATH|none] [--fm ID|PATH|egemaps|none]
                    [--grid audio_repeats=1,2 text_repeats=1,2,3 weights=0,0.1,...,1] [--out DIR]
    zsfuse predict MODEL.joblib FILE... [--format csv|json]
    zsfuse embed (--fm ID|PATH|egemaps | --alm ID|PATH) (FILE... | --dataset NAME --root DIR) --out X.npy|X.parquet
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["main"]

DEFAULT_ALM = "laion/clap-htsat-unfused"
DEFAULT_FM = "microsoft/wavlm-large"
_GRID_KEYS = {
    "audio_repeats": "audio_repeats", "na": "audio_repeats", "n_a": "audio_repeats",
    "text_repeats": "text_repeats", "nt": "text_repeats", "n_t": "text_repeats",
    "weights": "weights", "weight": "weights", "w": "weights",
}


def _model_arg(value: str):
    return None if value.strip().lower() == "none" else value


def _parse_grid(items, parser):
    from .evaluation import Grid

    values = {}
    for item in items or []:
        key, sep, rest = item.partition("=")
        name = _GRID_KEYS.get(key.strip().lower())
        if not sep or name is None or not rest.strip():
            parser.error(
                f"--grid item {item!r}: expected KEY=V1,V2,... with KEY one of audio_repeats (na), "
                "text_repeats (nt), weights (w)."
            )
        try:
            numbers = [float(v) for v in rest.split(",") if v.strip()]
        except ValueError:
            parser.error(f"--grid item {item!r}: values must be numbers separated by commas.")
        values[name] = tuple(int(v) if name != "weights" and v == int(v) else v for v in numbers)
    try:
        return Grid(**values)
    except ValueError as exc:
        parser.error(f"--grid: {exc}")


def _parse_prompts(items, parser):
    if not items:
        return None
    prompts = {}
    for item in items:
        label, sep, words = item.partition("=")
        words = [w.strip() for w in words.split(",") if w.strip()]
        if not sep or not label.strip() or not words:
            parser.error(f"--prompt {item!r}: expected LABEL=WORD[,WORD...], e.g. fearful=fearful,scared.")
        prompts[label.strip()] = words
    return prompts


def _estimator_params(args, parser) -> dict:
    params = {"dtype": args.dtype}
    if getattr(args, "workers", None) is not None:
        params["n_workers"] = args.workers
    if getattr(args, "cache_dir", None) is not None:
        params["cache_dir"] = str(args.cache_dir)
    return params


def _workers(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of threads >= 1, got {text!r}")
    return int(text)


def _log(args):
    if args.quiet:
        return lambda message: None
    start = time.perf_counter()
    return lambda message: print(f"[{time.perf_counter() - start:7.1f}s] {message}", file=sys.stderr, flush=True)


DTYPES = ["float32", "bfloat16", "float16", "auto"]
DTYPE_HELP = (
    "the models' precision: bfloat16 about halves the time on GPUs and on CPUs with native bf16 "
    "(AVX512-BF16, AMX); auto picks it where native, else float32 (default: float32)"
)


def _add_runtime_options(p):
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1, ... (default: auto)")
    p.add_argument("--batch-size", type=int, default=8, help="clips per forward pass (default: 8)")
    p.add_argument("--dtype", choices=DTYPES, default="float32", help=DTYPE_HELP)
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="on-disk embedding cache shared by runs and processes (default: memory only)")
    p.add_argument("--workers", type=_workers, default=None,
                   help="input threads decoding and resampling audio (default: the cores present)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress messages or bars")


def build_parser() -> argparse.ArgumentParser:
    from .datasets import LOADERS

    parser = argparse.ArgumentParser(prog="zsfuse", description="Zero-shot speech emotion recognition (ZS-Fuse).")
    sub = parser.add_subparsers(dest="command", required=True)

    ev = sub.add_parser(
        "evaluate",
        help="the paper's table on a corpus: specialist, zero-shot, ablations, ZS-Fuse",
        description="Speaker-independent evaluation on a corpus's official folds. Every hyper-parameter "
        "((N_a, N_t), the fusion weight) is chosen by inner cross-validation on the training folds only.",
    )
    ev.add_argument("--dataset", required=True, choices=sorted(LOADERS), help="corpus loader")
    ev.add_argument("--root", required=True, type=Path, help="the corpus folder (your own copy)")
    ev.add_argument("--alm", type=_model_arg, default=DEFAULT_ALM,
                    help=f"CLAP hub id or local directory, or none (default: {DEFAULT_ALM})")
    ev.add_argument("--fm", type=_model_arg, default=DEFAULT_FM,
                    help=f"speech model hub id or directory, 'egemaps' (openSMILE), or none (default: {DEFAULT_FM})")
    ev.add_argument("--grid", nargs="+", metavar="KEY=V1,V2",
                    help="candidates: audio_repeats=1,2 text_repeats=1,2,3 weights=0,0.1,...,1 (the defaults; each N_a costs "
                    "one pass of the ALM over the corpus, N_t and weights are nearly free)")
    ev.add_argument("--prompt", action="extend", nargs="+", metavar="LABEL=WORD[,WORD]",
                    help="words for labels in the prompts, e.g. --prompt wut=angry freude=happy,joyful")
    ev.add_argument("--out", type=Path, default=None, help="output folder (default: zsfuse-results/DATASET)")
    ev.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    ev.add_argument("--save-model", nargs="?", const="best", default=None, metavar="SYSTEM",
                    help="also fit SYSTEM (default: the best by UA) on all clips, hyper-parameters chosen by CV "
                    "over all folds, and save it to OUT/model.joblib for `zsfuse predict`")
    _add_runtime_options(ev)

    pr = sub.add_parser("predict", help="label and class probabilities of audio files with a saved model")
    pr.add_argument("model", type=Path, help="a fitted estimator saved with joblib (e.g. by evaluate --save-model)")
    pr.add_argument("files", nargs="+", type=Path, help="audio files")
    pr.add_argument("--format", choices=["csv", "json"], default="csv", help="output format on stdout (default: csv)")
    pr.add_argument("--dtype", choices=DTYPES, default=None, help="run the saved model's encoders at this "
                    "precision instead of the one it was fitted with (see evaluate --dtype)")
    pr.add_argument("--workers", type=_workers, default=None,
                    help="input threads decoding and resampling audio (default: the model's setting)")

    em = sub.add_parser("embed", help="write audio embeddings (specialist or ALM audio tower) to .npy or .parquet")
    which = em.add_mutually_exclusive_group(required=True)
    which.add_argument("--fm", help="speech model hub id or directory, or 'egemaps'")
    which.add_argument("--alm", help="CLAP hub id or directory (normalised audio embeddings)")
    em.add_argument("files", nargs="*", type=Path, help="audio files (or use --dataset and --root)")
    em.add_argument("--dataset", choices=sorted(LOADERS), help="embed every clip of this corpus")
    em.add_argument("--root", type=Path, help="the corpus folder, with --dataset")
    em.add_argument("--layer", default="-1", help="FM hidden state: an index or 'all' (default: -1)")
    em.add_argument("--audio-repeats", type=int, default=1, help="N_a for --alm (default: 1)")
    em.add_argument("--out", required=True, type=Path, help="X.npy (plus X.paths.txt) or X.parquet")
    _add_runtime_options(em)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return {"evaluate": _evaluate, "predict": _predict, "embed": _embed}[args.command](args, parser)


def _evaluate(args, parser) -> int:
    import joblib

    from .datasets import CorpusError, load_corpus
    from .evaluation import evaluate, final_model, select_final
    from .report import write_report

    if args.alm is None and args.fm is None:
        parser.error("--alm none and --fm none leave nothing to evaluate.")
    grid = _parse_grid(args.grid, parser)
    prompts = _parse_prompts(args.prompt, parser)
    estimator_params = _estimator_params(args, parser)
    if not args.no_plots:
        try:
            import matplotlib  # noqa: F401  (checked now, not after an hour of encoding)
        except ImportError:
            parser.error("the plots need matplotlib: pip install 'sklearn-zsfuse[plots]', or pass --no-plots.")
    log = _log(args)
    try:
        corpus = load_corpus(args.dataset, args.root)
    except CorpusError as exc:
        print(f"zsfuse evaluate: {exc}", file=sys.stderr)
        return 2
    if corpus.n_folds < 1:
        print(f"zsfuse evaluate: {corpus.name} has no test fold.", file=sys.stderr)
        return 2
    out = args.out or Path("zsfuse-results") / corpus.name
    log(corpus.summary())
    evaluation = evaluate(
        corpus, alm=args.alm, fm=args.fm, grid=grid, class_prompts=prompts, device=args.device,
        batch_size=args.batch_size, verbose=0 if args.quiet else 1, estimator_params=estimator_params, log=log,
    )
    written = write_report(evaluation, out, plots=not args.no_plots)
    print(evaluation.table())
    print()
    for kind, path in written.items():
        print(f"{kind}: {path}")
    if args.save_model:
        system = evaluation.best_system() if args.save_model == "best" else args.save_model
        if system not in evaluation.systems:
            print(f"zsfuse evaluate: --save-model {system!r} is not one of {list(evaluation.systems)}.", file=sys.stderr)
            return 2
        params = select_final(evaluation.features, corpus.labels, corpus.folds, corpus.speakers, classes=corpus.classes,
                              grid=grid, development=corpus.development)
        model = final_model(system, params, alm=args.alm, fm=args.fm, classes=corpus.classes, class_prompts=prompts,
                            device=args.device, batch_size=args.batch_size, estimator_params=estimator_params)
        log(f"fitting {system} on all {len(corpus)} clips with {params}")
        model.fit(corpus.paths, corpus.labels)
        joblib.dump(model, out / "model.joblib")
        print(f"model: {out / 'model.joblib'} ({system}, {params})")
    return 0


def _predict(args, parser) -> int:
    import joblib

    from .audio import AudioInputError

    if not args.model.is_file():
        parser.error(f"model file {str(args.model)!r} not found.")
    model = joblib.load(args.model)
    if not hasattr(model, "predict"):
        parser.error(f"{str(args.model)!r} holds a {type(model).__name__}, not a fitted estimator with predict().")
    # Runtime options given on the command line replace the saved model's, in every step.
    for name, value in (("dtype", args.dtype), ("n_workers", args.workers)):
        if value is not None and hasattr(model, "get_params"):
            model.set_params(**{k: value for k in model.get_params() if k.split("__")[-1] == name})
    paths = [str(p) for p in args.files]
    try:
        if hasattr(model, "predict_proba"):
            proba = np.asarray(model.predict_proba(paths))
            classes = [str(c) for c in model.classes_]
            labels = [classes[i] for i in np.argmax(proba, axis=1)]
        else:
            labels, proba, classes = [str(v) for v in model.predict(paths)], None, []
    except AudioInputError as exc:
        print(f"zsfuse predict: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        rows = [
            {"path": p, "label": lab, **({"probabilities": dict(zip(classes, map(float, pr)))} if proba is not None else {})}
            for p, lab, pr in zip(paths, labels, proba if proba is not None else [None] * len(paths))
        ]
        json.dump(rows, sys.stdout, indent=2)
        print()
    else:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["path", "label"] + [f"p_{c}" for c in classes])
        for i, (p, lab) in enumerate(zip(paths, labels)):
            writer.writerow([p, lab] + ([f"{v:.6f}" for v in proba[i]] if proba is not None else []))
    return 0


def _embed(args, parser) -> int:
    from .audio import AudioInputError
    from .datasets import CorpusError, load_corpus
    from .embedding import FMEmbedder
    from .zero_shot import ALMZeroShotScorer

    suffix = args.out.suffix.lower()
    if suffix not in (".npy", ".parquet"):
        parser.error(f"--out {str(args.out)!r}: use a .npy or .parquet file name.")
    if suffix == ".parquet":
        try:
            import pandas  # noqa: F401
            import pyarrow  # noqa: F401
        except ImportError:
            parser.error("--out *.parquet needs pandas and pyarrow: pip install 'sklearn-zsfuse[parquet]'.")
    labels = None
    if args.dataset:
        if args.files or args.root is None:
            parser.error("--dataset takes --root and no file arguments.")
        try:
            corpus = load_corpus(args.dataset, args.root)
        except CorpusError as exc:
            print(f"zsfuse embed: {exc}", file=sys.stderr)
            return 2
        paths, labels = list(corpus.paths), corpus.labels
    elif args.files:
        paths = [str(p) for p in args.files]
    else:
        parser.error("give audio files, or --dataset and --root.")
    common = dict(device=args.device, batch_size=args.batch_size, verbose=0 if args.quiet else 1,
                  **_estimator_params(args, parser))
    try:
        if args.fm:
            layer = "all" if args.layer == "all" else int(args.layer)
            emb = FMEmbedder(args.fm, layer=layer, **common).fit(paths)
            X, names = emb.transform(paths), [str(n) for n in emb.get_feature_names_out()]
        else:
            scorer = ALMZeroShotScorer(args.alm, audio_repeats=args.audio_repeats, **common)
            X = scorer.audio_embeddings(paths)
            names = [f"alm{i}" for i in range(X.shape[1])]
    except AudioInputError as exc:
        print(f"zsfuse embed: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        parser.error(str(exc))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".npy":
        np.save(args.out, X)
        listing = args.out.with_suffix(".paths.txt")
        listing.write_text("".join(f"{p}\n" for p in paths), encoding="utf-8")
        print(f"{X.shape[0]} x {X.shape[1]} embeddings: {args.out} (rows in the order of {listing})")
    else:
        import pandas as pd

        frame = pd.DataFrame(X, columns=names)
        frame.insert(0, "path", paths)
        if labels is not None:
            frame.insert(1, "label", labels)
        frame.to_parquet(args.out, index=False)
        print(f"{X.shape[0]} x {X.shape[1]} embeddings: {args.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
