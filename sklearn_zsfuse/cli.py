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


def _layer_arg(value: str):
    if value.strip().lower() == "all":
        return "all"
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a layer index or 'all'") from None


def _models(values, option, parser) -> list:
    if values is None:
        return []
    if None in values and len(values) > 1:
        parser.error(f"{option} none cannot be combined with models.")
    return [v for v in values if v is not None]


def _parse_labels(items, parser) -> dict:
    from .datasets.labels import check_overrides

    mapping = {}
    for item in items or []:
        source, sep, target = item.partition("=")
        if not sep or not source.strip() or not target.strip():
            parser.error(f"--label {item!r}: expected SPELLING=CANONICAL, e.g. wut=angry.")
        mapping[source.strip()] = target.strip()
    try:
        check_overrides(mapping)
    except ValueError as exc:
        parser.error(f"--label: {exc}")
    return mapping


def _relabel(corpora, mapping, parser) -> list:
    """Each corpus with the --label spellings it has mapped; a spelling no corpus has is an error."""
    from .datasets.labels import relabel

    out, used = [], set()
    for corpus in corpora:
        present = {str(v).lower() for v in corpus.labels}
        mine = {k: v for k, v in mapping.items() if k.lower() in present}
        used |= set(mine)
        out.append(relabel(corpus, mine) if mine else corpus)
    unused = sorted(set(mapping) - used)
    if unused:
        seen = sorted({str(v) for c in corpora for v in c.labels})
        parser.error(f"--label: no clip has the label(s) {unused}; labels found: {seen}.")
    return out


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
    if getattr(args, "cache_dir", None) is None:
        return {}
    return {"cache_dir": str(args.cache_dir)}


def _log(args):
    if args.quiet:
        return lambda message: None
    start = time.perf_counter()
    return lambda message: print(f"[{time.perf_counter() - start:7.1f}s] {message}", file=sys.stderr, flush=True)


def _add_runtime_options(p):
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1, ... (default: auto)")
    p.add_argument("--batch-size", type=int, default=8, help="clips per forward pass (default: 8)")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="on-disk embedding cache shared by runs and processes (default: memory only)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress messages or bars")


def build_parser() -> argparse.ArgumentParser:
    from .datasets import LOADERS

    parser = argparse.ArgumentParser(prog="zsfuse", description="Zero-shot speech emotion recognition (ZS-Fuse).")
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
    ev.add_argument("--alm", type=_model_arg, nargs="+", default=[DEFAULT_ALM], metavar="ALM",
                    help=f"CLAP hub id(s) or local directories, or none (default: {DEFAULT_ALM}); several run "
                    "every ALM alone and with every --fm")
    ev.add_argument("--fm", type=_model_arg, nargs="+", default=[DEFAULT_FM], metavar="FM",
                    help=f"speech model hub id(s) or directories, 'egemaps' (openSMILE), or none (default: {DEFAULT_FM})")
    ev.add_argument("--layer", nargs="+", type=_layer_arg, default=None, metavar="LAYER",
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
    ev.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    ev.add_argument("--save-model", nargs="?", const="best", default=None, metavar="SYSTEM",
                    help="also fit SYSTEM (default: the best by UA) on all clips, hyper-parameters chosen by CV "
                    "over all folds, and save it to OUT/model.joblib for `zsfuse predict`")
    _add_runtime_options(ev)

    pr = sub.add_parser("predict", help="label and class probabilities of audio files with a saved model")
    pr.add_argument("model", type=Path, help="a fitted estimator saved with joblib (e.g. by evaluate --save-model)")
    pr.add_argument("files", nargs="+", type=Path, help="audio files")
    pr.add_argument("--format", choices=["csv", "json"], default="csv", help="output format on stdout (default: csv)")

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

    alms, fms = _models(args.alm, "--alm", parser), _models(args.fm, "--fm", parser)
    if not alms and not fms:
        parser.error("--alm none and --fm none leave nothing to evaluate.")
    if args.layer is not None and not fms:
        parser.error("--layer chooses the specialist's hidden state, but --fm is none.")
    if (args.test_dataset is None) != (args.test_root is None):
        parser.error("--test-dataset and --test-root go together.")
    if args.test_dataset is not None and args.save_model:
        parser.error("--save-model with --test-dataset: save the model from a run on the training corpus alone.")
    grid = _parse_grid(args.grid, parser)
    prompts = _parse_prompts(args.prompt, parser)
    labels = _parse_labels(args.label, parser)
    estimator_params = _estimator_params(args, parser)
    if not args.no_plots:
        try:
            import matplotlib  # noqa: F401  (checked now, not after an hour of encoding)
        except ImportError:
            parser.error("the plots need matplotlib: pip install 'sklearn-zsfuse[plots]', or pass --no-plots.")
    log = _log(args)
    try:
        corpus = load_corpus(args.dataset, args.root)
        test_corpus = None if args.test_dataset is None else load_corpus(args.test_dataset, args.test_root)
    except CorpusError as exc:
        print(f"zsfuse evaluate: {exc}", file=sys.stderr)
        return 2
    if labels:
        corpus, test_corpus = (_relabel([corpus, test_corpus], labels, parser) if test_corpus is not None
                               else (_relabel([corpus], labels, parser)[0], None))
    if corpus.n_folds < 1 and test_corpus is None:
        print(f"zsfuse evaluate: {corpus.name} has no test fold.", file=sys.stderr)
        return 2
    name = args.name or (corpus.name if test_corpus is None else f"{corpus.name} -> {test_corpus.name}")
    out = args.out or Path("zsfuse-results") / name.replace(" -> ", "_to_")
    log(corpus.summary())
    if test_corpus is not None:
        log(test_corpus.summary())
    try:
        evaluation = evaluate(
            corpus, alm=alms, fm=fms, layer=args.layer, test_corpus=test_corpus, name=args.name, grid=grid,
            class_prompts=prompts, device=args.device, batch_size=args.batch_size, verbose=0 if args.quiet else 1,
            estimator_params=estimator_params, log=log,
        )
    except ValueError as exc:  # e.g. a layer out of range, corpora sharing fewer than two classes
        print(f"zsfuse evaluate: {exc}", file=sys.stderr)
        return 2
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
                              grid=grid, development=corpus.development, system=system)
        try:
            model = final_model(system, params, alm=alms[0] if alms else None, fm=fms[0] if fms else None,
                                layer=None if args.layer is None else args.layer[0], classes=corpus.classes,
                                class_prompts=prompts, device=args.device, batch_size=args.batch_size,
                                estimator_params=estimator_params)
        except ValueError as exc:  # a system with no deployable estimator of its own
            print(f"zsfuse evaluate: --save-model {system!r}: {exc}", file=sys.stderr)
            return 2
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
