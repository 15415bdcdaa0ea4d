"""``zsfuse embed``: audio embeddings (specialist or ALM audio tower) to .npy or .parquet.

``check(args)`` reads the options, checks the model and loads the corpus into a
:class:`Plan`; ``run(plan)`` encodes the clips and writes the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .common import (
    add_runtime_options,
    add_selection_options,
    announce_passes,
    check_folder,
    estimator_params,
    load_selected,
    log_for,
)
from .errors import UsageError, UserInputError
from .parsing import layer, positive_int
from .scheduler import add_scheduler_option, check_scheduler


def add_parser(sub):
    from ..datasets import LOADERS

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
    add_selection_options(em)
    add_runtime_options(em)
    add_scheduler_option(em)
    return em


@dataclass(frozen=True)
class Plan:
    """The model to run, the clips, and the file to write."""

    fm: str | None  # a specialist (one of fm, alm)
    alm: str | None  # or an ALM's audio tower
    layers: list  # the specialist's hidden states, one block of columns each
    audio_repeats: int
    paths: list
    columns: dict  # what the rows are, besides their path (with --dataset)
    out: Path
    device: str
    batch_size: int
    estimator_params: dict
    quiet: bool
    scheduler: str | None = None  # encode on this dask cluster first


def check(args) -> Plan:
    """The output file, the model, the layers and the clips, before any clip is read."""
    from ..encoders.checks import check_alm, check_fm, check_fm_layers

    suffix = args.out.suffix.lower()
    if suffix not in (".npy", ".parquet"):
        raise UsageError(f"--out {str(args.out)!r}: use a .npy or .parquet file name.")
    if suffix == ".parquet":
        try:
            import pandas  # noqa: F401
            import pyarrow  # noqa: F401
        except ImportError:
            raise UsageError(
                "--out *.parquet needs pandas and pyarrow: pip install 'sklearn-zsfuse[parquet]'.") from None
    if args.out.is_dir():
        raise UsageError(f"--out {str(args.out)!r} is a folder; give a file name.")
    if args.dataset:
        if args.files or args.root is None:
            raise UsageError("--dataset takes --root and no file arguments.")
    elif args.files:
        if args.subset or args.limit is not None or args.root is not None or args.allow_outside_root:
            raise UsageError("--root, --subset, --limit and --allow-outside-root go with --dataset, not with audio "
                             "files.")
    else:
        raise UsageError("give audio files, or --dataset and --root.")
    check_folder(args.cache_dir, "--cache-dir")
    scheduler = check_scheduler(args)
    if args.fm:
        if args.audio_repeats != 1:
            raise UsageError("--audio-repeats is for --alm; the specialist (--fm) sees each clip once.")
        if len(args.layer) > 1 and "all" in args.layer:
            raise UsageError("--layer all is the mean of every layer; give it alone, or list layer indices.")
        check_fm(args.fm, "--fm")
        try:
            check_fm_layers(args.fm, args.layer, "--layer")
        except ValueError as exc:  # its one refusal: a layer the model's configuration does not have
            raise UserInputError(str(exc)) from None
    else:
        if args.layer != [-1]:
            raise UsageError("--layer is for --fm; the ALM's audio tower gives one embedding.")
        check_alm(args.alm, "--alm")
    columns = {}
    if args.dataset:
        corpus = load_selected(args.dataset, args.root, args.subset, args.limit, allow_outside_root=args.allow_outside_root)
        paths = list(corpus.paths)
        columns = {"label": corpus.labels, "speaker": corpus.speakers, "fold": corpus.folds}
    else:
        paths = [str(p) for p in args.files]
    return Plan(fm=args.fm, alm=args.alm, layers=args.layer, audio_repeats=args.audio_repeats, paths=paths,
                columns=columns, out=args.out, device=args.device, batch_size=args.batch_size,
                estimator_params=estimator_params(args), quiet=args.quiet, scheduler=scheduler)


def run(plan: Plan) -> int:
    from ..estimators.embedding import FMEmbedder
    from ..estimators.zero_shot import ALMZeroShotScorer

    paths = plan.paths
    announce_passes(1)
    common = dict(device=plan.device, batch_size=plan.batch_size, verbose=0 if plan.quiet else 1,
                  **plan.estimator_params)
    if plan.scheduler is not None:  # the cluster fills the cache; the pass below reads it
        from ..estimators.cluster import encode_on_cluster

        model = FMEmbedder(plan.fm, **common) if plan.fm else ALMZeroShotScorer(
            plan.alm, audio_repeats=plan.audio_repeats, **common)
        encode_on_cluster([model], paths, plan.scheduler, verbose=common["verbose"], log=log_for(plan.quiet))
    if plan.fm and len(plan.layers) == 1:
        emb = FMEmbedder(plan.fm, layer=plan.layers[0], **common).fit(paths)
        X, names = emb.transform(paths), [str(n) for n in emb.get_feature_names_out()]
    elif plan.fm:  # several layers from one pass: the cache holds every layer's pooled states
        emb = FMEmbedder(plan.fm, **common).fit(paths)
        layers = emb.layer_embeddings(paths, layers=plan.layers)  # only these, written as clips come
        base = [str(n) for n in emb.get_feature_names_out()]
        X = layers.reshape(len(paths), -1)  # one block of columns per layer
        names = [f"layer{k}_{n}" for k in plan.layers for n in base]
    else:
        scorer = ALMZeroShotScorer(plan.alm, audio_repeats=plan.audio_repeats, **common)
        X = scorer.audio_embeddings(paths)
        names = [f"alm{i}" for i in range(X.shape[1])]
    from ..reporting.embeddings_file import write_embeddings

    # temporary files, renamed once complete: a failed write leaves earlier files as they were
    print(write_embeddings(plan.out, X, paths, names, plan.columns))
    return 0
