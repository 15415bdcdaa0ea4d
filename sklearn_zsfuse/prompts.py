"""Emotion prompts: templates, class wordings, ensembles and text amplification."""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence

__all__ = [
    "DEFAULT_TEMPLATES",
    "SINGLE_TEMPLATE",
    "EMOTION_WORDS",
    "TEMPLATE_SETS",
    "amplify_text",
    "build_prompts",
    "class_words",
    "resolve_templates",
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
TEMPLATE_SETS: dict[str, tuple[str, ...]] = {"ensemble": DEFAULT_TEMPLATES, "single": SINGLE_TEMPLATE}


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
EMOTION_WORDS: dict[str, str] = {
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
}


def class_words(label, class_prompts: Mapping | None = None) -> tuple[str, ...]:
    """The word(s) that stand for ``label`` in the templates.

    ``class_prompts`` overrides the defaults per label; a value may be one word
    or a sequence of words, which are then part of the ensemble.
    """
    if class_prompts is not None:
        for key in (label, str(label)):
            if key in class_prompts:
                value = class_prompts[key]
                words = (value,) if isinstance(value, str) else tuple(value)
                if not words or not all(isinstance(w, str) and w.strip() for w in words):
                    raise ValueError(
                        f"class_prompts[{label!r}] must be a non-empty string or a non-empty "
                        f"sequence of non-empty strings, got {value!r}."
                    )
                return words
    text = str(label)
    return (EMOTION_WORDS.get(text.strip().lower(), text),)


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
    templates = resolve_templates(templates)
    if len(templates) == 0:
        raise ValueError("templates must hold at least one template string.")
    for t in templates:
        _check_template(t)
    return [
        [
            amplify_text(t.format(word), text_repeats, separator)
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
