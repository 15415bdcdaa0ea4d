"""The ``zsfuse`` command: evaluate on a corpus, predict with a saved model, write embeddings.

    zsfuse evaluate --dataset ravdess --root DIR [--alm ID|PATH|none] [--fm ID|PATH|egemaps|none]
                    [--grid audio_repeats=1,2 text_repeats=1,2,3 weights=0,0.1,...,1] [--out DIR]
    zsfuse predict MODEL.joblib FILE... [--format csv|json]
    zsfuse embed (--fm ID|PATH|egemaps | --alm ID|PATH) (FILE... | --dataset NAME --root DIR) --out X.npy|X.parquet

Every argument and every model path is checked before any clip is read (``CHECKS``);
a user's mistake is one line on stderr and exit status 2, anything else one line and
status 1; ``--debug`` shows the traceback instead. One progress display covers the
whole run (:mod:`sklearn_zsfuse.progress`).
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import json
import sys
import warnings
from pathlib import Path

import numpy as np

from .cli_parsing import CommandParser, Extend, device, layer, one_line, positive_int, subset

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
    if getattr(args, "cache_dir", None) is None:
        return {}
    return {"cache_dir": str(args.cache_dir)}


def _log(args):
    from .progress import note

    if args.quiet:
        return lambda message: None
    return note  # through the run's display: one line each, never into its status line


def _add_common_options(p):
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress messages or bars (the libraries' bars included)")
    p.add_argument("--debug", action="store_true", help="on an error, show the Python traceback")


def _add_runtime_options(p):
    p.add_argument("--device", type=device, default="auto",
                   help="auto (CUDA when present), cpu, cuda, cuda:1, ... (default: auto)")
    p.add_argument("--batch-size", type=positive_int, default=8, help="clips per forward pass (default: 8)")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="on-disk embedding cache shared by runs and processes (default: memory only)")
    _add_common_options(p)


def _add_selection_options(p):
    p.add_argument("--subset", type=subset, action=Extend, metavar="KEY=V1,V2",
                   help="only the clips whose speaker, label or fold is one of the values, e.g. "
                   "--subset speaker=01,02 label=happy,sad (several: all must hold)", nargs="+")
    p.add_argument("--limit", type=positive_int, default=None, metavar="N",
                   help="at most N clips, taken in turn from every (speaker, label) group so that "
                   "speakers, classes and folds stay represented (after --subset)")


def build_parser() -> CommandParser:
    from .datasets import LOADERS

    parser = CommandParser(prog="zsfuse", description="Zero-shot speech emotion recognition (ZS-Fuse).")
    sub = parser.add_subparsers(dest="command", required=True)

    ev = sub.add_parser(
        "evaluate",
        help="the paper's table on a corpus: specialist, zero-shot, ablations, ZS-Fuse",
        description="Speaker-independent evaluation on a corpus's official folds. Every hyper-parameter "
        "((N_a, N_t), the fusion weight) is chosen by inner cross-validation on the training folds only.",
    )
    ev.add_argument("--dataset", required=True, choices=sorted(LOADERS), help="corpus loader")
    ev.add_argument("--root", required=True, type=Path, help="the corpus folder (your own copy)")
    ev.add_argument("--alm", type=_model_arg, action=Extend, nargs="+", default=[DEFAULT_ALM], metavar="ID|PATH",
                    help=f"CLAP hub id or local directory, or none (default: {DEFAULT_ALM})")
    ev.add_argument("--fm", type=_model_arg, action=Extend, nargs="+", default=[DEFAULT_FM], metavar="ID|PATH",
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
    _add_selection_options(ev)
    _add_runtime_options(ev)

    pr = sub.add_parser("predict", help="label and class probabilities of audio files with a saved model")
    pr.add_argument("model", type=Path, help="a fitted estimator saved with joblib (e.g. by evaluate --save-model)")
    pr.add_argument("files", nargs="+", type=Path, help="audio files")
    pr.add_argument("--format", choices=["csv", "json"], default="csv", help="output format on stdout (default: csv)")
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


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    parser = args.command_parser  # its errors read "zsfuse evaluate: error: ..."
    try:
        with _one_line_warnings(args.command):
            CHECKS[args.command](args, parser)  # every argument and model: before any clip is read
            with _run_display(args):
                return COMMANDS[args.command](args, parser)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"zsfuse {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        return _report(args.command, exc)


def _report(command: str, exc: Exception) -> int:
    """One line on stderr; 2 for a user's mistake (a bad file, model, corpus or value), else 1."""
    from .encoders import MissingExtraError

    if isinstance(exc, (ValueError, OSError, MissingExtraError)):
        print(f"zsfuse {command}: {one_line(exc)}", file=sys.stderr)
        return 2
    print(f"zsfuse {command}: unexpected {type(exc).__name__}: {one_line(exc)} (run again with --debug for "
          "the traceback)", file=sys.stderr)
    return 1


