"""``zsfuse evaluate``: the paper's table on a corpus, optionally saving the chosen system.

``check(args)`` reads every option once into a :class:`Plan` (models checked,
corpora loaded and relabelled), before any clip is read; ``run(plan)`` encodes,
evaluates, writes the report and saves the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .common import (
    add_runtime_options,
    add_selection_options,
    add_threads_option,
    announce_passes,
    check_corpus,
    check_folder,
    estimator_params,
    load_selected,
    log_for,
    model_arg,
    models_given,
)
from .errors import UsageError, UserInputError
from .parsing import Extend, layer, parse_grid, parse_labels, parse_prompts
from .scheduler import add_scheduler_option, check_scheduler

DEFAULT_ALM = "laion/clap-htsat-unfused"
DEFAULT_FM = "microsoft/wavlm-large"
BEST = "best"  # --save-model's default: the best system by UA


def add_parser(sub):
    from ..datasets import LOADERS
    from ..evaluation import systems

    ev = sub.add_parser(
        "evaluate",
        help="the paper's table on a corpus: specialist, zero-shot, ablations, ZS-Fuse",
        description="Speaker-independent evaluation on a corpus's official folds (or train on one corpus, test on "
        "another). Every hyper-parameter ((N_a, N_t), the fusion weight, temperature and normalisation) is chosen "
        "by inner cross-validation on the training folds only.",
    )
    ev.add_argument("--dataset", required=True, choices=sorted(LOADERS), help="corpus loader")
    ev.add_argument("--root", required=True, type=Path, help="the corpus folder (your own copy)")
    ev.add_argument("--alm", type=model_arg, action=Extend, nargs="+", default=[DEFAULT_ALM], metavar="ALM",
                    help=f"CLAP hub id(s) or local directories, or none (default: {DEFAULT_ALM}); several run "
                    "every ALM alone and with every --fm")
    ev.add_argument("--fm", type=model_arg, action=Extend, nargs="+", default=[DEFAULT_FM], metavar="FM",
                    help=f"speech model hub id(s) or directories, 'egemaps' (openSMILE), or none (default: {DEFAULT_FM})")
    ev.add_argument("--layer", nargs="+", type=layer, default=None, metavar="LAYER",
                    help="the specialist's hidden state: an index, 'all' (their mean), or several to sweep, e.g. "
                    "--layer 0 6 12 all (audio is encoded once for all of them; default: the last layer); it "
                    "applies to the --fm models with layers, one with a single state (egemaps) runs once")
    ev.add_argument("--specialist-pairs", action="store_true",
                    help="also evaluate every two --fm models side by side (their embeddings joined) as one more "
                    "specialist, alone and fused with each ALM, e.g. --fm egemaps ge2e --specialist-pairs")
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
                    help="words for labels in the prompts, e.g. --prompt wut=angry freude=happy,joyful; with "
                         "--target, for a dimension's poles: --prompt arousal/low=calm,sleepy arousal/high=excited")
    ev.add_argument("--out", type=Path, default=None, help="output folder (default: zsfuse-results/DATASET)")
    ev.add_argument("--class-weight", choices=["balanced"], default=None,
                    help="weigh every class the same in the specialist's classifier, whatever its number of clips "
                    "(for imbalanced corpora such as IEMOCAP or MSP-Podcast)")
    ev.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    ev.add_argument("--save-model", nargs="?", const=BEST, default=None, metavar="SYSTEM",
                    help="also fit SYSTEM (default: the best by UA) on all clips, hyper-parameters chosen by CV "
                    "over all folds, and save it to OUT/model.joblib for `zsfuse predict`; SYSTEM is one of "
                    f"{', '.join(s.name for s in systems.TABLE)}")
    ev.add_argument("--target", action=Extend, nargs="+", default=None, metavar="DIMENSION[=COLUMN]",
                    help="predict dimensional ratings instead of categories, e.g. --target arousal valence dominance "
                    "(msp_podcast, iemocap; for a csv corpus, numeric columns of metadata.csv: NAME or NAME=COLUMN): "
                    "the same tables by CCC, Pearson r and MAE")
    ev.add_argument("--scale", action=Extend, nargs="+", default=None, metavar="DIMENSION=LOW,HIGH",
                    help="with --target on a csv corpus: the scale a dimension was rated on, e.g. --scale "
                    "arousal=1,7 (default: the range its ratings span)")
    add_selection_options(ev)
    add_threads_option(ev, "the classifiers' fits and predictions (selection, final fits)")
    add_runtime_options(ev)
    add_scheduler_option(ev)
    return ev


@dataclass(frozen=True)
class Plan:
    """Everything ``zsfuse evaluate`` does, read from its options."""

    corpus: object  # the training corpus (--subset, --limit and --label applied)
    test_corpus: object | None  # --test-dataset, relabelled
    alms: list
    fms: list
    layers: list | None
    grid: object  # evaluation.Grid
    prompts: dict | None
    name: str | None  # --name as given (the tables' default is the corpus's)
    out: Path
    class_weight: str | None
    save_model: str | None  # a system's name, BEST or None
    plots: bool
    device: str
    batch_size: int
    estimator_params: dict
    quiet: bool
    scheduler: str | None = None  # encode on this dask cluster first
    targets: tuple | None = None  # --target: the dimensions to predict (None: the categorical run)
    threads: int | None = None  # BLAS/OpenMP threads of the fits (None: the package's choice)
    specialist_pairs: bool = False  # --specialist-pairs: every two specialists also evaluated side by side
    pole_prompts: dict | None = None  # --prompt DIMENSION/POLE=WORDS with --target


def check(args) -> Plan:
    """Every option, every model and the corpora, before any clip is read."""
    from ..encoders.checks import check_alm, check_fm

    alms, fms = models_given(args.alm, "--alm"), models_given(args.fm, "--fm")
    if not alms and not fms:
        raise UsageError("--alm none and --fm none leave nothing to evaluate.")
    if args.layer is not None and not fms:
        raise UsageError("--layer chooses the specialist's hidden state, but --fm is none.")
    if args.specialist_pairs and len(fms) < 2:
        raise UsageError(f"--specialist-pairs joins two specialists, but --fm gives {len(fms)}.")
    for value in args.layer or []:
        if args.layer.count(value) > 1:
            raise UsageError(f"--layer {value} is given twice.")
    if (args.test_dataset is None) != (args.test_root is None):
        raise UsageError("--test-dataset and --test-root go together.")
    if args.test_dataset is not None and args.save_model:
        raise UsageError("--save-model with --test-dataset: save the model from a run on the training corpus alone.")
    if args.save_model not in (None, BEST):
        _check_system(args.save_model, bool(alms), bool(fms))
    # the checks above import nothing heavy, so a misspelt name is answered at once
    grid = parse_grid(args.grid)
    prompts = parse_prompts(args.prompt)
    labels = parse_labels(args.label)
    if not args.no_plots:
        try:
            import matplotlib  # noqa: F401  (checked now, not after an hour of encoding)
        except ImportError:
            raise UsageError(
                "the plots need matplotlib: pip install 'sklearn-zsfuse[plots]', or pass --no-plots.") from None
    check_folder(args.out, "--out")
    check_folder(args.cache_dir, "--cache-dir")
    scheduler = check_scheduler(args)
    for fm in fms:
        check_fm(fm, "--fm")
    if args.layer is not None:
        _check_layers(fms, args.layer)
    for alm in alms:
        check_alm(alm, "--alm")
    if args.scale and not args.target:
        raise UsageError("--scale goes with --target (the scale of a dimension it names).")
    if args.target:
        from .evaluate_dimensions import check_targets

        (corpus, pole_prompts), test_corpus, prompts = check_targets(args, prompts), None, None
        corpus = _relabel([corpus], labels)[0] if labels else corpus
    else:
        (corpus, test_corpus), pole_prompts = _corpora(args, labels), None
    name = args.name or (corpus.name if test_corpus is None else f"{corpus.name} -> {test_corpus.name}")
    return Plan(
        corpus=corpus, test_corpus=test_corpus, alms=alms, fms=fms, layers=args.layer, grid=grid, prompts=prompts,
        name=args.name, out=args.out or Path("zsfuse-results") / name.replace(" -> ", "_to_"),
        class_weight=args.class_weight, save_model=args.save_model, plots=not args.no_plots, device=args.device,
        batch_size=args.batch_size, estimator_params=estimator_params(args), quiet=args.quiet, threads=args.threads,
        specialist_pairs=args.specialist_pairs, scheduler=scheduler,
        targets=tuple(s.partition("=")[0].strip() for s in args.target) if args.target else None,
        pole_prompts=pole_prompts,
    )


def _check_system(name: str, has_alm: bool, has_fm: bool) -> None:
    """``--save-model NAME``: a system of the table that this run makes and that can be deployed."""
    from ..evaluation import systems

    made = [s.name for s in systems.made(has_alm, has_fm)]
    try:
        system = systems.find(name)
    except ValueError:  # its one refusal: no such system
        raise UsageError(f"--save-model {name!r} is not a system{systems.did_you_mean(name)}; choose {BEST} or one "
                         f"of {made}.") from None
    if system.name not in made:
        needs = ("both --alm and --fm" if system.needs_alm and system.needs_fm
                 else "--alm" if system.needs_alm else "--fm")
        raise UsageError(f"--save-model {name!r} needs {needs}; this run makes {made}.")
    if system.build is None:
        raise UsageError(f"--save-model {name!r}: {system.not_deployable}")


def _check_layers(fms, layers) -> None:
    """``--layer`` applies to the specialists with layers; one with a single hidden state runs at it."""
    from ..encoders.checks import check_fm_layers
    from ..encoders.registry import resolve_fm

    layerless = [fm for fm in fms if resolve_fm(fm).layer_count() == 1]
    if len(layerless) == len(fms):
        raise UsageError(f"--layer applies to no --fm model: {str(layerless[0])!r} has a single hidden state "
                         "(eGeMAPS functionals); leave --layer out.")
    for fm in fms:
        if fm in layerless:
            continue
        try:
            check_fm_layers(fm, layers, "--layer")
        except ValueError as exc:  # its one refusal: a layer the model's configuration does not have
            raise UserInputError(str(exc)) from None


def _corpora(args, labels: dict) -> tuple:
    """The training corpus (selected) and the test corpus, each with the --label spellings it has mapped."""
    from ..datasets import load_corpus

    corpus = load_selected(args.dataset, args.root, args.subset, args.limit, allow_outside_root=args.allow_outside_root)
    test_corpus = None if args.test_dataset is None else load_corpus(
        args.test_dataset, args.test_root, allow_outside_root=args.allow_outside_root)
    if labels:
        corpus, test_corpus = (_relabel([corpus, test_corpus], labels) if test_corpus is not None
                               else (_relabel([corpus], labels)[0], None))
    check_corpus(corpus, "evaluate", needs_folds=test_corpus is None)
    if test_corpus is not None:
        check_corpus(test_corpus, "evaluate", needs_folds=False)
    return corpus, test_corpus


def _relabel(corpora, mapping) -> list:
    """Each corpus with the --label spellings it has mapped; a spelling no corpus has is an error."""
    from ..datasets.labels import relabel

    out, used = [], set()
    for corpus in corpora:
        present = {str(v).lower() for v in corpus.labels}
        mine = {k: v for k, v in mapping.items() if k.lower() in present}
        used |= set(mine)
        out.append(relabel(corpus, mine) if mine else corpus)
    unused = sorted(set(mapping) - used)
    if unused:
        seen = sorted({str(v) for c in corpora for v in c.labels})
        raise UsageError(f"--label: no clip has the label(s) {unused}; labels found: {seen}.")
    return out


def run(plan: Plan) -> int:
    if plan.targets:
        from .evaluate_dimensions import run_dimensions

        return run_dimensions(plan)
    from ..evaluation import evaluate
    from ..evaluation.runner import resolve_classifier
    from ..reporting.files import write_report

    log = log_for(plan.quiet)
    for c in (plan.corpus, plan.test_corpus):
        for line in ([] if c is None else c.summary().splitlines()):
            log(line)
    # passes over the audio: each specialist once, each ALM with the single prompt and per (N_a, N_t)
    passes = len(plan.fms) + len(plan.alms) * (1 + len({(1, 1), *plan.grid.amplifications}))
    announce_passes(passes * (2 if plan.test_corpus is not None else 1))
    classifier = resolve_classifier(class_weight=plan.class_weight)
    evaluation = evaluate(
        plan.corpus, alm=plan.alms, fm=plan.fms, layer=plan.layers, test_corpus=plan.test_corpus, name=plan.name,
        grid=plan.grid, class_prompts=plan.prompts, classifier=classifier, device=plan.device,
        batch_size=plan.batch_size, verbose=0 if plan.quiet else 1, estimator_params=plan.estimator_params, log=log,
        threads=plan.threads, specialist_pairs=plan.specialist_pairs, scheduler=plan.scheduler,
    )
    written = write_report(evaluation, plan.out, plots=plan.plots)
    print(evaluation.table())
    print()
    for kind, path in written.items():
        print(f"{kind}: {path}")
    if plan.save_model:
        _save_model(plan, evaluation, classifier, log)
    return 0


def _save_model(plan: Plan, evaluation, classifier, log) -> None:
    """Fit the chosen system on all clips, its settings chosen by CV over all folds, and save it."""
    from ..estimators.persistence import save_model
    from ..evaluation import final_model, select_final
    from ..reporting.progress import phase

    corpus = plan.corpus
    system = evaluation.best_system() if plan.save_model == BEST else plan.save_model
    progress = phase("final fit", 2, unit="step")
    progress.describe(f"{system}: its settings by inner CV on all {len(corpus)} clips")
    params = select_final(evaluation.features, corpus.labels, corpus.folds, corpus.speakers, classes=corpus.classes,
                          grid=plan.grid, development=corpus.development, system=system, threads=plan.threads)
    model = final_model(system, params, alm=plan.alms[0] if plan.alms else None,
                        fm=plan.fms[0] if plan.fms else None,
                        layer=None if plan.layers is None else plan.layers[0], classes=corpus.classes,
                        class_prompts=plan.prompts, classifier=classifier, device=plan.device,
                        batch_size=plan.batch_size, estimator_params=plan.estimator_params)
    progress.update()
    progress.describe(f"{system}: fitting on all {len(corpus)} clips")
    log(f"fitting {system} on all {len(corpus)} clips with {params}")
    model.fit(corpus.paths, corpus.labels)
    save_model(model, plan.out / "model.joblib")  # atomic: a failed save keeps the previous file
    progress.update()
    progress.close()
    print(f"model: {plan.out / 'model.joblib'} ({system}, {params})")
