import re

import pytest

from sklearn_zsfuse.estimators.prompts import (
    DEFAULT_TEMPLATES,
    SINGLE_TEMPLATE,
    amplify_text,
    build_prompts,
    class_words,
)


def test_default_templates_form_an_ensemble():
    assert len(DEFAULT_TEMPLATES) >= 3
    assert len(SINGLE_TEMPLATE) == 1
    assert all(t.count("{}") == 1 for t in DEFAULT_TEMPLATES + SINGLE_TEMPLATE)


@pytest.mark.parametrize(
    "label, word",
    [("fearful", "fearful"), ("fea", "fearful"), ("disgust", "disgusted"), ("ANG", "angry"),
     ("hap", "happy"), ("neutral", "neutral")],
)
def test_corpus_labels_map_to_adjectives(label, word):
    assert class_words(label) == (word,)


def test_unknown_label_is_used_as_written():
    assert class_words("schadenfreude") == ("schadenfreude",)
    assert class_words(3) == ("3",)


def test_class_prompts_override_per_class_and_accept_several_words():
    prompts = {"fearful": ["fear", "scared"], "angry": "furious"}
    assert class_words("fearful", prompts) == ("fear", "scared")
    assert class_words("angry", prompts) == ("furious",)
    assert class_words("sad", prompts) == ("sad",)


def test_class_prompts_rejects_empty_wording():
    with pytest.raises(ValueError, match=r"class_prompts\['sad'\]"):
        class_words("sad", {"sad": []})


def test_amplify_text_repeats_with_separator():
    assert amplify_text("a sad voice.", 1) == "a sad voice."
    assert amplify_text("a sad voice.", 3) == "a sad voice. a sad voice. a sad voice."
    assert amplify_text("x", 2, separator=" | ") == "x | x"


def test_build_prompts_is_templates_times_words_per_class():
    prompts = build_prompts(
        ["angry", "sad"], ("a {} voice.", "sounds {}."), {"angry": ["angry", "mad"]}, text_repeats=2
    )
    assert prompts[0] == [
        "a angry voice. a angry voice.",
        "sounds angry. sounds angry.",
        "a mad voice. a mad voice.",
        "sounds mad. sounds mad.",
    ]
    assert prompts[1] == ["a sad voice. a sad voice.", "sounds sad. sounds sad."]


@pytest.mark.parametrize("templates", [(), ("no placeholder",), ("{} and {}",), (3,)])
def test_bad_templates_are_refused(templates):
    with pytest.raises(ValueError, match="template"):
        build_prompts(["sad"], templates)


@pytest.mark.parametrize(
    "template, problem",
    [("{x} {}", "2 replacement field(s) ['{x}', '{}']"), ("{}{", "not a valid format string"),
     ("{:>10}", "['{:>10}']"), ("{0}", "['{0}']")],
)
def test_templates_with_other_fields_are_refused_with_the_reason(template, problem):
    with pytest.raises(ValueError, match=re.escape(problem)):
        build_prompts(["sad"], (template,))


def test_doubled_braces_are_literal_text():
    assert build_prompts(["sad"], ("a {{quoted}} {} voice",)) == [["a {quoted} sad voice"]]
