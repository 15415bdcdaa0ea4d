"""The generic corpus: a folder of clips described by metadata.csv."""

from __future__ import annotations

import numpy as np

from ._corpus import CorpusError, check_root, make_corpus, speaker_folds
from ._tables import read_table, require_columns, resolve_paths
from .dimensions import Scale, numeric_column, observed_scale, outside_scale
from .labels import map_labels

__all__ = ["load_csv"]

N_FOLDS = 5
UNLABELLED = "unlabelled"  # the category of every clip of a corpus rated on dimensions only
_EXPECTED = (
    "a folder holding metadata.csv with columns path (relative to the folder), label, and "
    "optionally speaker and fold (an integer test fold per clip; -1 = training only)"
)


def load_csv(root, *, n_folds=N_FOLDS, labels=None, dimensions=None, scales=None, allow_outside_root=False):
    """Load a folder + ``metadata.csv`` corpus.

    Columns: ``path`` (relative to ``root``; absolute paths must lie under it too),
    ``label``, and
    optionally ``speaker`` and ``fold``. Without ``fold``, speakers are dealt
    round-robin (in sorted order) into ``n_folds`` speaker-independent folds
    (leave one speaker out when there are fewer speakers). Without ``speaker``
    either, folds are stratified by label and are *not* speaker independent
    (said in the corpus's notes).

    Labels are mapped to the canonical vocabulary of every loader
    (:mod:`sklearn_zsfuse.datasets.labels`: ``"Anger"`` and ``"ang"`` become
    ``"angry"``); ``labels`` (``{spelling: canonical label}``, e.g.
    ``{"wut": "angry"}``) maps spellings it does not know. Labels it still does
    not know are kept as written; the notes say which were mapped and which kept.

    ``dimensions`` names numeric columns that hold dimensional ratings: a name or
    a list of names (each a column of that name, e.g. ``["arousal", "valence"]``),
    or ``{dimension: column}`` (``{"arousal": "act"}``). Every row needs a number
    there. ``scales`` (``{dimension: (low, high)}``) says what each was rated on;
    a dimension without one takes the range its ratings span, and the notes say so.
    They land in ``corpus.dimensions`` and ``corpus.scales``. A corpus rated on
    dimensions only may leave out the ``label`` column: every clip is then labelled
    ``"unlabelled"`` (said in the notes).
    """
    root = check_root(root, "csv", _EXPECTED)
    table_path = root / "metadata.csv"
    if not table_path.is_file():
        raise CorpusError(f"csv: {str(root)!r} has no metadata.csv. Expected {_EXPECTED}.")
    table = read_table(table_path, "csv")
    unlabelled = bool(dimensions) and "label" not in table  # rated on dimensions only
    require_columns(table, ["path"] if unlabelled else ["path", "label"], table_path, "csv")
    n = len(table["path"])
    if n == 0:
        raise CorpusError(f"csv: {str(table_path)!r} has a header but no rows.")
    empty = [] if unlabelled else [i + 2 for i, v in enumerate(table["label"]) if not v]
    if empty:
        raise CorpusError(f"csv: {str(table_path)!r} has empty labels on line(s) {empty[:10]}.")
    paths = resolve_paths(root, table["path"], table_path, "csv", allow_outside_root=allow_outside_root)
    if unlabelled:
        if labels:
            raise CorpusError(f"csv: label spellings {sorted(labels)} are given but {str(table_path)!r} has no "
                              "label column.")
        labels = [UNLABELLED] * n
        notes = [f"no label column: every clip is labelled {UNLABELLED!r} (a corpus rated on dimensions only)"]
    else:
        try:
            labels, notes = map_labels(table["label"], labels)
        except ValueError as exc:
            raise CorpusError(f"csv: {exc}") from None
    if "speaker" in table:
        blank = [i + 2 for i, v in enumerate(table["speaker"]) if not v]
        if blank:
            raise CorpusError(
                f"csv: {str(table_path)!r} has empty speaker values on line(s) {blank[:10]}; fill them "
                "in or drop the speaker column."
            )
        speakers = table["speaker"]
    else:
        speakers = [f"clip{i}" for i in range(n)]
    if "fold" in table:
        folds = _parse_folds(table["fold"], table_path)
        scheme = "folds from metadata.csv"
        if "speaker" in table:
            _check_speaker_independent(speakers, folds, notes)
    elif "speaker" in table:
        fold_of = speaker_folds(speakers, n_folds)
        if len(fold_of) < 2:
            raise CorpusError(
                f"csv: {str(table_path)!r} names a single speaker, so no speaker-independent folds can "
                "be made; add a fold column."
            )
        folds = [fold_of[s] for s in speakers]
        k = len(set(fold_of.values()))
        scheme = (
            "leave one speaker out" if k == len(fold_of) else f"speaker-independent {k} folds, speakers dealt in sorted order"
        )
    else:
        folds = _stratified_folds(labels, n_folds)
        scheme = f"{n_folds} label-stratified folds (no speaker column)"
        notes.append("metadata.csv has no speaker column: folds are not speaker independent")
    columns = _dimension_columns(dimensions, scales, table, table_path)
    ratings = {d: numeric_column(table[c], c, repr(str(table_path)), "csv") for d, c in columns.items()}
    dim_scales = {}
    for d, column in columns.items():
        if d in (scales or {}):
            dim_scales[d] = _scale(scales[d], d)
            outside = outside_scale(ratings[d], dim_scales[d])
            if outside:
                notes.append(f"{outside} rating(s) of {d} lie outside its scale {dim_scales[d].low:g}-"
                             f"{dim_scales[d].high:g}; kept as given")
        else:
            dim_scales[d] = observed_scale(ratings[d], column)
            notes.append(f"no scale given for {d}: its ratings' range {dim_scales[d].low:g}-{dim_scales[d].high:g} "
                         "is taken as its scale (give scales= or --scale)")
    rows = list(zip(paths, labels, speakers, folds, *ratings.values()))
    return make_corpus("csv", root, rows, lambda r: r[3], scheme, notes, None,
                       {d: 4 + i for i, d in enumerate(ratings)}, dim_scales)


