"""Silent label and prompt mistakes become messages (issue 10 item 7).

NaN labels used to become a class, over-long templates were cut so that every class
scored the same, two classes with one wording scored identically, and class_prompts
values of the wrong type crashed or were silently misread.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

from sklearn_zsfuse import ALMZeroShotScorer, LateFusionClassifier
from sklearn_zsfuse.encoders import get_alm_encoder

SR = 16000


@pytest.fixture
def clips():
    t = np.arange(SR) / SR
    return [(0.2 * np.sin(2 * np.pi * f * t)).astype(np.float32) for f in (200, 300, 400, 500)]


@pytest.mark.parametrize(
    "y",
    [
        ["happy", None, "sad", "happy"],
        ["happy", np.nan, "sad", np.nan],
        np.array([1.0, np.nan, 2.0, 1.0]),
        pd.Series(["happy", pd.NA, "sad", "sad"], dtype="string"),
        pd.Series(["happy", None, "sad", "sad"]),
    ],
    ids=["None", "nan-in-strings", "float-nan", "pd.NA", "series-None"],
)
def test_missing_labels_are_refused_naming_their_positions(y, clips):
    missing = [i for i, v in enumerate(list(y)) if v is None or v is pd.NA or v != v]
    shown = ", ".join(map(str, missing))
    with pytest.raises(ValueError, match=rf"y has no label \(NaN or None\) at position\(s\) \[{shown}\]"):
        ALMZeroShotScorer(sampling_rate=SR).fit(clips, y)
    X = np.random.default_rng(0).normal(size=(4, 6))
    with pytest.raises(ValueError, match=rf"y has no label \(NaN or None\) at position\(s\) \[{shown}\]"):
        LateFusionClassifier(n_zero_shot=2).fit(X, y)


@pytest.mark.parametrize(
    "y",
    [["angry", 1, "sad", 2], ("angry", 1.5, "sad", "angry"), pd.Series(["angry", 1, "sad", 2], dtype=object)],
    ids=["list", "tuple-float", "series"],
)
@pytest.mark.parametrize("estimator", ["scorer", "fusion", "fusion-cv"])
def test_labels_mixing_strings_and_numbers_are_refused_by_every_estimator(y, estimator, clips):
    """A list (not only an object ndarray) mixing types used to be coerced to strings ('1', '2')."""
    from sklearn_zsfuse import LateFusionClassifierCV

    X = np.random.default_rng(0).normal(size=(4, 6))
    fit = {
        "scorer": lambda: ALMZeroShotScorer(sampling_rate=SR).fit(clips, y),
        "fusion": lambda: LateFusionClassifier(n_zero_shot=2).fit(X, y),
        "fusion-cv": lambda: LateFusionClassifierCV(n_zero_shot=2, cv=2).fit(X, y),
    }[estimator]
    with pytest.raises(ValueError, match=r"Mix of label input types \(strings and numbers\) in y"):
        fit()


def test_a_scorer_with_fixed_classes_refuses_mixed_labels_in_y_too(clips):
    with pytest.raises(ValueError, match=r"Mix of label input types \(strings and numbers\) in y"):
        ALMZeroShotScorer(classes=["angry", "sad"], sampling_rate=SR).fit(clips, ["angry", 1, "sad", "angry"])
    with pytest.raises(ValueError, match=r"Mix of label input types \(strings and numbers\) in classes"):
        ALMZeroShotScorer(classes=["angry", 1], sampling_rate=SR).fit(clips, ["angry", "angry", "angry", "angry"])


def test_missing_entries_in_classes_are_refused_too():
    with pytest.raises(ValueError, match=r"classes has no label \(NaN or None\) at position\(s\) \[1\]"):
        ALMZeroShotScorer(classes=["happy", None]).fit()


@pytest.mark.parametrize(
    "value, error, fragment",
    [
        (3, TypeError, "got int 3"),
        ({"scared": 1}, TypeError, "got dict"),
        ({"scared", "afraid"}, TypeError, "got set"),  # unordered: the ensemble would change run to run
        (None, TypeError, "got NoneType"),
        (["scared", 3], TypeError, "item 1 is int 3"),
        ([], ValueError, "is empty"),
        (["scared", "  "], ValueError, "item 1 is blank"),
    ],
)
def test_class_prompts_values_of_the_wrong_type_name_the_key_at_fit(value, error, fragment):
    # Fails at fit, before any model loads (the model name does not exist).
    est = ALMZeroShotScorer("/no/such/model", classes=["fearful", "happy"], class_prompts={"fearful": value})
    with pytest.raises(error, match=r"class_prompts\['fearful'\] must be a word \(str\) or a list of words.*" + fragment):
        est.fit()


def test_two_classes_with_the_same_wording_warn_naming_them(tiny_clap):
    est = ALMZeroShotScorer(
        tiny_clap, device="cpu", classes=["fearful", "scared", "happy"], class_prompts={"scared": "fearful"}
    )
    with pytest.warns(UserWarning, match=r"classes 'fearful' and 'scared' are given the same wording \('fearful'\)"):
        est.fit()
    # Word order does not make a difference either: the ensemble averages them.
    est.set_params(class_prompts={"fearful": ["afraid", "scared"], "scared": ["scared", "afraid"]})
    with pytest.warns(UserWarning, match=r"'fearful' and 'scared' are given the same wording"):
        est.fit()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est.set_params(class_prompts={"scared": "scared"}).fit()


def test_the_encoder_says_how_many_tokens_its_text_tower_reads(tiny_clap):
    from sklearn_zsfuse.encoders import TextTokenLimit

    encoder = get_alm_encoder(tiny_clap, device="cpu")
    assert isinstance(encoder, TextTokenLimit)
    assert encoder.max_text_tokens == 77
    counts = encoder.count_tokens(["a happy voice.", "a happy voice. " * 30])
    assert counts[0] < 77 < counts[1] and counts[1] > 10 * counts[0]


def test_a_template_longer_than_the_text_model_reads_warns_with_its_token_count(tiny_clap):
    long = "{} " + "the speaker sounds calm and is speaking by the door. " * 8
    est = ALMZeroShotScorer(tiny_clap, device="cpu", classes=["happy", "sad"], templates=("a {} voice.", long))
    with pytest.warns(UserWarning) as record:
        est.fit()
    (w,) = [r for r in record if "tokens" in str(r.message)]
    message = str(w.message)
    assert repr(long) in message and "the text model reads at most 77 tokens" in message
    count = get_alm_encoder(tiny_clap, device="cpu").count_tokens([long.format("happy")])[0]
    assert f"up to {count} tokens" in message
    assert "a {} voice." not in message  # the short template is fine


def test_text_repeats_that_overflow_the_window_are_named(tiny_clap):
    est = ALMZeroShotScorer(tiny_clap, device="cpu", classes=["happy", "sad"], templates=("a {} voice.",), text_repeats=40)
    with pytest.warns(UserWarning, match=r"(?s)the text model reads at most 77 tokens.*text_repeats=40"):
        est.fit()


def test_a_template_that_cuts_off_the_class_word_for_every_class_is_an_error(tiny_clap):
    late = "the speaker sounds calm and is speaking by the door. " * 8 + "{}"
    est = ALMZeroShotScorer(tiny_clap, device="cpu", classes=["happy", "sad", "angry"], templates=(late,))
    with pytest.raises(ValueError, match=r"(?s)every class has the same text embedding.*77 tokens.*" + r"the speaker sounds calm"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit()
