"""EmoDB (Berlin Database of Emotional Speech): 10 speakers, 7 emotions, leave one speaker out."""

from __future__ import annotations

import re
from types import MappingProxyType

from ._corpus import check_root, make_corpus, scan, speaker_folds

__all__ = ["load_emodb", "EMOTIONS"]

# Letter 6 of e.g. 03a01Wa: the German emotion initial.
EMOTIONS = MappingProxyType({
    "W": "angry",  # Wut / Ärger
    "L": "bored",  # Langeweile
    "E": "disgust",  # Ekel
    "A": "fearful",  # Angst
    "F": "happy",  # Freude
    "T": "sad",  # Trauer
    "N": "neutral",
})
SPEAKERS = ("03", "08", "09", "10", "11", "12", "13", "14", "15", "16")

# speaker (2 digits) + text code (a01..b10) + emotion letter + version letter.
_NAME = re.compile(r"(\d\d)([ab]\d\d)([A-Z])([a-z])")
_EXPECTED = (
    "an EmoDB folder holding wav/ with files named speaker-text-emotion-version, "
    "e.g. wav/03a01Wa.wav"
)


def load_emodb(root, *, allow_outside_root=False):
    """Load EmoDB from ``root`` (the folder holding ``wav/``, or ``wav`` itself).

    Folds: leave one speaker out (10 folds). (EmoBox's EmoDB folds are
    utterance-level and share speakers between training and test.)
    """
    root = check_root(root, "emodb", _EXPECTED)

    def accept(path, m):
        return None if m.group(3) in EMOTIONS else f"unknown emotion letter {m.group(3)!r}"

    found, notes = scan(root, _NAME, "emodb", _EXPECTED, accept=accept, allow_outside_root=allow_outside_root)
    rows = [(path, EMOTIONS[m.group(3)], m.group(1)) for path, m in found]
    fold_of = speaker_folds([r[2] for r in rows])
    return make_corpus("emodb", root, rows, lambda r: fold_of[r[2]], "leave one speaker out", notes)
