"""Dimensional labels: arousal, valence and dominance ratings, each on its corpus's own scale.

A :class:`~sklearn_zsfuse.datasets.Corpus` holds, besides its categories, the
dimensional ratings its corpus ships (``corpus.dimensions[name]``, one float per
clip) and the scale each was rated on (``corpus.scales[name]``, a :class:`Scale`).
Scales differ between corpora (MSP-Podcast rates on 1-7, IEMOCAP on 1-5) and are
kept as the corpus has them; nothing is rescaled.

Which loaders have dimensional labels, and what a dimensional evaluation asks of
them, is one table, :data:`DIMENSIONAL_LOADERS`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from ._corpus import CorpusError

__all__ = ["DIMENSIONAL_LOADERS", "DIMENSIONS", "DimensionalLoader", "Scale", "dimensional_options",
           "numeric_column", "observed_scale", "outside_scale"]

# The dimensions with built-in prompts (the zero-shot scorer's pole words); corpora may carry others.
DIMENSIONS = ("arousal", "valence", "dominance")


@dataclass(frozen=True)
class Scale:
    """The range a dimension was rated on, and where that range comes from (printed in reports)."""

    low: float
    high: float
    source: str

    def __post_init__(self):
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or not self.low < self.high:
            raise ValueError(f"a scale needs finite low < high, got ({self.low!r}, {self.high!r}).")

    def __str__(self) -> str:
        return f"{self.low:g} to {self.high:g} ({self.source})"


@dataclass(frozen=True)
class DimensionalLoader:
    """What a dimensional evaluation asks of one loader.

    ``named``: the corpus names its own dimensions (MSP-Podcast, IEMOCAP); else
    the dimensions are columns the user names (the csv loader). ``options``: the
    loader's keyword arguments for a dimensional run (e.g. keeping the clips
    whose category lies outside the categorical setup: they have ratings too).
    """

    named: bool
    options: Mapping


DIMENSIONAL_LOADERS = MappingProxyType({
    "msp_podcast": DimensionalLoader(True, MappingProxyType({"keep_other_labels": True})),
    "iemocap": DimensionalLoader(True, MappingProxyType({"keep_other_labels": True})),
    "csv": DimensionalLoader(False, MappingProxyType({})),
})


def dimensional_options(loader: str, columns: Mapping[str, str], scales: Mapping | None = None) -> dict:
    """The keyword arguments that make loader ``loader`` return the dimensions ``columns`` names.

    ``columns`` maps each dimension to its column (the csv loader) or to itself (a
    corpus that names its dimensions); ``scales`` (``{name: (low, high)}``) are
    for the csv loader only: other corpora keep their own scale. Raises
    ValueError for a loader without dimensional labels, saying which have them.
    """
    entry = DIMENSIONAL_LOADERS.get(loader)
    if entry is None:
        raise ValueError(f"the {loader} corpus has no dimensional labels; corpora that have them: "
                         f"{sorted(DIMENSIONAL_LOADERS)} (csv: numeric columns of metadata.csv).")
    if entry.named:
        renamed = sorted(name for name, column in columns.items() if column != name)
        if renamed:
            raise ValueError(f"{loader} names its own dimensions; a column (NAME=COLUMN) is for the csv loader "
                             f"only: {renamed}.")
        if scales:
            raise ValueError(f"{loader} rates on its own scale; a scale is for the csv loader only.")
        return dict(entry.options)
    return {**entry.options, "dimensions": dict(columns), "scales": dict(scales or {})}


def numeric_column(values: Sequence[str], column: str, where: str, name: str, rows=None) -> np.ndarray:
    """A column of ratings as float64; blank or non-numeric cells raise one CorpusError listing them.

    ``rows`` names each value in that message (default: its CSV line, ``line 2`` for the first).
    """
    out, bad = np.empty(len(values)), []
    for i, value in enumerate(values):
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            bad.append(f"{f'line {i + 2}' if rows is None else repr(rows[i])}: {value!r}")
            continue
        out[i] = number
    if bad:
        raise CorpusError(f"{name}: column {column!r} of {where} must hold a number on every row; bad values: "
                          f"{bad[:10]}" + (f" and {len(bad) - 10} more" if len(bad) > 10 else "") + ".")
    return out


def observed_scale(values: np.ndarray, column: str) -> Scale:
    """The range the ratings span, for a column without a declared scale (said in the corpus's notes)."""
    low, high = float(np.min(values)), float(np.max(values))
    if not low < high:
        raise CorpusError(f"csv: column {column!r} holds one value ({low:g}) on every row: nothing to predict.")
    return Scale(low, high, f"observed range of column {column!r}; no scale declared")


def outside_scale(values: np.ndarray, scale: Scale) -> int:
    """How many ratings lie outside their declared scale."""
    return int(np.sum((values < scale.low) | (values > scale.high)))
