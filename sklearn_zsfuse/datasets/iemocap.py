"""IEMOCAP: 5 sessions of dyadic conversation, the 4-class setup, leave one session out.

The layout followed is that of ``IEMOCAP_full_release``: ``SessionN/dialog/EmoEvaluation/*.txt``,
one line per utterance, ``[START - END]<TAB>TURN_NAME<TAB>EMOTION<TAB>[V, A, D]``, the
last field the mean valence, activation (arousal) and dominance the annotators gave
on a 5-point scale (1 = negative / calm / weak, 5 = positive / excited / strong).
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from types import MappingProxyType

from ._corpus import CorpusError, check_root, make_corpus, outside_root, outside_root_error
from .dimensions import DIMENSIONS, Scale, outside_scale

__all__ = ["load_iemocap", "EMOTIONS"]

# The usual 4-class setup: excited is merged into happy; the other labels are left out.
EMOTIONS = MappingProxyType({"neu": "neutral", "hap": "happy", "exc": "happy", "sad": "sad", "ang": "angry"})
SESSIONS = tuple(f"Session{i}" for i in range(1, 6))

# One evaluation line: "[6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]"
_LINE = re.compile(r"^\[\s*[\d.]+\s*-\s*[\d.]+\s*\]\s+(Ses\d\d[FM]_\S+_([FM])\d+)\s+(\w+)\s+\[")
# Its last field, [V, A, D]: the order IEMOCAP's files give in their header line.
_VAD = re.compile(r"\[\s*([-\d.]+)\s*,\s*([-\d.]+)\s*,\s*([-\d.]+)\s*\]\s*$")
# The other codes, kept (with these labels) for dimensional evaluation only; unknown codes stay as written.
OTHER = MappingProxyType({"fru": "frustrated", "sur": "surprised", "fea": "fearful", "dis": "disgust",
                          "oth": "other", "xxx": "no_agreement"})
RATINGS = ("valence", "arousal", "dominance")  # in the order of [V, A, D]
SCALE = Scale(1.0, 5.0, "IEMOCAP: mean of 5-point ratings")
_EXPECTED = (
    "the IEMOCAP_full_release folder: Session1 ... Session5, each holding "
    "dialog/EmoEvaluation/*.txt and sentences/wav/<dialog>/<utterance>.wav"
)


def load_iemocap(root, *, keep_other_labels=False, allow_outside_root=False):
    """Load IEMOCAP (4 classes: neutral, happy + excited, sad, angry) from ``root``.

    Labels come from ``SessionN/dialog/EmoEvaluation/*.txt``; the audio from
    ``SessionN/sentences/wav``. Folds are the 5 sessions (leave one session out,
    as EmoBox); speakers are session + gender (``Ses01F``).

    ``corpus.dimensions`` holds the ``[V, A, D]`` ratings of each utterance as
    ``"valence"``, ``"arousal"`` and ``"dominance"`` on their 1-5 scale.
    ``keep_other_labels=True`` keeps the utterances outside the 4 classes too,
    labelled as :data:`OTHER` says (``fru`` -> ``"frustrated"``, ``xxx`` ->
    ``"no_agreement"``): they are rated like every other (for dimensional evaluation).
    """
    root = check_root(root, "iemocap", _EXPECTED)
    missing = [s for s in SESSIONS if not (root / s).is_dir()]
    if missing:
        raise CorpusError(f"iemocap: {str(root)!r} lacks {missing}. Expected {_EXPECTED}.")
    rows, left_out, absent, escaped = [], Counter(), [], []
    for number, session in enumerate(SESSIONS, start=1):
        eval_dir = root / session / "dialog" / "EmoEvaluation"
        files = sorted(p for p in eval_dir.glob("*.txt") if not p.name.startswith(".")) if eval_dir.is_dir() else []
        if not files:
            raise CorpusError(
                f"iemocap: no label files in {str(eval_dir)!r}. Expected {_EXPECTED}."
            )
        for label_file in files:
            for line in label_file.read_text(encoding="utf-8", errors="replace").splitlines():
                m = _LINE.match(line)
                if m is None:
                    continue
                utterance, gender, code = m.group(1), m.group(2), m.group(3)
                if code not in EMOTIONS and not keep_other_labels:
                    left_out[code] += 1
                    continue
                ratings = _ratings(line)
                dialog = utterance.rsplit("_", 1)[0]
                wav = root / session / "sentences" / "wav" / dialog / f"{utterance}.wav"
                reason = None if allow_outside_root else outside_root(root, wav)
                if reason is not None:
                    escaped.append(f"{utterance!r} in {label_file.name} ({reason})")
                    continue
                if not wav.is_file():
                    absent.append(str(wav.relative_to(root)))
                    continue
                speaker = f"Ses{number:02d}{gender}"
                label = EMOTIONS.get(code) or OTHER.get(code, code)
                rows.append((wav, label, speaker, number, *ratings))
    if escaped:
        raise outside_root_error("iemocap", root, escaped, "labelled utterance(s)")
    if absent:
        shown = "\n  ".join(absent[:10])
        raise CorpusError(
            f"iemocap: {len(absent)} labelled utterance(s) have no audio file under {str(root)!r} "
            f"(an incomplete copy?):\n  {shown}" + (f"\n  ... and {len(absent) - 10} more" if len(absent) > 10 else "")
        )
    notes = []
    if left_out:
        counts = ", ".join(f"{code} {n}" for code, n in sorted(left_out.items()))
        notes.append(f"{sum(left_out.values())} utterance(s) with labels outside the 4-class setup left out ({counts})")
    if keep_other_labels:
        notes.append("utterances outside the 4-class setup kept (for dimensional evaluation)")
    unrated = sum(r[4] is None for r in rows)
    if unrated:  # a copy whose files lack [V, A, D] somewhere: the categories stand, the ratings cannot
        notes.append(f"no dimensional ratings: {unrated} utterance line(s) lack the [V, A, D] field")
        rows = [r[:4] for r in rows]
    dimensions = None if unrated else {name: 4 + RATINGS.index(name) for name in DIMENSIONS}
    corpus = make_corpus("iemocap", root, rows, lambda r: r[3], "leave one session out (5 folds)", notes, None,
                         dimensions, None if unrated else {name: SCALE for name in RATINGS})
    outside = {d: outside_scale(v, SCALE) for d, v in corpus.dimensions.items() if outside_scale(v, SCALE)}
    if outside:  # kept as rated; said, not clipped
        shown = ", ".join(f"{d} {n}" for d, n in outside.items())
        note = f"ratings outside {SCALE.low:g}-{SCALE.high:g} kept as given: {shown}"
        corpus = dataclasses.replace(corpus, notes=(*corpus.notes, note))
    return corpus


def _ratings(line: str) -> tuple:
    """The line's ``[V, A, D]`` as floats, or three Nones where it has none."""
    m = _VAD.search(line)
    try:
        return tuple(float(v) for v in m.groups())
    except (AttributeError, ValueError):
        return (None,) * 3
