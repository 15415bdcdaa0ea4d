"""TESS (Toronto emotional speech set): 2 speakers, 7 emotions, leave one speaker out."""

from __future__ import annotations

import re
from types import MappingProxyType

from ._corpus import check_root, make_corpus, scan, speaker_folds

__all__ = ["load_tess", "EMOTIONS"]

EMOTIONS = MappingProxyType({
    "angry": "angry",
    "disgust": "disgust",
    "fear": "fearful",
    "happy": "happy",
    "neutral": "neutral",
    "ps": "surprised",  # "pleasant surprise"
    "pleasant_surprise": "surprised",
    "pleasant_surprised": "surprised",
    "sad": "sad",
})

# speaker_word_emotion, e.g. OAF_back_angry, YAF_dog_ps.
_NAME = re.compile(r"(OAF|YAF)_([A-Za-z]+)_([A-Za-z_]+)", re.IGNORECASE)
_EXPECTED = (
    "a TESS folder with files named speaker_word_emotion.wav, speaker OAF or YAF, e.g. "
    "OAF_angry/OAF_back_angry.wav"
)


def load_tess(root, *, allow_outside_root=False):
    """Load TESS from ``root``.

    Folds: leave one speaker out (2 folds: OAF, YAF). (EmoBox's TESS split is
    one random 25 % utterance-level test set, not speaker independent.)
    """
    root = check_root(root, "tess", _EXPECTED)

    def accept(path, m):
        return None if m.group(3).lower() in EMOTIONS else f"unknown emotion {m.group(3)!r}"

    found, notes = scan(root, _NAME, "tess", _EXPECTED, accept=accept, allow_outside_root=allow_outside_root)
    rows = [(path, EMOTIONS[m.group(3).lower()], m.group(1).upper()) for path, m in found]
    fold_of = speaker_folds([r[2] for r in rows])
    return make_corpus("tess", root, rows, lambda r: fold_of[r[2]], "leave one speaker out", notes)
