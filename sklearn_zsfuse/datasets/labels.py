"""One label vocabulary for every corpus, so corpora can be compared class by class.

Every loader returns labels from :data:`CANONICAL_LABELS` (``"angry"``, not
``"anger"``, ``"ang"`` or ``"W"``): the corpus's own codes are mapped by the
loader (:func:`corpus_codes` lists them). A folder + CSV corpus maps the common
English spellings and abbreviations through :func:`canonical_label` too;
anything else (another language, a class no other corpus has) is kept as
written and named in the corpus's notes, and a user maps it with overrides
(``{"wut": "angry"}``, ``--label wut=angry`` on the command line).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

__all__ = ["CANONICAL_LABELS", "SPELLINGS", "canonical_label", "check_overrides", "corpus_codes", "relabel",
           "shared_classes"]

CANONICAL_LABELS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised", "bored",
                    "contempt")

# Spellings seen in SER corpora and their metadata, lower case. Single letters are left
# out on purpose: they mean different things in different corpora (EmoDB's "A" is
# Angst = fearful, MSP-Podcast's "A" is angry), so only the loaders map them.
SPELLINGS = MappingProxyType({
    **{s: "neutral" for s in ("neutral", "neu", "neutrality")},
    **{s: "calm" for s in ("calm", "cal", "calmness")},
    **{s: "happy" for s in ("happy", "hap", "happiness", "joy", "joyful")},
    **{s: "sad" for s in ("sad", "sadness")},
    **{s: "angry" for s in ("angry", "ang", "anger", "mad")},
    **{s: "fearful" for s in ("fearful", "fea", "fear", "afraid", "scared")},
    **{s: "disgust" for s in ("disgust", "dis", "disgusted")},
    **{s: "surprised" for s in ("surprised", "sur", "surprise", "ps", "pleasant_surprise", "pleasant surprise",
                                "pleasant_surprised")},
    **{s: "bored" for s in ("bored", "bor", "boredom")},
    **{s: "contempt" for s in ("contempt", "con", "contemptuous")},
})


def corpus_codes() -> dict:
    """``{loader: {code: canonical label}}``: how each corpus loader spells its classes on disk."""
    from . import crema_d, emodb, emovo, iemocap, msp_podcast, ravdess, savee, tess

    modules = {"ravdess": ravdess, "crema_d": crema_d, "iemocap": iemocap, "msp_podcast": msp_podcast,
               "emodb": emodb, "tess": tess, "savee": savee, "emovo": emovo}
    return {name: dict(module.EMOTIONS) for name, module in modules.items()}


def check_overrides(overrides: Mapping | None) -> dict:
    """``overrides`` with lower-case keys; every target must be a canonical label."""
    out = {}
    for source, target in (overrides or {}).items():
        source, target = str(source).strip(), str(target).strip()
        if not source:
            raise ValueError(f"label override {source!r}={target!r}: the label to map is empty.")
        canon = SPELLINGS.get(target.lower())
        if canon is None:
            raise ValueError(
                f"label override {source}={target}: {target!r} is not a canonical label; choose one of "
                f"{list(CANONICAL_LABELS)} (or a common spelling of one, e.g. 'anger')."
            )
        out[source.lower()] = canon
    return out


def canonical_label(label, overrides: Mapping | None = None) -> str | None:
    """The canonical name of ``label`` (case-insensitive), or None when it is not a known spelling.

    ``overrides`` (``{spelling: canonical label}``) are looked up first.
    """
    key = str(label).strip().lower()
    table = check_overrides(overrides)
    return table.get(key, SPELLINGS.get(key))


def map_labels(labels, overrides: Mapping | None = None) -> tuple[list, list]:
    """Labels mapped to the vocabulary (unknown ones kept as written), and notes saying what changed."""
    table = check_overrides(overrides)
    mapped, changed, unknown = [], Counter(), Counter()
    for label in labels:
        key = str(label).strip().lower()
        canon = table.get(key, SPELLINGS.get(key))
        if canon is None:
            unknown[str(label)] += 1
            mapped.append(str(label))
            continue
        if canon != label:
            changed[(str(label), canon)] += 1
        mapped.append(canon)
    notes = []
    unused = sorted(set(table) - {str(v).strip().lower() for v in labels})
    if unused:
        raise ValueError(f"label override(s) for {unused}: no clip has such a label (labels seen: "
                         f"{sorted({str(v) for v in labels})}).")
    if changed:
        shown = ", ".join(f"{a}->{b} ({n})" for (a, b), n in sorted(changed.items()))
        notes.append(f"labels mapped to the canonical vocabulary: {shown}")
    if unknown:
        shown = ", ".join(f"{a} ({n})" for a, n in sorted(unknown.items()))
        notes.append(f"labels outside the canonical vocabulary kept as written: {shown} (map them with --label "
                     "SPELLING=CANONICAL)")
    return mapped, notes


def relabel(corpus, overrides: Mapping):
    """``corpus`` with labels mapped by ``overrides`` (``{label: canonical label}``), the change in its notes."""
    labels, notes = map_labels(corpus.labels, overrides)
    return dataclasses.replace(corpus, labels=np.asarray(labels, dtype=object), notes=corpus.notes + tuple(notes))


def shared_classes(train, test) -> tuple:
    """Restrict two corpora to the classes both have.

    Returns ``(train, test, report)``: the two corpora restricted, and
    ``{"kept": [...], "train_dropped": {class: clips}, "test_dropped": {...},
    "train_clips", "test_clips"}`` (clip counts before restriction; ``train_kept_clips``,
    ``test_kept_clips`` after it; ``train_title``, ``test_title``: :attr:`Corpus.title`).
    """
    kept = sorted(set(train.classes.tolist()) & set(test.classes.tolist()), key=str)
    if len(kept) < 2:
        raise ValueError(
            f"{train.name} and {test.name} share {len(kept)} class(es) ({kept}); cross-corpus evaluation needs at "
            f"least two. {train.name} has {train.classes.tolist()}, {test.name} has {test.classes.tolist()}; map "
            "differently spelled labels with --label SPELLING=CANONICAL."
        )

    def dropped(corpus):
        return {str(c): int(np.sum(corpus.labels == c)) for c in corpus.classes if c not in kept}

    report = {"kept": [str(c) for c in kept], "train_dropped": dropped(train), "test_dropped": dropped(test),
              "train_clips": len(train), "test_clips": len(test), "train": train.name, "test": test.name}
    restricted = [c.subset(np.isin(c.labels, kept)) for c in (train, test)]
    report.update(train_kept_clips=len(restricted[0]), test_kept_clips=len(restricted[1]),
                  train_title=train.title, test_title=test.title)
    return restricted[0], restricted[1], report
