"""Prompts for emotion attributes: the words for each pole of arousal, valence and dominance.

A dimension is scored from prompts for its poles, each filled into the same
templates as the categories' prompts (the prompt ensemble, amplified N_t times):
``"a {} voice."`` with ``"calm"`` and ``"low-energy"`` for low arousal, with
``"excited"`` and ``"high-energy"`` for high arousal, and optionally a middle
pole. :data:`POLE_WORDS` holds the built-in words; ``pole_prompts`` replaces them
per dimension and pole, and names the poles of a dimension that has none built in.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from .prompts import check_class_prompts, prompt_table

__all__ = ["POLES", "POLE_WORDS", "POSITIONS", "attribute_prompt_table", "check_pole_prompts", "pole_groups"]

POLES = ("low", "middle", "high")
# Where each pole lies on the dimension: the score is the expected position under the pole probabilities.
POSITIONS = MappingProxyType({"low": 0.0, "middle": 0.5, "high": 1.0})

# The built-in words, one tuple per pole (each word is a member of the prompt ensemble). They
# fit the categories' templates ("this person is feeling {}.", "a {} voice.", ...), and no
# word is shared between poles or dimensions, so every prompt says which pole it stands for.
POLE_WORDS = MappingProxyType({
    "arousal": MappingProxyType({
        "low": ("calm", "low-energy"),
        "middle": ("moderately energetic",),
        "high": ("excited", "high-energy"),
    }),
    "valence": MappingProxyType({
        "low": ("unhappy", "unpleasant"),
        "middle": ("neutral",),
        "high": ("happy", "pleasant"),
    }),
    "dominance": MappingProxyType({
        "low": ("submissive", "weak"),
        "middle": ("moderately assertive",),
        "high": ("dominant", "powerful"),
    }),
})


def pole_groups(dimensions: Sequence[str], middle: bool) -> list[tuple[str, str]]:
    """``(dimension, pole)`` of every prompt group, dimensions in order, poles low to high."""
    poles = POLES if middle else ("low", "high")
    return [(d, p) for d in dimensions for p in poles]


def check_pole_prompts(pole_prompts: Mapping | None, dimensions: Sequence[str], middle: bool,
                       stacklevel: int = 2) -> None:
    """Every pole named, every value a word or a list of words; each dimension's poles all worded.

    Raises ValueError for an unknown pole or a dimension without words for a pole it
    needs; warns about wording for a dimension that is not scored (a likely misspelling).
    """
    pole_prompts = pole_prompts or {}
    flat = {}
    for dimension, poles in pole_prompts.items():
        if not isinstance(poles, Mapping):
            raise TypeError(f"pole_prompts[{dimension!r}] must map poles {list(POLES)} to words, got "
                            f"{type(poles).__name__} {poles!r}.")
        unknown = sorted(set(poles) - set(POLES), key=str)
        if unknown:
            raise ValueError(f"pole_prompts[{dimension!r}] names pole(s) {unknown}; the poles are {list(POLES)}.")
        flat.update({f"{dimension}/{pole}": words for pole, words in poles.items()})
    check_class_prompts(flat)
    for dimension, pole in pole_groups(dimensions, middle):
        if _words_of(dimension, pole, pole_prompts) is None:
            raise ValueError(
                f"no words for the {pole} pole of {dimension!r}: it has no built-in words (built in: "
                f"{list(POLE_WORDS)}); give them, e.g. pole_prompts={{{dimension!r}: {{'low': [...], 'high': [...]}}}}."
            )
    unused = sorted(set(pole_prompts) - set(dimensions), key=str)
    if unused:
        warnings.warn(f"pole_prompts has wording for {unused}, which are not among the dimensions {list(dimensions)}; "
                      "it is not used. Check the spelling of the keys.", UserWarning, stacklevel=stacklevel + 1)


def _words_of(dimension, pole, pole_prompts):
    given = (pole_prompts or {}).get(dimension, {})
    if pole in given:
        words = given[pole]
        return (words,) if isinstance(words, str) else tuple(words)
    return POLE_WORDS.get(dimension, {}).get(pole)


def attribute_prompt_table(dimensions, middle, templates, pole_prompts=None, text_repeats=1, separator=" "):
    """:func:`~.prompts.prompt_table` of every pole group: per group, rows of (group, template, prompt).

    Groups are named ``"<dimension>/<pole>"`` and come in :func:`pole_groups` order.
    """
    groups = [f"{d}/{p}" for d, p in pole_groups(dimensions, middle)]
    words = {f"{d}/{p}": list(_words_of(d, p, pole_prompts)) for d, p in pole_groups(dimensions, middle)}
    return prompt_table(groups, templates, words, text_repeats, separator)
