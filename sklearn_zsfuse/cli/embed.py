"""``zsfuse embed``: audio embeddings (specialist or ALM audio tower) to .npy or .parquet."""

from __future__ import annotations

import numpy as np

from .common import _check_folder, _estimator_params, _load_selected, _plan


def _check_embed(args, parser) -> None:
    from ..encoders.checks import check_alm, check_fm, check_fm_layers

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
    from ..estimators.embedding import FMEmbedder
    from ..estimators.zero_shot import ALMZeroShotScorer

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
    from ..reporting.embeddings_file import write_embeddings

    print(write_embeddings(args.out, X, paths, names, columns))  # temporary files renamed once complete
    return 0


