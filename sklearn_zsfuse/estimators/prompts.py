"""Emotion prompts: templates, class wordings, ensembles and text amplification."""

from __future__ import annotations

import string
import warnings
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np

from .params import ParameterError

__all__ = [
    "DEFAULT_TEMPLATES",
    "SINGLE_TEMPLATE",
    "EMOTION_WORDS",
    "TEMPLATE_SETS",
    "amplify_text",
    "build_prompts",
    "check_class_prompts",
    "class_words",
    "prompt_table",
    "resolve_templates",
    "warn_long_prompts",
    "warn_same_wording",
]

# The prompt ensemble: each template is filled with an adjective for the class.
DEFAULT_TEMPLATES: tuple[str, ...] = (
    "this person is feeling {}.",
    "a {} voice.",
    "the speaker sounds {}.",
    "a recording of a {} person speaking.",
    "speech with a {} tone.",
)
# The plain zero-shot baseline: one template.
SINGLE_TEMPLATE: tuple[str, ...] = ("this person is feeling {}.",)

# Named template sets: ``templates="ensemble"`` reads better in a grid's cv_results_
# (and in a repr) than the tuple of strings it stands for.
TEMPLATE_SETS: dict[str, tuple[str, ...]] = MappingProxyType({"ensemble": DEFAULT_TEMPLATES, "single": SINGLE_TEMPLATE})


def resolve_templates(templates) -> tuple[str, ...]:
    """The templates ``templates`` stands for: a set's name, one template string, or a sequence of them."""
    if isinstance(templates, str):
        if templates in TEMPLATE_SETS:
            return TEMPLATE_SETS[templates]
        if "{" not in templates:
            names = ", ".join(repr(n) for n in TEMPLATE_SETS)
            raise ValueError(
                f"templates={templates!r} is neither a named template set ({names}) nor a "
                "template with a '{}' placeholder for the class word."
            )
        return (templates,)
    return tuple(templates)

# Corpus label spellings (RAVDESS, CREMA-D, IEMOCAP, MSP-Podcast, EmoDB, ...) mapped to
# the adjective the templates expect. Labels not listed are used as written. Single
# letters are left out on purpose: they mean different emotions in different corpora.
EMOTION_WORDS: dict[str, str] = MappingProxyType({
    "neutral": "neutral",
    "neu": "neutral",
    "calm": "calm",
    "happy": "happy",
    "happiness": "happy",
    "hap": "happy",
    "joy": "joyful",
    "excited": "excited",
    "exc": "excited",
    "sad": "sad",
    "sadness": "sad",
    "angry": "angry",
    "anger": "angry",
    "ang": "angry",
    "fearful": "fearful",
    "fear": "fearful",
    "fea": "fearful",
    "disgust": "disgusted",
    "disgusted": "disgusted",
    "dis": "disgusted",
    "surprised": "surprised",
    "surprise": "surprised",
    "sur": "surprised",
    "ps": "surprised",
    "frustrated": "frustrated",
    "frustration": "frustrated",
    "fru": "frustrated",
    "contempt": "contemptuous",
    "con": "contemptuous",
    "boredom": "bored",
    "bored": "bored",
})


def class_words(label, class_prompts: Mapping | None = None) -> tuple[str, ...]:
    """The word(s) that stand for ``label`` in the templates.

    ``class_prompts`` overrides the defaults per label; a value may be one word
    or a sequence of words, which are then part of the ensemble.
    """
    if class_prompts is not None:
        for key in (label, str(label)):
            if key in class_prompts:
                return _words(key, class_prompts[key])
    text = str(label)
    return (EMOTION_WORDS.get(text.strip().lower(), text),)


def check_class_prompts(class_prompts: Mapping | None) -> None:
    """Every value a word or a list of words (checked at fit, before a model loads)."""
    for key, value in (class_prompts or {}).items():
        _words(key, value)


def _words(key, value) -> tuple[str, ...]:
    """``value`` of ``class_prompts[key]`` as a tuple of words, or an error naming the key.

    Lists and tuples only: a dict would give its keys, a set an order that changes from
    run to run (and with it the prompt ensemble's order), a number no word at all.
    """
    expected = f"class_prompts[{key!r}] must be a word (str) or a list of words"
    if isinstance(value, str):
        words = (value,)
    elif isinstance(value, (list, tuple)):
        words = tuple(value)
        if not words:
            raise ValueError(f"{expected}; the list is empty.")
    else:
        raise TypeError(f"{expected}, got {type(value).__name__} {value!r}.")
    for i, w in enumerate(words):
        where = "the word" if isinstance(value, str) else f"item {i}"
        if not isinstance(w, str):
            raise TypeError(f"{expected}; {where} is {type(w).__name__} {w!r}.")
        if not w.strip():
            raise ValueError(f"{expected}; {where} is blank ({w!r}).")
    return words


def warn_same_wording(classes: Sequence, class_prompts: Mapping | None = None, stacklevel: int = 2) -> None:
    """Two classes with the same word(s) get the same text embedding, so the same score: say so."""
    by_words: dict[frozenset, list] = {}
    for c in classes:
        by_words.setdefault(frozenset(class_words(c, class_prompts)), []).append(c)
    for words, same in by_words.items():
        if len(same) > 1:
            names = " and ".join(repr(str(c)) for c in same)
            wording = ", ".join(repr(w) for w in sorted(words))
            warnings.warn(
                f"classes {names} are given the same wording ({wording}): their text embeddings and "
                "scores are identical, so the zero-shot scorer cannot tell them apart. Give each "
                "class its own word(s) in class_prompts.",
                UserWarning,
                stacklevel=stacklevel,
            )


