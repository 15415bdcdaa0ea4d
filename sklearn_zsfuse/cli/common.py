"""What the commands share: option groups, model lists, the corpus selection, log lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .parsing import Extend, device, positive_int, subset


def _model_arg(value: str):
    return None if value.strip().lower() == "none" else value


def _models(values, option, parser) -> list:
    if values is None:
        return []
    if None in values and len(values) > 1:
        parser.error(f"{option} none cannot be combined with models.")
    return [v for v in values if v is not None]



def _estimator_params(args, parser) -> dict:
    params = {"dtype": args.dtype}
    if getattr(args, "workers", None) is not None:
        params["n_workers"] = args.workers
    if getattr(args, "cache_dir", None) is not None:
        params["cache_dir"] = str(args.cache_dir)
    return params


def _log(args):
    from ..reporting.progress import note

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



def _plan(passes: int) -> None:
    from ..reporting.progress import current_run

    run = current_run()
    if run is not None:
        run.plan(passes)


def _check_folder(path, option, parser) -> None:
    if path is not None and path.exists() and not path.is_dir():
        parser.error(f"{option} {str(path)!r} is a file, not a folder.")


def _load_selected(args):
    """The corpus of --dataset/--root, narrowed by --subset and --limit (via Corpus.subset)."""
    from ..datasets import CorpusError, load_corpus

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
    from ..datasets import CorpusError

    classes = [str(c) for c in corpus.classes]
    if len(classes) < 2:
        raise CorpusError(f"{corpus.name} has one class ({classes[0]!r}) in {len(corpus)} clips; "
                          f"{command} needs at least two.")
    if needs_folds and corpus.n_folds < 1:
        raise CorpusError(f"{corpus.name} has no test fold.")


