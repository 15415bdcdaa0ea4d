"""One evaluation for both kinds of target: categories, or rated dimensions (``evaluate(target=...)``).

Both run the models through the same :func:`compute_feature_set`; only what each
ALM scores differs (:mod:`sklearn_zsfuse.evaluation.zero_shot_targets`).
"""

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from sklearn_zsfuse import ALMAttributeScorer, ALMZeroShotScorer
from sklearn_zsfuse.estimators.prompts import SINGLE_TEMPLATE
from sklearn_zsfuse.evaluation import AttributeFeatureSet, Grid, compute_attribute_features, compute_feature_set, evaluate
from sklearn_zsfuse.evaluation.zero_shot_targets import Categories, Dimensions, ZeroShotTarget, as_target

ONE = Grid(audio_repeats=(1,), text_repeats=(1,), weights=(0.5,))


@pytest.mark.parametrize("target, option, value", [
    ("arousal", "class_prompts", {"happy": ["a happy voice"]}),
    (["arousal", "valence"], "test_corpus", object()),
    ("dimensions", "specialist_pairs", True),
    ("dimensions", "class_weight", "balanced"),
    (None, "regressor", Ridge()),
    (None, "pole_prompts", {"arousal": ("calm", "excited")}),
    (None, "middle", True),
])
def test_the_other_targets_options_are_refused_by_name_before_any_clip_is_read(target, option, value):
    # corpus=None: the refusal comes before the corpus is touched
    with pytest.raises(ValueError, match=option):
        evaluate(None, target=target, fm="egemaps", **{option: value})


def test_a_sequence_of_classes_is_the_categories_target():
    target = as_target(["happy", "sad"], {"happy": ["a happy voice"]})
    assert target == Categories(("happy", "sad"), {"happy": ["a happy voice"]})
    dims = Dimensions(("arousal",))
    assert isinstance(dims, ZeroShotTarget) and as_target(dims) is dims
    with pytest.raises(ValueError, match="class_prompts"):
        as_target(dims, {"happy": ["a happy voice"]})
    assert isinstance(target.scorer("some-model", {"device": "cpu"}), ALMZeroShotScorer)
    with pytest.raises(ValueError, match=r"\['classes'\].*category scorer"):
        dims.scorer("some-model", {"classes": ["happy"]})


def test_dimensions_give_the_attribute_scorers_scores_through_the_shared_feature_pass(speech_files, tiny_clap):
    paths = speech_files[:3]
    dims = ("arousal", "valence")
    shared = compute_feature_set(paths, Dimensions(dims), alms=[tiny_clap], grid=ONE, device="cpu")
    direct = ALMAttributeScorer(tiny_clap, dimensions=dims, templates=SINGLE_TEMPLATE, device="cpu").fit(paths)
    np.testing.assert_allclose(shared.alms[tiny_clap].single, direct.transform(paths), rtol=1e-6)
    assert shared.alms[tiny_clap].single.shape == (3, 2) and set(shared.alms[tiny_clap].ensemble) == {(1, 1)}
    wrapped = compute_attribute_features(paths, dims, alms=[tiny_clap], grid=ONE, device="cpu")
    assert isinstance(wrapped, AttributeFeatureSet) and wrapped.dimensions == dims
    assert wrapped.alms[tiny_clap].single.dtype == np.float64
    np.testing.assert_allclose(wrapped.alms[tiny_clap].single, shared.alms[tiny_clap].single, rtol=1e-6)