def _dimension_columns(dimensions, scales, table, table_path) -> dict:
    """``{dimension: column}`` from ``dimensions`` (a name, names, or a mapping), every column present."""
    if dimensions is None:
        if scales:
            raise CorpusError(f"csv: scales are given for {sorted(scales)} but no dimensions are read.")
        return {}
    if isinstance(dimensions, str):
        dimensions = [dimensions]
    columns = dict(dimensions) if isinstance(dimensions, dict) else {d: d for d in dimensions}
    for d, column in columns.items():
        if not isinstance(d, str) or not d.strip() or not isinstance(column, str) or not column.strip():
            raise CorpusError(f"csv: dimensions must be non-empty names (and columns), got {d!r}: {column!r}.")
    if len(columns) != len(list(dimensions)):
        raise CorpusError(f"csv: a dimension is named twice in {list(dimensions)}.")
    missing = sorted(c for c in columns.values() if c not in table)
    if missing:
        raise CorpusError(f"csv: {str(table_path)!r} has no column(s) {missing} for the dimensions; its columns "
                          f"are {list(table)} (name a column as {{dimension: column}}, or DIMENSION=COLUMN on the "
                          "command line).")
    unknown = sorted(set(scales or {}) - set(columns))
    if unknown:
        raise CorpusError(f"csv: scales are given for {unknown}, which are not among the dimensions {list(columns)}.")
    return columns


def _scale(value, dimension) -> Scale:
    if isinstance(value, Scale):
        return value
    try:
        low, high = (float(v) for v in value)
        return Scale(low, high, "declared")
    except (TypeError, ValueError) as exc:
        raise CorpusError(f"csv: the scale of {dimension} must be (low, high) with low < high, got {value!r} "
                          f"({exc}).") from None


def _parse_folds(values, table_path):
    folds, bad = [], []
    for line, v in enumerate(values, start=2):
        try:
            f = int(v)
        except ValueError:
            bad.append(f"line {line}: {v!r}")
            continue
        if not -1 <= f < 2**63:  # beyond int64 is no fold number either
            bad.append(f"line {line}: {v!r}")
        folds.append(f)
    if bad:
        raise CorpusError(
            f"csv: the fold column of {str(table_path)!r} must hold integers >= 0 (or -1 for "
            f"training-only clips); bad values: {bad[:10]}."
        )
    if len({f for f in folds if f >= 0}) < 1:
        raise CorpusError(f"csv: the fold column of {str(table_path)!r} names no test fold (all -1).")
    return folds


def _check_speaker_independent(speakers, folds, notes):
    seen: dict[str, set] = {}
    for s, f in zip(speakers, folds):
        seen.setdefault(s, set()).add(f)
    shared = sorted(s for s, fs in seen.items() if len(fs) > 1)
    if shared:
        notes.append(
            f"{len(shared)} speaker(s) appear in more than one fold (e.g. {shared[:3]}): the folds are "
            "not speaker independent"
        )


def _stratified_folds(labels, n_folds):
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(labels, dtype=object)
    counts = np.unique(labels, return_counts=True)[1]
    k = max(2, min(n_folds, int(counts.min())))
    folds = np.empty(len(labels), dtype=int)
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=0)
    for i, (_, test) in enumerate(splitter.split(np.zeros(len(labels)), labels), start=1):
        folds[test] = i
    return folds.tolist()
