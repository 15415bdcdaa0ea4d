"""MSP-Podcast: natural podcast speech, 8 primary emotions, the official partitions.

The layout followed is that of release 1.11 (the Odyssey 2024 challenge; 1.12, of
Interspeech 2025, has the same): ``Labels/labels_consensus.csv`` with the columns
``FileName, EmoClass, EmoAct, EmoVal, EmoDom, SpkrID, Gender, Split_Set`` (or
``labels_consensus.json``, file name -> record with the same keys), and the wav
files in ``Audios/``. ``EmoAct``, ``EmoVal`` and ``EmoDom`` are the consensus
arousal (activation), valence and dominance: the mean of the annotators' ratings
on a 7-point scale (1 = very calm / very negative / very weak, 7 = very active /
very positive / very strong); they are read where the file has them.
"""

from __future__ import annotations

import json
from collections import Counter
from types import MappingProxyType

import numpy as np

from ._corpus import CorpusError, check_root, make_corpus, outside_root, outside_root_error
from ._tables import read_table, require_columns
from .dimensions import Scale, numeric_column

__all__ = ["load_msp_podcast", "EMOTIONS"]

# EmoClass codes of the consensus labels; O (other) and X (no agreement) are not classes.
EMOTIONS = MappingProxyType({
    "A": "angry",
    "S": "sad",
    "H": "happy",
    "U": "surprised",
    "F": "fearful",
    "D": "disgust",
    "C": "contempt",
    "N": "neutral",
})
# The clips outside the 8 classes, kept (with these labels) for dimensional evaluation only.
OTHER = MappingProxyType({"O": "other", "X": "no_agreement"})
# Consensus ratings: column -> dimension; every one on the 7-point scale.
RATINGS = MappingProxyType({"EmoAct": "arousal", "EmoVal": "valence", "EmoDom": "dominance"})
SCALE = Scale(1.0, 7.0, "MSP-Podcast consensus: mean of 7-point ratings")
_TRAIN = frozenset({"Train"})
_DEVELOPMENT = frozenset({"Development", "Validation"})
_EXPECTED = (
    "an MSP-Podcast release folder holding Labels/labels_consensus.csv (or .json; columns "
    "FileName, EmoClass, SpkrID, Split_Set) and Audios/ with the wav files"
)


