"""RAVDESS (speech part): 24 actors, 8 emotions, EmoBox's speaker-independent 6 folds."""

from __future__ import annotations

import re
from types import MappingProxyType

from ._corpus import CorpusError, check_root, make_corpus, scan
from ._tables import read_table, require_columns, resolve_paths

__all__ = ["load_ravdess", "EMOBOX_FOLDS", "EMOTIONS"]

# File-name field 3 (emotion) of modality-channel-emotion-intensity-statement-repetition-actor.
EMOTIONS = MappingProxyType({
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fearful",
    "07": "disgust",
    "08": "surprised",
})

# EmoBox's speaker-independent split of RAVDESS: test fold -> its 4 actors. Taken from the
# emobox_fold column of ../shared/data/ravdess/metadata.csv, which matches EmoBox's
# data/ravdess/fold_k/ravdess_test_fold_k.jsonl (fold 1 tests on actors 01, 11, 20, 21).
EMOBOX_FOLDS = MappingProxyType({
    1: ("01", "11", "20", "21"),
    2: ("04", "10", "12", "14"),
    3: ("08", "09", "19", "23"),
    4: ("03", "05", "07", "24"),
    5: ("02", "15", "16", "18"),
    6: ("06", "13", "17", "22"),
})
_FOLD_OF_ACTOR = MappingProxyType({actor: fold for fold, actors in EMOBOX_FOLDS.items() for actor in actors})

_NAME = re.compile(r"(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)")
_EXPECTED = (
    "a RAVDESS folder: Actor_01 ... Actor_24 subfolders holding files named "
    "modality-channel-emotion-intensity-statement-repetition-actor, e.g. "
    "Actor_01/03-01-05-01-01-01-01.wav (wav or flac), or a metadata.csv with columns "
    "path, emotion, actor[, emobox_fold]"
)
_SCHEME = "EmoBox speaker-independent 6 folds of 4 actors"


def load_ravdess(root, *, allow_outside_root=False):
    """Load RAVDESS speech from ``root``.

    Uses ``root/metadata.csv`` (columns ``path``, ``emotion``, ``actor`` and
    optionally ``emobox_fold``) when present, else parses the file names. Song
    recordings (vocal channel 02) are left out with a note. Folds are EmoBox's
    6 speaker-independent folds of 4 actors each.
    """
    root = check_root(root, "ravdess", _EXPECTED)
    if (root / "metadata.csv").is_file():
        return _from_metadata(root, allow_outside_root)

    def accept(path, m):
        if m.group(2) != "01":
            return "song recordings (vocal channel 02); this loader covers speech"
        if m.group(3) not in EMOTIONS:
            return f"unknown emotion code {m.group(3)!r}"
        if m.group(7) not in _FOLD_OF_ACTOR:
            return f"actor {m.group(7)!r} is not one of RAVDESS's 01..24"
        return None

    found, notes = scan(root, _NAME, "ravdess", _EXPECTED, accept=accept, allow_outside_root=allow_outside_root)
    rows = [(path, EMOTIONS[m.group(3)], m.group(7)) for path, m in found]
    return make_corpus("ravdess", root, rows, lambda r: _FOLD_OF_ACTOR[r[2]], _SCHEME, notes)


def _from_metadata(root, allow_outside_root):
    table = read_table(root / "metadata.csv", "ravdess")
    require_columns(table, ["path", "emotion", "actor"], root / "metadata.csv", "ravdess")
    paths = resolve_paths(
        root, table["path"], root / "metadata.csv", "ravdess", allow_outside_root=allow_outside_root
    )
    actors = [str(a).strip().zfill(2) for a in table["actor"]]
    unknown = sorted(set(actors) - set(_FOLD_OF_ACTOR))
    if unknown and "emobox_fold" not in table:
        raise CorpusError(
            f"ravdess: {root / 'metadata.csv'} names actor(s) {unknown} outside 01..24 and has no "
            "emobox_fold column to place them in a fold."
        )
    if "emobox_fold" in table:
        folds = [int(f) for f in table["emobox_fold"]]
    else:
        folds = [_FOLD_OF_ACTOR[a] for a in actors]
    rows = [(p, str(e), a, f) for p, e, a, f in zip(paths, table["emotion"], actors, folds)]
    return make_corpus("ravdess", root, rows, lambda r: r[3], _SCHEME + " (from metadata.csv)")
