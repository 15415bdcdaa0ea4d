"""MSP-Podcast: natural podcast speech, 8 primary emotions, the official partitions."""

from __future__ import annotations

import json
from collections import Counter
from types import MappingProxyType

import numpy as np

from ._corpus import CorpusError, check_root, make_corpus, outside_root, outside_root_error
from ._tables import read_table, require_columns

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
_TRAIN = frozenset({"Train"})
_DEVELOPMENT = frozenset({"Development", "Validation"})
_EXPECTED = (
    "an MSP-Podcast release folder holding Labels/labels_consensus.csv (or .json; columns "
    "FileName, EmoClass, SpkrID, Split_Set) and Audios/ with the wav files"
)


def load_msp_podcast(root, *, test_set="Test1", allow_outside_root=False):
    """Load MSP-Podcast with its official partitions from ``root``.

    Training clips are the ``Train`` and ``Development`` partitions (``folds ==
    -1``; Development is marked in ``corpus.development`` for model selection);
    the one test fold is ``test_set`` ("Test1" by default, or "Test2"/"Test3").
    Clips of other test partitions and clips labelled O (other) or X (no
    agreement) are left out with a note.
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
        if code not in EMOTIONS:
            other_label[code] += 1
            continue
        wav = audio_dir / r["FileName"]
        if not wav.is_file():
            absent.append(r["FileName"])
            continue
        speaker = r["SpkrID"] if r["SpkrID"] not in ("", "Unknown") else f"unknown:{r['FileName']}"
        rows.append((wav, EMOTIONS[code], speaker, 1 if split == test_set else -1, split in _DEVELOPMENT))
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
    rows.sort(key=lambda r: str(r[0]))
    development = np.asarray([r[4] for r in rows], dtype=bool)
    scheme = f"official partitions: Train + Development -> {test_set}"
    return make_corpus("msp_podcast", root, rows, lambda r: r[3], scheme, notes, development)


def _read_labels(root):
    for folder in (root / "Labels", root / "labels", root):
        csv_file, json_file = folder / "labels_consensus.csv", folder / "labels_consensus.json"
        if csv_file.is_file():
            table = read_table(csv_file, "msp_podcast")
            require_columns(table, ["FileName", "EmoClass", "SpkrID", "Split_Set"], csv_file, "msp_podcast")
            n = len(table["FileName"])
            return [{k: table[k][i] for k in ("FileName", "EmoClass", "SpkrID", "Split_Set")} for i in range(n)]
        if json_file.is_file():
            data = json.loads(json_file.read_text(encoding="utf-8"))
            try:
                return [
                    {"FileName": name, "EmoClass": str(v["EmoClass"]), "SpkrID": str(v["SpkrID"]),
                     "Split_Set": str(v["Split_Set"])}
                    for name, v in data.items()
                ]
            except (KeyError, AttributeError, TypeError) as exc:
                raise CorpusError(
                    f"msp_podcast: {str(json_file)!r} does not map file names to records with "
                    f"EmoClass, SpkrID and Split_Set ({exc!r})."
                ) from None
    raise CorpusError(f"msp_podcast: no labels_consensus.csv or .json under {str(root)!r}. Expected {_EXPECTED}.")
