"""make_zsfuse_pipeline reaches every parameter of the scorer and the embedder; one routing for all callers."""

import pytest

from sklearn_zsfuse import ALMZeroShotScorer, FMEmbedder, LateFusionClassifier, make_zsfuse_pipeline


def _value(name):
    # A value no default has; building stores parameters without checking them (sklearn's rule).
    return ["x", "y"] if name == "classes" else f"value of {name}"


@pytest.mark.parametrize("estimator, step", [(ALMZeroShotScorer, "zs"), (FMEmbedder, "fm")])
def test_every_constructor_parameter_can_be_set_through_the_pipeline(estimator, step):
    other = {"zs": FMEmbedder, "fm": ALMZeroShotScorer}[step]
    for name in estimator().get_params():
        if name == "model":
            continue
        params = make_zsfuse_pipeline("a", "f", **{name: _value(name)}).get_params()
        assert params[f"features__{step}__{name}"] == _value(name), name
        # a name both estimators take goes to both; a name only one takes leaves the other's default
        expected = _value(name) if name in other().get_params() else None
        other_step = "fm" if step == "zs" else "zs"
        assert params.get(f"features__{other_step}__{name}", None) == expected, name


def test_the_pipeline_takes_estimators_each_with_its_own_settings():
    scorer = ALMZeroShotScorer("a", revision="r-alm", batch_size=4, classes=["sad", "angry"])
    embedder = FMEmbedder("f", revision="r-fm", layer=3)
    pipe = make_zsfuse_pipeline(scorer, embedder, weight=0.2, device="cpu")
    params = pipe.get_params()
    assert params["features__zs__revision"] == "r-alm" and params["features__fm__revision"] == "r-fm"
    assert params["features__zs__batch_size"] == 4 and params["features__fm__layer"] == 3
    assert params["features__zs__device"] == params["features__fm__device"] == "cpu"  # given: set on both
    assert params["fusion__weight"] == 0.2
    assert params["fusion__zero_shot_classes"] == ["angry", "sad"]  # the scorer's columns, from its classes
    assert pipe.named_steps["features"].transformer_list[0][1] is not scorer  # yours are left as they are
    assert scorer.device == "auto"


def test_an_unknown_parameter_is_refused_with_the_accepted_names():
    with pytest.raises(ValueError, match=r"\['leyer'\] is not a parameter of ALMZeroShotScorer or FMEmbedder"):
        make_zsfuse_pipeline("a", "f", leyer=1)


def test_the_fusion_parameters_are_the_fusions_own():
    fusion = make_zsfuse_pipeline("a", "f").named_steps["fusion"]
    assert isinstance(fusion, LateFusionClassifier)
    assert fusion.get_params(deep=False) == {**LateFusionClassifier().get_params(deep=False)}


def test_evaluation_and_the_pipeline_route_parameters_the_same_way():
    from sklearn_zsfuse.estimators.pipeline import route_params

    alm, fm = route_params({"layer": 1, "cache_dir": None, "audio_repeats": 1, "chunk_seconds": 10, "crop": "random"})
    assert fm == {"layer": 1, "cache_dir": None, "chunk_seconds": 10}
    assert alm == {"cache_dir": None, "audio_repeats": 1, "crop": "random"}
    with pytest.raises(ValueError, match=r"estimator_params \['leyer'\] is not a parameter"):
        route_params({"leyer": 1}, what="estimator_params")
