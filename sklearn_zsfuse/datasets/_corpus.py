"""The Corpus record every loader returns, its errors, and the helpers loaders share."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Corpus", "CorpusError", "AUDIO_EXTENSIONS"]

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")


class CorpusError(ValueError):
    """A corpus root is missing, incomplete, or not laid out as the loader expects."""


@dataclass(frozen=True, eq=False)
class Corpus:
    """A labelled speech corpus on disk with its evaluation folds.

    Attributes
    ----------
    name : str
        The loader's name ("ravdess", "csv", ...).
    root : Path
        The folder it was read from.
    paths : list of str
        Absolute path of every clip, in a fixed (sorted) order.
    labels, speakers : ndarray of shape (n_clips,)
        Class label and speaker id of each clip (strings).
    folds : ndarray of int, shape (n_clips,)
        The test fold of each clip; ``-1`` marks clips that are only ever used
        for training (e.g. MSP-Podcast's Train and Development partitions).
    fold_scheme : str
        Where the folds come from, in words (printed in reports).
    notes : tuple of str
        What the loader left out and why (other labels, other partitions, files
        that do not follow the naming scheme). Nothing is dropped without a note.
    development : ndarray of bool or None
        The corpus's official development set, where one exists: hyper-parameters
        are chosen on it, with models trained on the other training clips.
    dimensions : mapping of str to ndarray of float, shape (n_clips,)
        The dimensional ratings the corpus ships (``"arousal"``, ``"valence"``,
        ``"dominance"``, or the columns named to the csv loader), each on its
        corpus's own scale; empty where the corpus has none.
    scales : mapping of str to :class:`~sklearn_zsfuse.datasets.dimensions.Scale`
        The scale of each dimension (e.g. 1-7 for MSP-Podcast, 1-5 for IEMOCAP)
        and where it comes from.
    """

    name: str
    root: Path
    paths: list
    labels: np.ndarray
    speakers: np.ndarray
    folds: np.ndarray
    fold_scheme: str
    notes: tuple = ()
    development: np.ndarray | None = field(default=None)
    dimensions: Mapping = field(default_factory=dict)
    scales: Mapping = field(default_factory=dict)

    def __post_init__(self):
        n = len(self.paths)
        for attr in ("labels", "speakers", "folds"):
            if len(getattr(self, attr)) != n:
                raise ValueError(f"Corpus.{attr} has {len(getattr(self, attr))} entries for {n} paths.")
        for name, values in self.dimensions.items():
            if len(values) != n:
                raise ValueError(f"Corpus.dimensions[{name!r}] has {len(values)} entries for {n} paths.")
        if set(self.scales) != set(self.dimensions):
            raise ValueError(f"Corpus.scales names {sorted(self.scales)} but the dimensions are "
                             f"{sorted(self.dimensions)}: every dimension needs its scale.")
        if n == 0:
            raise CorpusError(f"{self.name}: no clips were found under {str(self.root)!r}.")

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def cv(self):
        """A splitter for ``cv=``: fold k tests on the clips with ``folds == k`` (a ``PredefinedSplit``)."""
        from sklearn.model_selection import PredefinedSplit  # here: loading a corpus needs no scikit-learn

        return PredefinedSplit(self.folds)

    @property
    def groups(self) -> np.ndarray:
        """Speakers, for group-aware splitters."""
        return self.speakers

    @property
    def classes(self) -> np.ndarray:
        return np.unique(self.labels)

    @property
    def targets(self) -> tuple:
        """What each clip is labelled with: ``"category"``, then each dimension (``corpus.dimensions``)."""
        return ("category", *self.dimensions)

    @property
    def fold_ids(self) -> np.ndarray:
        return np.unique(self.folds[self.folds >= 0])

    @property
    def n_folds(self) -> int:
        return len(self.fold_ids)

    def subset(self, index) -> "Corpus":
        """The corpus restricted to ``index`` (indices or a boolean mask), folds kept."""
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        return Corpus(
            name=self.name,
            root=self.root,
            paths=[self.paths[i] for i in index],
            labels=self.labels[index],
            speakers=self.speakers[index],
            folds=self.folds[index],
            fold_scheme=self.fold_scheme,
            notes=self.notes + (f"subset of {len(index)} of {len(self)} clips",),
            development=None if self.development is None else self.development[index],
            dimensions={name: values[index] for name, values in self.dimensions.items()},
            scales=self.scales,
        )

    def first_per_speaker_and_label(self, n: int) -> "Corpus":
        """A smaller corpus for quick runs: the first ``n`` clips (in path order) of each speaker and label."""
        seen: dict = {}
        keep = []
        for i, key in enumerate(zip(self.speakers, self.labels)):
            seen[key] = seen.get(key, 0) + 1
            if seen[key] <= n:
                keep.append(i)
        return self.subset(keep)

    def summary(self) -> str:
        counts = ", ".join(f"{c} {int(np.sum(self.labels == c))}" for c in self.classes)
        lines = [
            f"{self.name}: {len(self)} clips, {len(np.unique(self.speakers))} speakers, "
            f"{self.n_folds} folds ({self.fold_scheme})",
            f"  classes: {counts}",
        ]
        if self.dimensions:
            lines.append("  dimensions: " + ", ".join(f"{d} {self.scales[d]}" for d in self.dimensions))
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def make_corpus(name, root, rows, fold_of, fold_scheme, notes=(), development=None, dimensions=None,
                scales=None) -> Corpus:
    """A Corpus from ``rows`` of (path, label, speaker), sorted by path.

    ``fold_of(row) -> int`` gives each clip's test fold. ``dimensions`` maps each
    dimension's name to the position of its rating in every row; ``scales`` each
    name to its :class:`~sklearn_zsfuse.datasets.dimensions.Scale`.
    """
    rows = sorted(rows, key=lambda r: str(r[0]))
    if not rows:
        raise CorpusError(f"{name}: no clips were found under {str(root)!r}.")
    paths = [str(r[0]) for r in rows]
    folds = [int(fold_of(r)) for r in rows]
    too_large = [f for f in folds if not -(2**63) <= f < 2**63]
    if too_large:
        raise CorpusError(f"{name}: fold value {too_large[0]} is not a usable fold number (too large).")
    _refuse_duplicates(name, paths, [str(r[1]) for r in rows], folds)
    return Corpus(
        name=name,
        root=Path(root),
        paths=paths,
        labels=np.asarray([str(r[1]) for r in rows], dtype=object),
        speakers=np.asarray([str(r[2]) for r in rows], dtype=object),
        folds=np.asarray(folds, dtype=np.int64),
        fold_scheme=fold_scheme,
        notes=tuple(notes),
        development=development,
        dimensions={d: np.asarray([float(r[i]) for r in rows]) for d, i in (dimensions or {}).items()},
        scales=dict(scales or {}),
    )


def _refuse_duplicates(name: str, paths: list[str], labels: list[str], folds: list[int]) -> None:
    """One clip on two rows is counted twice, and across folds leaks training audio into testing.

    Rows are the same clip when their paths resolve to the same file (``c0.flac``,
    ``./c0.flac``, ``sub/../c0.flac`` and links to it).
    """
    rows_of: dict[str, list[int]] = {}
    for i, path in enumerate(paths):
        rows_of.setdefault(os.path.normcase(os.path.realpath(path)), []).append(i)
    repeated = [(real, rows) for real, rows in rows_of.items() if len(rows) > 1]
    if not repeated:
        return
    shown = "\n  ".join(
        f"{real!r} on {len(rows)} rows: "
        + ", ".join(f"{paths[i]!r} (label {labels[i]!r}, fold {folds[i]})" for i in rows[:4])
        for real, rows in repeated[:10]
    )
    more = f"\n  ... and {len(repeated) - 10} more" if len(repeated) > 10 else ""
    raise CorpusError(
        f"{name}: {len(repeated)} clip(s) appear on more than one row (counted twice; in two folds, a test "
        f"clip would also be trained on):\n  {shown}{more}\nList each clip once."
    )


def check_root(root, name: str, expected: str) -> Path:
    """``root`` as a Path, or a CorpusError saying what a ``name`` folder should hold."""
    if root is None:
        raise CorpusError(f"{name}: no root folder given. Expected {expected}.")
    path = Path(os.fspath(root)).expanduser()
    if not path.exists():
        raise CorpusError(f"{name}: the folder {str(path)!r} does not exist. Expected {expected}.")
    if not path.is_dir():
        raise CorpusError(f"{name}: {str(path)!r} is a file, not a folder. Expected {expected}.")
    return path.resolve()


def outside_root(root: Path, path: Path) -> str | None:
    """Why ``path`` is not confined to ``root`` (a ``..`` or absolute path, a link out), else None.

    ``root`` is resolved (:func:`check_root`). Only names are resolved here: nothing is opened.
    """
    try:
        real = Path(os.path.realpath(path))
    except (OSError, RuntimeError, ValueError) as exc:  # a link loop, an embedded NUL
        return f"cannot be resolved ({exc})"
    if real == root or root in real.parents:
        return None
    return f"resolves to {str(real)!r}"


def outside_root_error(name: str, root: Path, problems: list[str], what: str) -> CorpusError:
    """One error listing every ``problems`` entry ("line 3: '../x.wav' (resolves to ...)")."""
    shown = "\n  ".join(problems[:10])
    more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
    return CorpusError(
        f"{name}: {len(problems)} {what} lead outside the corpus root {str(root)!r}:\n  {shown}{more}\n"
        "Paths in a corpus must stay under its root (a corpus's metadata may have been written "
        "by someone else). If you trust these paths, pass allow_outside_root=True to the loader "
        "(load_corpus(..., allow_outside_root=True)), or --allow-outside-root to zsfuse evaluate and embed."
    )


def audio_files(root: Path, *, allow_outside_root: bool = False, name: str = "corpus") -> list[Path]:
    """Every audio file under ``root`` (recursively), sorted; hidden files skipped.

    Symlinked folders are followed (corpora are often assembled from links), each real
    folder once, so a link loop ends the walk. A file or folder whose link leads outside
    ``root`` raises :class:`CorpusError` unless ``allow_outside_root``.
    """
    found, escaped, seen = [], [], set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:  # a link back to a folder already walked
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in filenames:
            if not f.startswith(".") and f.lower().endswith(AUDIO_EXTENSIONS):
                path = Path(dirpath) / f
                reason = None if allow_outside_root else outside_root(root, path)
                if reason is not None:
                    escaped.append(f"{str(path.relative_to(root))!r} ({reason})")
                    continue
                found.append(path)
    if escaped:
        raise outside_root_error(name, root, escaped, f"file(s) under {str(root)!r}")
    return sorted(found)


def scan(
    root: Path,
    pattern: re.Pattern,
    name: str,
    expected: str,
    *,
    accept: Callable[[Path, re.Match], str | None] | None = None,
    allow_outside_root: bool = False,
) -> tuple[list[tuple[Path, re.Match]], list[str]]:
    """Audio files under ``root`` whose stem matches ``pattern``, and notes on the rest.

    ``accept(path, match)`` may return a reason to leave a matching file out
    (counted in the notes). Raises CorpusError when nothing matches, or when a
    file links outside ``root`` (see :func:`audio_files`).
    """
    files = audio_files(root, allow_outside_root=allow_outside_root, name=name)
    kept, odd, rejected = [], [], {}
    for path in files:
        m = pattern.fullmatch(path.stem)
        if m is None:
            odd.append(path)
            continue
        reason = accept(path, m) if accept is not None else None
        if reason:
            rejected[reason] = rejected.get(reason, 0) + 1
            continue
        kept.append((path, m))
    if not kept:
        seen = f"{len(files)} audio file(s)" + (
            f", e.g. {odd[0].name!r}" if odd else ""
        )
        raise CorpusError(
            f"{name}: no clip under {str(root)!r} follows the corpus's naming scheme ({seen} found). "
            f"Expected {expected}."
        )
    notes = [f"{count} file(s) left out: {reason}" for reason, count in sorted(rejected.items())]
    if odd:
        shown = ", ".join(repr(p.name) for p in odd[:3])
        notes.append(
            f"{len(odd)} audio file(s) do not follow the naming scheme and were left out (e.g. {shown})"
        )
    return kept, notes


def speaker_folds(speakers: Iterable[str], n_folds: int | None = None) -> dict[str, int]:
    """Speaker -> fold (1-based): leave one speaker out, or ``n_folds`` round-robin groups.

    Speakers are taken in sorted order, so the split is the same on every machine.
    """
    ordered = sorted(set(speakers), key=_natural_key)
    if n_folds is None or n_folds >= len(ordered):
        return {s: i + 1 for i, s in enumerate(ordered)}
    return {s: i % n_folds + 1 for i, s in enumerate(ordered)}


def _natural_key(text: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(text))]
