"""``zsfuse evaluate --target arousal valence ...``: the dimensional tables instead of the categorical one.

``check_targets(args, prompts)`` reads ``--target``/``--scale`` and the words
``--prompt`` gave, refuses the options that mean nothing for ratings and loads
the corpus with its dimensional ratings;
``run_dimensions(plan)`` encodes, evaluates and writes the report.
"""

from __future__ import annotations

import math

from .common import load_selected
from .errors import UsageError

__all__ = ["check_targets", "parse_scales", "parse_targets", "pole_prompts_of", "run_dimensions"]


def parse_targets(items) -> dict:
    """``--target arousal valence=val`` as ``{dimension: column}`` (a bare name is its own column)."""
    columns = {}
    for item in items or []:
        name, sep, column = item.partition("=")
        name, column = name.strip(), (column.strip() if sep else name.strip())
        if not name or not column or name.lower() == "category":
            raise UsageError(f"--target {item!r}: expected a dimension name, or NAME=COLUMN for a csv corpus's "
                             "column, e.g. --target arousal valence=val.")
        if name in columns:
            raise UsageError(f"--target {name} is given twice.")
        columns[name] = column
    return columns


def parse_scales(items) -> dict:
    """``--scale arousal=1,7`` as ``{dimension: (low, high)}``."""
    scales = {}
    for item in items or []:
        name, sep, values = item.partition("=")
        try:
            low, high = (float(v) for v in values.split(","))
        except ValueError:
            low = high = math.nan
        if not sep or not name.strip() or not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise UsageError(f"--scale {item!r}: expected NAME=LOW,HIGH with LOW < HIGH, e.g. --scale arousal=1,7.")
        scales[name.strip()] = (low, high)
    return scales


def check_targets(args, prompts: dict | None):
    """The corpus of a dimensional run, with its ratings, and the pole words of ``prompts`` (``--prompt``, parsed);
    every option that means nothing for ratings refused."""
    from ..datasets.dimensions import dimensional_options
    from ..estimators.attribute_prompts import POLE_WORDS

    columns, scales = parse_targets(args.target), parse_scales(args.scale)
    refused = [(args.save_model, "--save-model", "dimensional systems are not saved yet"),
               (args.test_dataset, "--test-dataset", "cross-corpus tests are categorical only"),
               (args.class_weight, "--class-weight", "classes are not weighed when ratings are predicted"),
               (args.specialist_pairs, "--specialist-pairs", "joined specialists are evaluated on categories only")]
    for given, option, why in refused:
        if given:
            raise UsageError(f"{option} with --target: {why}.")
    unknown = sorted(set(scales) - set(columns))
    if unknown:
        raise UsageError(f"--scale for {unknown}, which --target does not name.")
    alms = [a for a in (args.alm or []) if a is not None]
    pole_prompts = pole_prompts_of(prompts, list(columns))
    if pole_prompts and not alms:
        raise UsageError("--prompt words the zero-shot scorer's prompts, but --alm is none.")
    wordless = sorted(d for d in columns if d not in POLE_WORDS and d not in (pole_prompts or {}))
    if alms and wordless:
        raise UsageError(f"--target {wordless}: the zero-shot scorer has words for the poles of {list(POLE_WORDS)} "
                         f"only; word the poles with --prompt {wordless[0]}/low=WORD {wordless[0]}/high=WORD, or use "
                         "--alm none.")
    try:
        options = dimensional_options(args.dataset, columns, scales)
    except ValueError as exc:  # its refusals: a corpus without ratings, a column or scale it cannot take
        raise UsageError(f"--target: {exc}") from None
    corpus = load_selected(args.dataset, args.root, args.subset, args.limit,
                           allow_outside_root=args.allow_outside_root, **options)
    from ..datasets import CorpusError

    missing = [d for d in columns if d not in corpus.dimensions]
    if missing:
        raise CorpusError(f"--target {missing}: this copy of {corpus.name} has no such ratings (it has "
                          f"{list(corpus.dimensions) or 'none'}).")
    if corpus.n_folds < 1:  # its categories may be one or none: ratings are what is predicted
        raise CorpusError(f"{corpus.name} has no test fold.")
    return corpus, pole_prompts


def pole_prompts_of(prompts: dict | None, dimensions: list) -> dict | None:
    """``--prompt arousal/low=calm,sleepy`` (as :func:`~.parsing.parse_prompts` read it) with ``--target``: the
    scorer's ``pole_prompts`` (None without the option)."""
    from ..estimators.attribute_prompts import POLES, check_pole_prompts

    pole_prompts = {}
    for key, words in (prompts or {}).items():
        dimension, _, pole = key.partition("/")
        if pole not in POLES or not dimension:
            raise UsageError(f"--prompt {key}=...: with --target, name a dimension's pole, DIMENSION/POLE=WORD[,WORD] "
                             f"with POLE one of {', '.join(POLES)}, e.g. --prompt arousal/low=calm,sleepy.")
        if dimension not in dimensions:
            raise UsageError(f"--prompt {key}=...: {dimension!r} is not among the dimensions --target names "
                             f"({', '.join(dimensions)}).")
        pole_prompts.setdefault(dimension, {})[pole] = words
    if "middle" in {p for poles in pole_prompts.values() for p in poles}:
        raise UsageError("--prompt DIMENSION/middle=...: the evaluation scores the low and high poles only.")
    try:  # a pole left out keeps its built-in words; a dimension without any needs both
        check_pole_prompts(pole_prompts, list(pole_prompts), middle=False)
    except ValueError as exc:
        raise UsageError(f"--prompt: {exc}") from None
    return pole_prompts or None


def run_dimensions(plan) -> int:
    from ..evaluation import evaluate
    from ..reporting.dimension_report import write_dimensional_report
    from .common import announce_passes, log_for

    log = log_for(plan.quiet)
    for line in plan.corpus.summary().splitlines():
        log(line)
    announce_passes(len(plan.fms) + len(plan.alms) * (1 + len({(1, 1), *plan.grid.amplifications})))
    study = evaluate(
        plan.corpus, target=list(plan.targets), alm=plan.alms, fm=plan.fms, layer=plan.layers, name=plan.name, grid=plan.grid,
        device=plan.device, batch_size=plan.batch_size, verbose=0 if plan.quiet else 1,
        pole_prompts=plan.pole_prompts, estimator_params=plan.estimator_params, scheduler=plan.scheduler, log=log,
        threads=plan.threads,
    )
    written = write_dimensional_report(study, plan.out, plots=plan.plots)
    print(study.table())
    print()
    for kind, path in written.items():
        print(f"{kind}: {path}")
    return 0
