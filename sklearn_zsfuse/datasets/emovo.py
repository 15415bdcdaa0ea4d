"""EMOVO (Italian emotional speech): 6 actors, 7 emotions, EmoBox's leave one speaker out."""

from __future__ import annotations

import re
from types import MappingProxyType

from ._corpus import check_root, make_corpus, scan, speaker_folds

__all__ = ["load_emovo", "EMOTIONS"]

# Italian codes of the file names.
EMOTIONS = MappingProxyType({
    "dis": "disgust",  # disgusto
    "gio": "happy",  # gioia
    "neu": "neutral",
    "pau": "fearful",  # paura
    "rab": "angry",  # rabbia
    "sor": "surprised",  # sorpresa
    "tri": "sad",  # tristezza
})

# emotion-actor-sentence, e.g. dis-f1-b1 (actors f1..f3, m1..m3; sentences b1-b3, l1-l4, n1-n5, d1-d2).
_NAME = re.compile(r"([a-z]{3})-([fm][1-3])-([a-z]\d)", re.IGNORECASE)
_EXPECTED = (
    "an EMOVO folder with actor subfolders (f1 ... m3) holding files named "
    "emotion-actor-sentence.wav, e.g. f1/dis-f1-b1.wav"
)


def load_emovo(root, *, allow_outside_root=False):
    """Load EMOVO from ``root``.

    Folds: leave one speaker out (6 folds), EmoBox's protocol for EMOVO.
    """
    root = check_root(root, "emovo", _EXPECTED)

    def accept(path, m):
        return None if m.group(1).lower() in EMOTIONS else f"unknown emotion code {m.group(1)!r}"

    found, notes = scan(root, _NAME, "emovo", _EXPECTED, accept=accept, allow_outside_root=allow_outside_root)
    rows = [(path, EMOTIONS[m.group(1).lower()], m.group(2).lower()) for path, m in found]
    fold_of = speaker_folds([r[2] for r in rows])
    scheme = "leave one speaker out (EmoBox)"
    return make_corpus("emovo", root, rows, lambda r: fold_of[r[2]], scheme, notes)