def warn_long_prompts(table, counts, limit: int, text_repeats: int = 1, stacklevel: int = 2) -> dict:
    """Warn once about prompts the text model cuts at ``limit`` tokens, naming each template and its count.

    ``table`` is :func:`prompt_table`'s output, ``counts`` the token counts of its prompts
    (same nesting). Returns {template: (most tokens, class, prompt)} of the cut templates.
    """
    longest: dict[str, tuple[int, str, str]] = {}  # template -> (tokens, class, prompt)
    for c, (rows, row_counts) in enumerate(zip(table, counts)):
        for (label, template, prompt), n in zip(rows, row_counts):
            if n > limit and n > longest.get(template, (0,))[0]:
                longest[template] = (n, label, prompt)
    if not longest:
        return longest
    parts = [
        f"template {t!r} gives up to {n} tokens (e.g. class {str(label)!r})" for t, (n, label, _) in longest.items()
    ]
    cause = (
        f" With text_repeats={text_repeats} each prompt is repeated {text_repeats} times; lower "
        "text_repeats so the repeats fit." if text_repeats > 1 else " Shorten the template(s)."
    )
    warnings.warn(
        "Prompts longer than the text model reads are cut: the text model reads at most "
        f"{limit} tokens, and {'; '.join(parts)}. Words past the cut do not reach the model "
        f"(if the class word is among them, classes score alike).{cause}",
        UserWarning,
        stacklevel=stacklevel,
    )
    return longest


def amplify_text(prompt: str, repeats: int, separator: str = " ") -> str:
    """Text amplification: the prompt repeated ``repeats`` times."""
    return separator.join([prompt] * repeats)


def build_prompts(
    classes: Sequence,
    templates: Sequence[str],
    class_prompts: Mapping | None = None,
    text_repeats: int = 1,
    separator: str = " ",
) -> list[list[str]]:
    """One list of (amplified) prompts per class: every template x every word.

    ``templates`` is a named set (see :data:`TEMPLATE_SETS`), one template or a sequence of them.
    """
    return [
        [prompt for _, _, prompt in rows]
        for rows in prompt_table(classes, templates, class_prompts, text_repeats, separator)
    ]


def prompt_table(
    classes: Sequence,
    templates: Sequence[str],
    class_prompts: Mapping | None = None,
    text_repeats: int = 1,
    separator: str = " ",
) -> list[list[tuple]]:
    """:func:`build_prompts` with where each prompt came from: per class, (label, template, prompt)."""
    templates = resolve_templates(templates)
    if len(templates) == 0:
        raise ValueError("templates must hold at least one template string.")
    for t in templates:
        _check_template(t)
    return [
        [
            (c, t, amplify_text(t.format(word), text_repeats, separator))
            for word in class_words(c, class_prompts)
            for t in templates
        ]
        for c in classes
    ]


def _check_template(template) -> None:
    """Exactly one bare ``{}`` field; other braces only doubled (``{{`` ``}}``), as str.format reads them."""
    problem = None
    if not isinstance(template, str):
        problem = "it is not a string"
    else:
        try:
            fields = [f[1:] for f in string.Formatter().parse(template) if f[1] is not None]
        except ValueError as exc:
            problem = f"it is not a valid format string ({exc})"
        else:
            if fields != [("", "", None)]:
                shown = [
                    "{" + name + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "") + "}"
                    for name, spec, conv in fields
                ]
                problem = f"it has {len(fields)} replacement field(s) {shown}"
    if problem:
        raise ValueError(
            f"Each template must be a string with exactly one '{{}}' placeholder for the class "
            f"word (write literal braces as '{{{{' and '}}}}'); got {template!r}: {problem}."
        )


def warn_unused_class_prompts(class_prompts, classes, stacklevel: int = 2) -> None:
    """A wording for a label that is not a class is likely a misspelt key: say so."""
    if not class_prompts:
        return
    labels = list(np.asarray(classes).tolist())
    names = set(labels) | {str(c) for c in labels}
    unused = sorted((k for k in class_prompts if k not in names), key=str)
    if unused:
        warnings.warn(
            f"class_prompts has wording for {unused}, which are not among the classes "
            f"{labels}; it is not used. Check the spelling of the keys "
            "(classes without an entry use the built-in emotion word, else the label itself).",
            UserWarning,
            stacklevel=stacklevel + 1,
        )


def check_classes_differ(text_embeddings, classes, long_prompts: dict) -> None:
    """Every class with one text embedding means one score for all: an error, with the likely cause.

    ``long_prompts``: ``{"limit": tokens, "longest": {template: (tokens, class, prompt)}}`` of
    the prompts the text tower cuts (:func:`warn_long_prompts`), or empty.
    """
    labels = list(np.asarray(classes).tolist())
    emb = np.nan_to_num(text_embeddings).reshape(len(labels), -1)
    if len(emb) < 2 or not np.allclose(emb, emb[0], rtol=0, atol=1e-5):
        return
    if long_prompts.get("longest"):
        parts = "; ".join(f"template {t!r} gives {n} tokens" for t, (n, _, _) in long_prompts["longest"].items())
        cause = (
            f"the text model reads at most {long_prompts['limit']} tokens and the prompts are "
            f"longer ({parts}), so the class word is cut off"
        )
    else:
        cause = "the text model reads every class's prompts as the same text"
    raise ParameterError(
        f"ALMZeroShotScorer: every class has the same text embedding, so every clip would "
        f"score the same for all classes {labels}: {cause}. Put the class "
        "word early in shorter templates, or give the classes distinct words in class_prompts."
    )
