"""What the commands share: option groups, model lists, the corpus selection, log lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import UsageError
from .parsing import Extend, device, positive_int, subset, threads


def model_arg(value: str):
    """A model option's value: ``none`` (no model of that kind) is None."""
    return None if value.strip().lower() == "none" else value


def models_given(values, option: str) -> list:
    """The models of a list option (``--alm``/``--fm``), ``none`` left out; each at most once."""
    if values is None:
        return []
    if None in values and len(values) > 1:
        raise UsageError(f"{option} none cannot be combined with models.")
    models = [v for v in values if v is not None]
    for model in models:
        if models.count(model) > 1:
            raise UsageError(f"{option} {model!r} is given twice.")
    return models


def estimator_params(args) -> dict:
    """The estimators' parameters that the runtime options set (``--dtype``, ``--workers``, ``--cache-dir``)."""
    params = {"dtype": args.dtype}
    if args.workers is not None:
        params["n_workers"] = args.workers
    if args.cache_dir is not None:
        params["cache_dir"] = str(args.cache_dir)
    return params


def log_for(quiet: bool):
    """Where a command's log lines go: the run's display (one line each), or nowhere with -q."""
    from ..reporting.progress import note

    if quiet:
        return lambda message: None
    return note  # through the run's display: never into its status line


def add_common_options(p):
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress messages or bars (the libraries' bars included)")
    p.add_argument("--debug", action="store_true", help="on an error, show the Python traceback")


DTYPES = ("float32", "bfloat16", "float16", "auto",)
DTYPE_HELP = (
    "the models' precision: bfloat16 about halves the time on GPUs and on CPUs with native bf16 "
    "(AVX512-BF16, AMX); auto picks it where native, else float32 (default: float32)"
)


def add_runtime_options(p):
    p.add_argument("--device", type=device, default="auto",
                   help="auto (CUDA when present), cpu, cuda, cuda:1, ...; several, one model replica each: "
                   "cuda:0,cuda:1 or cuda:all (default: auto)")
    p.add_argument("--batch-size", type=positive_int, default=8, help="clips per forward pass (default: 8)")
    p.add_argument("--dtype", choices=DTYPES, default="float32", help=DTYPE_HELP)
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="on-disk embedding cache shared by runs and processes (default: memory only)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="input threads decoding and resampling audio (default: the cores present)")
    add_common_options(p)


def add_threads_option(p, what: str):
    p.add_argument("--threads", type=threads, default=None, metavar="N",
                   help=f"BLAS/OpenMP threads of {what} (default: 1, the fastest for these small fits and "
                   "far faster than more on a busy machine; -1: the libraries' own setting, one per core)")


def add_selection_options(p):
    p.add_argument("--subset", type=subset, action=Extend, metavar="KEY=V1,V2",
                   help="only the clips whose speaker, label or fold is one of the values, e.g. "
                   "--subset speaker=01,02 label=happy,sad (several: all must hold)", nargs="+")
    p.add_argument("--limit", type=positive_int, default=None, metavar="N",
                   help="at most N clips, taken in turn from every (speaker, label) group so that "
                   "speakers, classes and folds stay represented (after --subset)")
    p.add_argument("--allow-outside-root", action="store_true",
                   help="read clips whose paths in the corpus's metadata lead outside --root (absolute paths on "
                   "a shared disk); by default they are refused, as metadata may come from someone else")


def announce_passes(passes: int) -> None:
    """Tell the run's display how many encoding passes to expect (for its estimate of the time left)."""
    from ..reporting.progress import current_run

    run = current_run()
    if run is not None:
        run.plan(passes)


def check_folder(path, option) -> None:
    if path is not None and path.exists() and not path.is_dir():
        raise UsageError(f"{option} {str(path)!r} is a file, not a folder.")


def load_selected(dataset: str, root, subsets, limit, **options):
    """The corpus ``dataset`` at ``root`` (``options``: the loader's), narrowed by --subset and --limit."""
    from ..datasets import CorpusError, load_corpus

    corpus = load_corpus(dataset, root, **options)
    keep = np.ones(len(corpus), dtype=bool)
    for key, values in subsets or []:
        column = {"speaker": corpus.speakers, "label": corpus.labels, "fold": corpus.folds}[key]
        column = np.asarray([str(v) for v in column])
        unknown = sorted(set(values) - set(column))
        if unknown:
            raise CorpusError(f"--subset {key}={','.join(values)}: {corpus.name} has no {key} {unknown} "
                              f"(it has {sorted(set(column))[:20]}).")
        keep &= np.isin(column, values)
    index = np.flatnonzero(keep)
    if limit is not None and limit < len(index):
        index = _spread(index, corpus, limit)
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


def check_corpus(corpus, command: str, *, needs_folds: bool = True) -> None:
    from ..datasets import CorpusError

    classes = [str(c) for c in corpus.classes]
    if len(classes) < 2:
        raise CorpusError(f"{corpus.name} has one class ({classes[0]!r}) in {len(corpus)} clips; "
                          f"{command} needs at least two.")
    if needs_folds and corpus.n_folds < 1:
        raise CorpusError(f"{corpus.name} has no test fold.")
