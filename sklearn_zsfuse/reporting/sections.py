"""What a report says, in reading order: the parts that ``table.md`` and ``report.html`` both render."""

from __future__ import annotations

from pathlib import Path

__all__ = ["FOOTNOTE", "as_study", "display_names", "report_title", "sections", "shorten"]

FOOTNOTE = ("UA = balanced accuracy (mean per-class recall), WA = accuracy, F1 = macro-F1; mean ± std over the test "
            "folds (no std with a single test set). Per-class recall pools the test clips of all folds. The paired "
            "comparison resamples test clips within each class (bootstrap, seeded) and gives McNemar's exact p-value "
            "on the clips only one of the two systems gets right. zero_shot+calibrated divides the logits by a "
            "temperature fitted on the training clips: its labels are those of the amplified ensemble, its "
            "probabilities (ECE) differ.")



def as_study(evaluation):
    """A :class:`~sklearn_zsfuse.evaluation.Study` for a Study or a single Evaluation (one table)."""
    from ..evaluation import Evaluation, Study

    if isinstance(evaluation, Study):
        return evaluation
    if not isinstance(evaluation, Evaluation):
        raise TypeError(f"a report takes a Study or an Evaluation, got {type(evaluation).__name__}.")
    alm = str(evaluation.config.get("alm") or "ALM")
    from ..evaluation.systems import SPECIALIST, ZERO_SHOT

    fm = str(evaluation.config.get("fm") or SPECIALIST.name)
    has_zs, has_fm = ZERO_SHOT.name in evaluation.systems, SPECIALIST.name in evaluation.systems
    return Study(
        dataset=evaluation.dataset, classes=evaluation.classes, alms=[alm] if has_zs else [],
        fms=[fm] if has_fm else [], alm_runs={alm: evaluation} if has_zs and not has_fm else {},
        fm_runs={fm: evaluation} if has_fm and not has_zs else {},
        pairs={(alm, fm): evaluation} if has_zs and has_fm else {}, config=evaluation.config,
    )


def display_names(names) -> dict:
    """Model name -> what tables show: a directory's last part when that is unambiguous, else the name."""
    short = {}
    for name in names:
        text = str(name).rstrip("/\\")
        short[name] = Path(text).name if ("/" in text or "\\" in text) else text
    if len(set(short.values())) < len(short):
        counts = {v: list(short.values()).count(v) for v in short.values()}
        short = {n: (str(n) if counts[v] > 1 else v) for n, v in short.items()}
    return short


def shorten(text: str, names: dict) -> str:
    """``text`` with every model name in it replaced by its display name."""
    for full in sorted(names, key=lambda n: -len(str(n))):
        text = text.replace(str(full), names[full])
    return text


def sections(study) -> list:
    """The report's parts in reading order, shared by table.md and report.html.

    ``[(level, title, kind, payload)]``: kind "facts" (list of str), "table"
    ((header, rows)), "text" (str).
    """
    c = study.config
    models = [*study.alms, *study.fms]
    for f in study.fms:  # a layer sweep names "<model> [layer k]": shorten the model part too
        model = (study.feature_set.fm_layers.get(f, (f, None))[0] if study.feature_set is not None else f)
        models.append(model)
    names = display_names(dict.fromkeys(models))
    out = []
    n_folds = len(c.get("folds", [])) or study.n_folds
    facts = [f"clips: {c.get('n_clips')}, speakers: {c.get('n_speakers')}, test folds: {n_folds} "
             f"({c.get('fold_scheme')})",
             f"ALM(s): {', '.join(study.alms) or 'none'}",
             f"specialist(s): {', '.join(study.fms) or 'none'}",
             *(["names in the tables: " + ", ".join(f"{v} = {k}" for k, v in names.items() if v != str(k))]
               if any(v != str(k) for k, v in names.items()) else []),
             f"selection: {c.get('selection')}"]
    if study.cross_corpus:
        x = study.cross_corpus
        train, test = x.get("train_title", x["train"]), x.get("test_title", x["test"])
        facts.append(f"cross-corpus: train {train}: {_kept(x, 'train')}; test {test}: {_kept(x, 'test')}; "
                     f"classes kept: {', '.join(x['kept'])}")
        facts.append(f"dropped from {train}: {_dropped(x['train_dropped'])}; dropped from {test}: "
                     f"{_dropped(x['test_dropped'])}")
    facts += [f"corpus: {note}" for note in c.get("notes") or []]  # --subset/--limit, what a loader left out
    out.append((2, "Run", "facts", facts))
    if len(study.pairs) > 1:
        from ..evaluation.systems import fusions

        for system in fusions():
            out.append((2, f"Summary: {system.name} UA (%), ALM x specialist", "table",
                        study.summary_rows(system.name)))
    for model, header, rows in study.layer_rows():
        out.append((2, f"Layer sweep: {model}", "table", (header, rows)))
    for title, run in study.tables():
        out.append((2, title, "table", run.table_rows()))
        out.append((3, "Per-class recall", "table", run.recall_rows()))
        if run.comparison:
            out.append((3, "Paired comparison with the specialist (same test clips)", "table", run.comparison_rows()))
        if run.calibration:
            out.append((3, "Calibration of the zero-shot probabilities", "table", run.calibration_rows()))
    out.append((2, "Notes", "text", FOOTNOTE))

    def short(value):
        if isinstance(value, str):
            return shorten(value, names)
        if isinstance(value, tuple):
            return tuple(short(v) for v in value)
        if isinstance(value, list):
            return [short(v) for v in value]
        return value

    # The run's facts keep the full names; titles and table cells use the short ones.
    return [out[0]] + [(level, short(title), kind, short(payload)) for level, title, kind, payload in out[1:]]


def _kept(cross: dict, side: str) -> str:
    """The clips the evaluation used (those of the kept classes), of the corpus's."""
    kept, total = cross.get(f"{side}_kept_clips"), cross[f"{side}_clips"]
    return f"{total} clips" if kept is None else f"{kept} of its {total} clips"


def _dropped(counts: dict) -> str:
    return ", ".join(f"{k} ({v} clips)" for k, v in counts.items()) or "nothing"


def report_title(study) -> str:
    kind = "cross-corpus evaluation" if study.cross_corpus else "speaker-independent evaluation"
    return f"{study.dataset}: {kind}"