def load_msp_podcast(root, *, test_set="Test1", keep_other_labels=False, allow_outside_root=False):
    """Load MSP-Podcast with its official partitions from ``root``.

    Training clips are the ``Train`` and ``Development`` partitions (``folds ==
    -1``; Development is marked in ``corpus.development`` for model selection);
    the one test fold is ``test_set`` ("Test1" by default, or "Test2"/"Test3").
    Clips of other test partitions and clips labelled O (other) or X (no
    agreement) are left out with a note.

    Where the labels have ``EmoAct``, ``EmoVal`` and ``EmoDom``, ``corpus.dimensions``
    holds them as ``"arousal"``, ``"valence"`` and ``"dominance"`` on their 1-7
    scale. ``keep_other_labels=True`` keeps the O and X clips too, labelled
    ``"other"`` and ``"no_agreement"``: the attribute track scores every clip
    with ratings, whatever its category (for dimensional evaluation; the
    categorical setup leaves them out).
    """
    root = check_root(root, "msp_podcast", _EXPECTED)
    records = _read_labels(root)
    audio_dir = next((root / d for d in ("Audios", "Audio", "audios", "audio") if (root / d).is_dir()), None)
    if audio_dir is None:
        raise CorpusError(f"msp_podcast: {str(root)!r} has no Audios/ folder. Expected {_EXPECTED}.")
    partitions = Counter(r["Split_Set"] for r in records)
    if test_set not in partitions:
        raise CorpusError(
            f"msp_podcast: test_set={test_set!r} is not a partition of this release; it has "
            f"{sorted(partitions)}."
        )
    if not allow_outside_root:
        escaped = [
            f"{r['FileName']!r} ({reason})"
            for r in records
            if (reason := outside_root(root, audio_dir / r["FileName"])) is not None
        ]
        if escaped:
            raise outside_root_error("msp_podcast", root, escaped, "labelled file name(s)")
    rows, other_split, other_label, absent = [], Counter(), Counter(), []
    for r in records:
        split = r["Split_Set"]
        if split not in _TRAIN | _DEVELOPMENT and split != test_set:
            other_split[split] += 1
            continue
        code = r["EmoClass"]
        if code not in EMOTIONS and not (keep_other_labels and code in OTHER):
            other_label[code] += 1
            continue
        wav = audio_dir / r["FileName"]
        if not wav.is_file():
            absent.append(r["FileName"])
            continue
        speaker = r["SpkrID"] if r["SpkrID"] not in ("", "Unknown") else f"unknown:{r['FileName']}"
        rows.append((wav, EMOTIONS.get(code) or OTHER[code], speaker, 1 if split == test_set else -1,
                     split in _DEVELOPMENT, *(r.get(column) for column in RATINGS)))
    if absent:
        shown = ", ".join(absent[:5])
        raise CorpusError(
            f"msp_podcast: {len(absent)} labelled file(s) are missing from {str(audio_dir)!r} "
            f"(an incomplete copy?), e.g. {shown}."
        )
    notes = []
    if other_split:
        notes.append("partitions not used: " + ", ".join(f"{k} {v}" for k, v in sorted(other_split.items())))
    if other_label:
        notes.append(
            "clips without a primary emotion left out: "
            + ", ".join(f"{k} {v}" for k, v in sorted(other_label.items()))
        )
    if keep_other_labels:
        notes.append("clips labelled O or X kept as 'other' and 'no_agreement' (for dimensional evaluation)")
    rows.sort(key=lambda r: str(r[0]))
    development = np.asarray([r[4] for r in rows], dtype=bool)
    scheme = f"official partitions: Train + Development -> {test_set}"
    rated = bool(rows) and rows[0][5] is not None
    dimensions = {name: 5 + i for i, name in enumerate(RATINGS.values())} if rated else None
    return make_corpus("msp_podcast", root, rows, lambda r: r[3], scheme, notes, development, dimensions,
                       {name: SCALE for name in RATINGS.values()} if rated else None)


def _read_labels(root):
    """Records with FileName, EmoClass, SpkrID, Split_Set, and the ratings (float, or None without them)."""
    for folder in (root / "Labels", root / "labels", root):
        csv_file, json_file = folder / "labels_consensus.csv", folder / "labels_consensus.json"
        if csv_file.is_file():
            table = read_table(csv_file, "msp_podcast")
            require_columns(table, ["FileName", "EmoClass", "SpkrID", "Split_Set"], csv_file, "msp_podcast")
            n = len(table["FileName"])
            records = [{k: table[k][i] for k in ("FileName", "EmoClass", "SpkrID", "Split_Set")} for i in range(n)]
            rated = all(column in table for column in RATINGS)
            for column in RATINGS:
                values = numeric_column(table[column], column, repr(str(csv_file)), "msp_podcast") if rated \
                    else [None] * n
                for record, value in zip(records, values):
                    record[column] = None if value is None else float(value)
            return records
        if json_file.is_file():
            data = json.loads(json_file.read_text(encoding="utf-8"))
            try:
                records = [
                    {"FileName": name, "EmoClass": str(v["EmoClass"]), "SpkrID": str(v["SpkrID"]),
                     "Split_Set": str(v["Split_Set"])}
                    for name, v in data.items()
                ]
            except (KeyError, AttributeError, TypeError) as exc:
                raise CorpusError(
                    f"msp_podcast: {str(json_file)!r} does not map file names to records with "
                    f"EmoClass, SpkrID and Split_Set ({exc!r})."
                ) from None
            rated = all(column in v for v in data.values() for column in RATINGS)
            for column in RATINGS:
                values = [str(v[column]) for v in data.values()] if rated else [None] * len(records)
                values = numeric_column(values, column, repr(str(json_file)), "msp_podcast", list(data)) \
                    if rated else values
                for record, value in zip(records, values):
                    record[column] = None if value is None else float(value)
            return records
    raise CorpusError(f"msp_podcast: no labels_consensus.csv or .json under {str(root)!r}. Expected {_EXPECTED}.")