@contextlib.contextmanager
def _one_line_warnings(command: str):
    """Each distinct warning once, on one line, through the run's display (shown with -q too).

    The process's own warning settings are put back afterwards.
    """
    from .progress import current_run

    shown = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = f"zsfuse {command}: {category.__name__}: {one_line(message)}"
        if text in shown:
            return
        shown.add(text)
        run = current_run()
        if run is not None:
            run.warning(text)
        else:
            print(text, file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


@contextlib.contextmanager
def _run_display(args):
    """One progress display for the whole run; the libraries' own bars off with -q or in a log file."""
    from .progress import quiet_library_bars, run_progress

    quiet_libraries = args.quiet or not sys.stderr.isatty()
    with (quiet_library_bars() if quiet_libraries else contextlib.nullcontext()):
        with run_progress(sys.stderr, quiet=args.quiet):
            yield


def _plan(passes: int) -> None:
    from .progress import current_run

    run = current_run()
    if run is not None:
        run.plan(passes)


def _read_model(path: Path):
    """A fitted estimator from a joblib file, or one line saying why the file is not one."""
    import joblib

    try:
        return joblib.load(path)
    except Exception as exc:  # a csv, an audio file, a truncated or foreign pickle: all "not a model"
        raise ValueError(
            f"{str(path)!r} cannot be read as a model saved with joblib (e.g. by zsfuse evaluate "
            f"--save-model): {type(exc).__name__}: {one_line(exc) or 'no details'}."
        ) from exc


def _systems(alm, fm) -> list[str]:
    """The systems a run with these branches makes (evaluation.SYSTEMS, in order)."""
    from .evaluation import SYSTEMS

    return [s for s in SYSTEMS if (s == "specialist" and fm is not None)
            or (s.startswith("zero_shot") and alm is not None) or (s == "zs_fuse" and None not in (alm, fm))]


def _single_model(values, option, parser):
    if len(values) > 1:
        parser.error(f"{option}: one model per run ({len(values)} given: {' '.join(map(str, values))}).")
    return values[0]


def _check_evaluate(args, parser) -> None:
    from .evaluation import SYSTEMS
    from .model_checks import check_alm, check_fm

    alm = _single_model(args.alm, "--alm", parser)
    fm = _single_model(args.fm, "--fm", parser)
    if alm is None and fm is None:
        parser.error("--alm none and --fm none leave nothing to evaluate.")
    _parse_grid(args.grid, parser)
    _parse_prompts(args.prompt, parser)
    if args.save_model not in (None, "best"):
        made = _systems(alm, fm)
        if args.save_model not in SYSTEMS:
            close = difflib.get_close_matches(args.save_model, SYSTEMS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            parser.error(f"--save-model {args.save_model!r} is not a system{hint}; choose best or one of {made}.")
        if args.save_model not in made:
            needs = {"specialist": "--fm", "zs_fuse": "both --alm and --fm"}.get(args.save_model, "--alm")
            parser.error(f"--save-model {args.save_model!r} needs {needs}; this run makes {made}.")
    if not args.no_plots:
        try:
            import matplotlib  # noqa: F401  (checked now, not after an hour of encoding)
        except ImportError:
            parser.error("the plots need matplotlib: pip install 'sklearn-zsfuse[plots]', or pass --no-plots.")
    _check_folder(args.out, "--out", parser)
    _check_folder(args.cache_dir, "--cache-dir", parser)
    if fm is not None:
        check_fm(fm, "--fm")
    if alm is not None:
        check_alm(alm, "--alm")


def _check_folder(path, option, parser) -> None:
    if path is not None and path.exists() and not path.is_dir():
        parser.error(f"{option} {str(path)!r} is a file, not a folder.")


def _load_selected(args):
    """The corpus of --dataset/--root, narrowed by --subset and --limit (via Corpus.subset)."""
    from .datasets import CorpusError, load_corpus

    corpus = load_corpus(args.dataset, args.root)
    keep = np.ones(len(corpus), dtype=bool)
    for key, values in args.subset or []:
        column = {"speaker": corpus.speakers, "label": corpus.labels, "fold": corpus.folds}[key]
        column = np.asarray([str(v) for v in column])
        unknown = sorted(set(values) - set(column))
        if unknown:
            raise CorpusError(f"--subset {key}={','.join(values)}: {corpus.name} has no {key} {unknown} "
                              f"(it has {sorted(set(column))[:20]}).")
        keep &= np.isin(column, values)
    index = np.flatnonzero(keep)
    if args.limit is not None and args.limit < len(index):
        index = _spread(index, corpus, args.limit)
    return corpus if len(index) == len(corpus) else corpus.subset(index)


def _spread(index, corpus, limit: int) -> np.ndarray:
    """``limit`` of ``index``, one (speaker, label) group after another, path order within each.

    Groups take turns so that consecutive picks change speaker and label: speaker i
    starts its labels at the i-th class (a diagonal), so a small limit still holds
    several speakers (folds) and several classes.
    """
    classes = {c: k for k, c in enumerate(np.unique(corpus.labels[index]))}
    speakers = {s: k for k, s in enumerate(dict.fromkeys(corpus.speakers[index]))}
    groups: dict = {}
    for i in index:
        groups.setdefault((corpus.speakers[i], corpus.labels[i]), []).append(i)

    def turn(key):
        s, c = speakers[key[0]], classes[key[1]]
        return ((c - s) % len(classes), s)

    queues = [list(reversed(groups[key])) for key in sorted(groups, key=turn)]
    chosen = []
    while len(chosen) < limit:
        for q in queues:
            if q and len(chosen) < limit:
                chosen.append(q.pop())
    return np.sort(np.asarray(chosen))


def _check_corpus(corpus, command: str) -> None:
    from .datasets import CorpusError

    classes = [str(c) for c in corpus.classes]
    if len(classes) < 2:
        raise CorpusError(f"{corpus.name} has one class ({classes[0]!r}) in {len(corpus)} clips; "
                          f"{command} needs at least two.")
    if corpus.n_folds < 1:
        raise CorpusError(f"{corpus.name} has no test fold.")


def _evaluate(args, parser) -> int:
    import joblib

    from .evaluation import evaluate, final_model, select_final
    from .report import write_report

    alm, fm = args.alm[0], args.fm[0]  # one of each (checked)
    grid = _parse_grid(args.grid, parser)
    prompts = _parse_prompts(args.prompt, parser)
    estimator_params = _estimator_params(args, parser)
    log = _log(args)
    corpus = _load_selected(args)
    _check_corpus(corpus, "evaluate")
    out = args.out or Path("zsfuse-results") / corpus.name
    for line in corpus.summary().splitlines():
        log(line)
    if alm is not None:  # passes over the audio: the single prompt, then one per (N_a, N_t)
        configs = {(1, 1), *grid.amplifications}
        _plan((fm is not None) + 1 + len(configs))
    else:
        _plan(1)
    evaluation = evaluate(
        corpus, alm=alm, fm=fm, grid=grid, class_prompts=prompts, device=args.device,
        batch_size=args.batch_size, verbose=0 if args.quiet else 1, estimator_params=estimator_params, log=log,
    )
    written = write_report(evaluation, out, plots=not args.no_plots)
    print(evaluation.table())
    print()
    for kind, path in written.items():
        print(f"{kind}: {path}")
    if args.save_model:
        system = evaluation.best_system() if args.save_model == "best" else args.save_model
        params = select_final(evaluation.features, corpus.labels, corpus.folds, corpus.speakers, classes=corpus.classes,
                              grid=grid, development=corpus.development)
        model = final_model(system, params, alm=alm, fm=fm, classes=corpus.classes, class_prompts=prompts,
                            device=args.device, batch_size=args.batch_size, estimator_params=estimator_params)
        log(f"fitting {system} on all {len(corpus)} clips with {params}")
        model.fit(corpus.paths, corpus.labels)
        joblib.dump(model, out / "model.joblib")
        print(f"model: {out / 'model.joblib'} ({system}, {params})")
    return 0


def _check_predict(args, parser) -> None:
    """Nothing to check before _predict's own first line (the model file); clips are checked by the model."""


def _predict(args, parser) -> int:
    from .audio import AudioInputError

    if not args.model.is_file():
        parser.error(f"model file {str(args.model)!r} not found.")
    model = _read_model(args.model)
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
        print(f"zsfuse predict: {one_line(exc)}", file=sys.stderr)
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


def _check_embed(args, parser) -> None:
    from .model_checks import check_alm, check_fm, check_fm_layers

    suffix = args.out.suffix.lower()
    if suffix not in (".npy", ".parquet"):
        parser.error(f"--out {str(args.out)!r}: use a .npy or .parquet file name.")
    if suffix == ".parquet":
        try:
            import pandas  # noqa: F401
            import pyarrow  # noqa: F401
        except ImportError:
            parser.error("--out *.parquet needs pandas and pyarrow: pip install 'sklearn-zsfuse[parquet]'.")
    if args.out.is_dir():
        parser.error(f"--out {str(args.out)!r} is a folder; give a file name.")
    if args.dataset:
        if args.files or args.root is None:
            parser.error("--dataset takes --root and no file arguments.")
    elif args.files:
        if args.subset or args.limit is not None or args.root is not None:
            parser.error("--root, --subset and --limit go with --dataset, not with audio files.")
    else:
        parser.error("give audio files, or --dataset and --root.")
    _check_folder(args.cache_dir, "--cache-dir", parser)
    if args.fm:
        if args.audio_repeats != 1:
            parser.error("--audio-repeats is for --alm; the specialist (--fm) sees each clip once.")
        if len(args.layer) > 1 and "all" in args.layer:
            parser.error("--layer all is the mean of every layer; give it alone, or list layer indices.")
        check_fm(args.fm, "--fm")
        check_fm_layers(args.fm, args.layer, "--layer")
    else:
        if args.layer != [-1]:
            parser.error("--layer is for --fm; the ALM's audio tower gives one embedding.")
        check_alm(args.alm, "--alm")


def _embed(args, parser) -> int:
    from .embedding import FMEmbedder
    from .zero_shot import ALMZeroShotScorer

    columns = {}  # what the rows are, besides their path (with --dataset)
    if args.dataset:
        corpus = _load_selected(args)
        paths = list(corpus.paths)
        columns = {"label": corpus.labels, "speaker": corpus.speakers, "fold": corpus.folds}
    else:
        paths = [str(p) for p in args.files]
    _plan(1)
    common = dict(device=args.device, batch_size=args.batch_size, verbose=0 if args.quiet else 1,
                  **_estimator_params(args, parser))
    if args.fm and len(args.layer) == 1:
        emb = FMEmbedder(args.fm, layer=args.layer[0], **common).fit(paths)
        X, names = emb.transform(paths), [str(n) for n in emb.get_feature_names_out()]
    elif args.fm:  # several layers from one pass: the cache holds every layer's pooled states
        emb = FMEmbedder(args.fm, **common).fit(paths)
        layers = emb.layer_embeddings(paths)
        base = [str(n) for n in emb.get_feature_names_out()]
        X = np.hstack([layers[:, k] for k in args.layer])
        names = [f"layer{k}_{n}" for k in args.layer for n in base]
    else:
        scorer = ALMZeroShotScorer(args.alm, audio_repeats=args.audio_repeats, **common)
        X = scorer.audio_embeddings(paths)
        names = [f"alm{i}" for i in range(X.shape[1])]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.out.suffix.lower() == ".npy":
        np.save(args.out, X)
        listing = args.out.with_suffix(".paths.txt")
        listing.write_text("".join(f"{p}\n" for p in paths), encoding="utf-8")
        print(f"{X.shape[0]} x {X.shape[1]} embeddings: {args.out} (rows in the order of {listing})")
    else:
        import pandas as pd

        frame = pd.DataFrame(X, columns=names)
        frame.insert(0, "path", paths)
        for i, (name, values) in enumerate(columns.items(), start=1):
            frame.insert(i, name, values)
        frame.to_parquet(args.out, index=False)
        print(f"{X.shape[0]} x {X.shape[1]} embeddings: {args.out}")
    return 0


COMMANDS = {"evaluate": _evaluate, "predict": _predict, "embed": _embed}
CHECKS = {"evaluate": _check_evaluate, "predict": _check_predict, "embed": _check_embed}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
