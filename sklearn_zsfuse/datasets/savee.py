"""SAVEE (Surrey Audio-Visual Expressed Emotion): 4 male speakers, 7 emotions, EmoBox's leave one speaker out."""

from __future__ import annotations

import re
from types import MappingProxyType

from ._corpus import check_root, make_corpus, scan, speaker_folds

__all__ = ["load_savee", "EMOTIONS"]

EMOTIONS = MappingProxyType({
    "a": "angry",
    "d": "disgust",
    "f": "fearful",
    "h": "happy",
    "n": "neutral",
    "sa": "sad",
    "su": "surprised",
})
SPEAKERS = ("DC", "JE", "JK", "KL")

# Flat names as in EmoBox and common redistributions: DC_a01, JE_sa12 ...; or the original
# AudioData/<speaker>/<emotion><nn>.wav layout.
_FLAT = re.compile(r"(DC|JE|JK|KL)_(sa|su|a|d|f|h|n)(\d\d)")
_NESTED = re.compile(r"(sa|su|a|d|f|h|n)(\d\d)")
_EXPECTED = (
    "a SAVEE folder with files named speaker_emotionNN.wav (e.g. DC_a01.wav, JE_sa12.wav) or the "
    "original AudioData/<DC|JE|JK|KL>/<emotion><NN>.wav layout (e.g. AudioData/DC/a01.wav)"
)


def load_savee(root, *, allow_outside_root=False):
    """Load SAVEE from ``root``.

    Folds: leave one speaker out (4 folds), EmoBox's protocol for SAVEE.
    """
    root = check_root(root, "savee", _EXPECTED)
    flat = re.compile(f"(?:{_FLAT.pattern})|(?:{_NESTED.pattern})")

    def accept(path, m):
        if m.group(1) is None and path.parent.name not in SPEAKERS:
            return "a file named like <emotion><NN> outside a DC/JE/JK/KL speaker folder"
        return None

    found, notes = scan(root, flat, "savee", _EXPECTED, accept=accept, allow_outside_root=allow_outside_root)
    rows = []
    for path, m in found:
        if m.group(1) is not None:
            rows.append((path, EMOTIONS[m.group(2)], m.group(1)))
        else:
            rows.append((path, EMOTIONS[m.group(4)], path.parent.name))
    fold_of = speaker_folds([r[2] for r in rows])
    scheme = "leave one speaker out (EmoBox)"
    return make_corpus("savee", root, rows, lambda r: fold_of[r[2]], scheme, notes)
