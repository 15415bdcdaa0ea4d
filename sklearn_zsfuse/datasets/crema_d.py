"""CREMA-D: 91 actors, 6 emotions, 12 sentences; speaker-independent 5 folds."""

from __future__ import annotations

import re
from types import MappingProxyType

from ._corpus import check_root, make_corpus, scan, speaker_folds

__all__ = ["load_crema_d", "EMOTIONS"]

EMOTIONS = MappingProxyType({
    "ANG": "angry",
    "DIS": "disgust",
    "FEA": "fearful",
    "HAP": "happy",
    "NEU": "neutral",
    "SAD": "sad",
})
N_FOLDS = 5

# ActorID_Sentence_Emotion_Level, e.g. 1001_DFA_ANG_XX (level LO/MD/HI/XX).
_NAME = re.compile(r"(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})")
_EXPECTED = (
    "a CREMA-D folder holding AudioWAV/ with files named ActorID_Sentence_Emotion_Level.wav, "
    "e.g. AudioWAV/1001_DFA_ANG_XX.wav"
)


def load_crema_d(root, *, allow_outside_root=False):
    """Load CREMA-D from ``root`` (the folder holding ``AudioWAV/``, or ``AudioWAV`` itself).

    Folds: the 91 actors, in id order, dealt round-robin into 5 speaker-independent
    folds. (EmoBox's CREMA-D split is one random 25 % utterance-level test set
    that shares speakers with training, so it is not used.)
    """
    root = check_root(root, "crema_d", _EXPECTED)

    def accept(path, m):
        return None if m.group(3) in EMOTIONS else f"unknown emotion code {m.group(3)!r}"

    found, notes = scan(root, _NAME, "crema_d", _EXPECTED, accept=accept, allow_outside_root=allow_outside_root)
    rows = [(path, EMOTIONS[m.group(3)], m.group(1)) for path, m in found]
    fold_of = speaker_folds([r[2] for r in rows], N_FOLDS)
    scheme = f"speaker-independent {min(N_FOLDS, len(fold_of))} folds, actors dealt in id order"
    return make_corpus("crema_d", root, rows, lambda r: fold_of[r[2]], scheme, notes)
