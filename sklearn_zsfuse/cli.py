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
    params = {"dtype": args.dtype}
    if getattr(args, "workers", None) is not None:
        params["n_workers"] = args.workers
    if getattr(args, "cache_dir", None) is not None:
        params["cache_dir"] = str(args.cache_dir)
    return params


def _log(args):
    from .progress import note

    if args.quiet:
        return lambda message: None
    return note  # through the run's display: one line each, never into its status line


def _add_common_options(p):
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress messages or bars (the libraries' bars included)")
    p.add_argument("--debug", action="store_true", help="on an error, show the Python traceback")


DTYPES = ["float32", "bfloat16", "float16", "auto"]
DTYPE_HELP = (
    "the models' precision: bfloat16 about halves the time on GPUs and on CPUs with native bf16 "
    "(AVX512-BF16, AMX); auto picks it where native, else float32 (default: float32)"
)


def _add_runtime_options(p):
    p.add_argument("--device", type=device, default="auto",
                   help="auto (CUDA when present), cpu, cuda, cuda:1, ... (default: auto)")
    p.add_argument("--batch-size", type=positive_int, default=8, help="clips per forward pass (default: 8)")
    p.add_argument("--dtype", choices=DTYPES, default="float32", help=DTYPE_HELP)
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="on-disk embedding cache shared by runs and processes (default: memory only)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="input threads decoding and resampling audio (default: the cores present)")
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


def _systems(has_alm: bool, has_fm: bool) -> list[str]:
    """The systems a run with these branches makes (evaluation.SYSTEMS, in order)."""
    from .systems import SYSTEMS

    return [s for s in SYSTEMS if (s == "specialist" and has_fm) or (s.startswith("zero_shot") and has_alm)
            or (s.startswith("zs_fuse") and has_alm and has_fm)]


def _check_evaluate(args, parser) -> None:
    from .model_checks import check_alm, check_fm, check_fm_layers
    from .systems import SYSTEMS

    alms, fms = _models(args.alm, "--alm", parser), _models(args.fm, "--fm", parser)
    if not alms and not fms:
        parser.error("--alm none and --fm none leave nothing to evaluate.")
    if args.layer is not None and not fms:
        parser.error("--layer chooses the specialist's hidden state, but --fm is none.")
    if (args.test_dataset is None) != (args.test_root is None):
        parser.error("--test-dataset and --test-root go together.")
    if args.test_dataset is not None and args.save_model:
        parser.error("--save-model with --test-dataset: save the model from a run on the training corpus alone.")
    if args.save_model not in (None, "best"):
        made = _systems(bool(alms), bool(fms))
        if args.save_model not in SYSTEMS:
            close = difflib.get_close_matches(args.save_model, SYSTEMS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            parser.error(f"--save-model {args.save_model!r} is not a system{hint}; choose best or one of {made}.")
        if args.save_model not in made:
            needs = ("--fm" if args.save_model == "specialist"
                     else "both --alm and --fm" if args.save_model.startswith("zs_fuse") else "--alm")
            parser.error(f"--save-model {args.save_model!r} needs {needs}; this run makes {made}.")
    # the checks above import nothing heavy, so a misspelt name is answered at once
    _parse_grid(args.grid, parser)
    _parse_prompts(args.prompt, parser)
    _parse_labels(args.label, parser)
    if not args.no_plots:
        try:
            import matplotlib  # noqa: F401  (checked now, not after an hour of encoding)
        except ImportError:
            parser.error("the plots need matplotlib: pip install 'sklearn-zsfuse[plots]', or pass --no-plots.")
    _check_folder(args.out, "--out", parser)
    _check_folder(args.cache_dir, "--cache-dir", parser)
    for fm in fms:
        check_fm(fm, "--fm")
        if args.layer is not None:
            check_fm_layers(fm, args.layer, "--layer")
    for alm in alms:
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


def _check_corpus(corpus, command: str, *, needs_folds: bool = True) -> None:
    from .datasets import CorpusError

    classes = [str(c) for c in corpus.classes]
    if len(classes) < 2:
        raise CorpusError(f"{corpus.name} has one class ({classes[0]!r}) in {len(corpus)} clips; "
                          f"{command} needs at least two.")
    if needs_folds and corpus.n_folds < 1:
        raise CorpusError(f"{corpus.name} has no test fold.")


def _evaluate(args, parser) -> int:
    from .datasets import load_corpus
    from .evaluation import evaluate, final_model, select_final
    from .evaluation.runner import resolve_classifier
    from .persistence import save_model
    from .report import write_report

    alms, fms = _models(args.alm, "--alm", parser), _models(args.fm, "--fm", parser)
    grid = _parse_grid(args.grid, parser)
    prompts = _parse_prompts(args.prompt, parser)
    labels = _parse_labels(args.label, parser)
    estimator_params = _estimator_params(args, parser)
    log = _log(args)
    corpus = _load_selected(args)
    test_corpus = None if args.test_dataset is None else load_corpus(args.test_dataset, args.test_root)
    if labels:
        corpus, test_corpus = (_relabel([corpus, test_corpus], labels, parser) if test_corpus is not None
                               else (_relabel([corpus], labels, parser)[0], None))
    _check_corpus(corpus, "evaluate", needs_folds=test_corpus is None)
    if test_corpus is not None:
        _check_corpus(test_corpus, "evaluate", needs_folds=False)
    name = args.name or (corpus.name if test_corpus is None else f"{corpus.name} -> {test_corpus.name}")
    out = args.out or Path("zsfuse-results") / name.replace(" -> ", "_to_")
    for c in (corpus, test_corpus):
        for line in ([] if c is None else c.summary().splitlines()):
            log(line)
    # passes over the audio: each specialist once, each ALM with the single prompt and per (N_a, N_t)
    passes = len(fms) + len(alms) * (1 + len({(1, 1), *grid.amplifications}))
    _plan(passes * (2 if test_corpus is not None else 1))
    classifier = resolve_classifier(class_weight=args.class_weight)
    evaluation = evaluate(
        corpus, alm=alms, fm=fms, layer=args.layer, test_corpus=test_corpus, name=args.name, grid=grid,
        class_prompts=prompts, classifier=classifier, device=args.device, batch_size=args.batch_size,
        verbose=0 if args.quiet else 1,
        estimator_params=estimator_params, log=log,
    )
    written = write_report(evaluation, out, plots=not args.no_plots)
    print(evaluation.table())
    print()
    for kind, path in written.items():
        print(f"{kind}: {path}")
    if args.save_model:
        system = evaluation.best_system() if args.save_model == "best" else args.save_model
        params = select_final(evaluation.features, corpus.labels, corpus.folds, corpus.speakers, classes=corpus.classes,
                              grid=grid, development=corpus.development, system=system)
        model = final_model(system, params, alm=alms[0] if alms else None, fm=fms[0] if fms else None,
                            layer=None if args.layer is None else args.layer[0], classes=corpus.classes,
                            class_prompts=prompts, classifier=classifier, device=args.device,
                            batch_size=args.batch_size, estimator_params=estimator_params)
        log(f"fitting {system} on all {len(corpus)} clips with {params}")
        model.fit(corpus.paths, corpus.labels)
        save_model(model, out / "model.joblib")  # atomic: a failed save keeps the previous file
        print(f"model: {out / 'model.joblib'} ({system}, {params})")
    return 0


def _check_predict(args, parser) -> None:
    """Nothing to check before _predict's own first line (the model file); clips are checked by the model."""


def _override(model, name: str, value) -> None:
    """Set ``name`` on every estimator of ``model`` that has it (``dtype``, ``fm__dtype``, ...)."""
    if value is not None:
        model.set_params(**{k: value for k in model.get_params() if k.split("__")[-1] == name})


def _predict(args, parser) -> int:
    from .audio import AudioInputError

    if not args.model.is_file():
        parser.error(f"model file {str(args.model)!r} not found.")
    if args.model.suffix.lower() == ".skops":
        model, problem = _read_skops(args.model)
        if problem:
            print(f"zsfuse predict: {problem}", file=sys.stderr)
            return 2
    else:
        model = _read_model(args.model)  # a pickle: runs its code (said in --help and docs/cli.md)
    if not callable(getattr(type(model), "predict", None)) or not hasattr(model, "get_params"):
        print(
            f"zsfuse predict: {str(args.model)!r} holds a {type(model).__name__}, not a fitted estimator "
            "with predict().",
            file=sys.stderr,
        )
        return 2
    _override(model, "dtype", args.dtype)
    _override(model, "n_workers", args.workers)
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


def _read_skops(path: Path):
    """``(estimator, None)``, or ``(None, one-line reason)``: untrusted types are named, never built."""
    from .encoders import ModelLoadError
    from .persistence import SKOPS_TRUSTED_TYPES

    try:
        import skops.io as sio
    except ImportError:
        return None, f"reading {str(path)!r} needs skops: pip install 'sklearn-zsfuse[deploy]'."
    try:
        untrusted = sorted(set(sio.get_untrusted_types(file=path)) - set(SKOPS_TRUSTED_TYPES))
        if untrusted:
            return None, (
                f"{str(path)!r} holds types that are not trusted, so it was not loaded: {untrusted}. If you "
                "trust the file, load it in Python with skops.io.load(path, trusted=[...])."
            )
        return sio.load(path, trusted=SKOPS_TRUSTED_TYPES), None
    except ModelLoadError as exc:
        return None, f"{str(path)!r}: {exc}"
    except Exception as exc:  # skops raises many types for a damaged or foreign file
        return None, f"{str(path)!r} is not a readable .skops file ({type(exc).__name__}: {exc})."


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
