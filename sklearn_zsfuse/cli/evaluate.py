"""``zsfuse evaluate``: the paper's table on a corpus, optionally saving the chosen system."""

from __future__ import annotations

import difflib
from pathlib import Path

from .common import (
    _check_corpus,
    _check_folder,
    _estimator_params,
    _load_selected,
    _log,
    _models,
    _plan,
)

DEFAULT_ALM = "laion/clap-htsat-unfused"
DEFAULT_FM = "microsoft/wavlm-large"
_GRID_KEYS = {
    "audio_repeats": "audio_repeats", "na": "audio_repeats", "n_a": "audio_repeats",
    "text_repeats": "text_repeats", "nt": "text_repeats", "n_t": "text_repeats",
    "weights": "weights", "weight": "weights", "w": "weights",
}



def _parse_labels(items, parser) -> dict:
    from ..datasets.labels import check_overrides

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
        parser.error(f"--label: no clip has the label(s) {unused}; labels found: {seen}.")
    return out


def _parse_grid(items, parser):
    from ..evaluation import Grid

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



def _systems(has_alm: bool, has_fm: bool) -> list[str]:
    """The systems a run with these branches makes (evaluation.SYSTEMS, in order)."""
    from ..evaluation.systems import SYSTEMS

    return [s for s in SYSTEMS if (s == "specialist" and has_fm) or (s.startswith("zero_shot") and has_alm)
            or (s.startswith("zs_fuse") and has_alm and has_fm)]


def _check_evaluate(args, parser) -> None:
    from ..encoders.checks import check_alm, check_fm, check_fm_layers
    from ..evaluation.systems import SYSTEMS

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



def _evaluate(args, parser) -> int:
    from ..datasets import load_corpus
    from ..estimators.persistence import save_model
    from ..evaluation import evaluate, final_model, select_final
    from ..evaluation.runner import resolve_classifier
    from ..reporting.files import write_report

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


