"""Named template sets: templates="ensemble" / "single", readable in cv_results_."""

import numpy as np
import pytest

from sklearn_zsfuse import DEFAULT_TEMPLATES, SINGLE_TEMPLATE, ALMZeroShotScorer
from sklearn_zsfuse.estimators.prompts import TEMPLATE_SETS, build_prompts, resolve_templates


def test_the_names_stand_for_the_importable_tuples():
    assert TEMPLATE_SETS == {"ensemble": DEFAULT_TEMPLATES, "single": SINGLE_TEMPLATE}
    assert resolve_templates("ensemble") == DEFAULT_TEMPLATES
    assert resolve_templates("single") == SINGLE_TEMPLATE
    assert resolve_templates("a {} voice.") == ("a {} voice.",)  # one template, as before
    assert resolve_templates(["a {} voice.", "{}!"]) == ("a {} voice.", "{}!")
    assert build_prompts(["happy"], "single") == [["this person is feeling happy."]]


def test_an_unknown_name_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match=r"templates='ensembel'.*'ensemble', 'single'"):
        resolve_templates("ensembel")


def test_the_scorer_takes_a_name_and_scores_as_with_the_tuple(tiny_clap, sine_clips):
    waves, sr = sine_clips
    y = ["happy", "sad", "happy"]
    by_name = ALMZeroShotScorer(tiny_clap, templates="single", sampling_rate=sr, device="cpu").fit(waves, y)
    by_tuple = ALMZeroShotScorer(tiny_clap, templates=SINGLE_TEMPLATE, sampling_rate=sr, device="cpu").fit(waves, y)
    np.testing.assert_allclose(by_name.transform(waves), by_tuple.transform(waves), rtol=1e-6)
    with pytest.raises(ValueError, match="named template set"):
        ALMZeroShotScorer(tiny_clap, templates="ensembel", sampling_rate=sr, device="cpu").fit(waves, y)


def test_cv_results_show_the_names(tiny_clap, sine_clips):
    from sklearn.model_selection import GridSearchCV

    waves, sr = sine_clips
    waves = waves * 2
    y = ["happy", "sad", "happy", "sad", "happy", "sad"]
    search = GridSearchCV(
        ALMZeroShotScorer(tiny_clap, classes=["happy", "sad"], sampling_rate=sr, device="cpu"),
        {"templates": ["ensemble", "single"]}, cv=2, scoring="accuracy",
    ).fit(waves, y)
    assert list(search.cv_results_["param_templates"]) == ["ensemble", "single"]
    assert search.best_params_["templates"] in ("ensemble", "single")
