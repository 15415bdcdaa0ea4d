"""One table of systems: the protocol's rows, the command's choices and checks, and the deployed model read it."""

import pytest


def test_the_table_declares_what_each_system_needs():
    from sklearn_zsfuse.evaluation import systems

    made = {(a, f): [s.name for s in systems.made(a, f)] for a in (False, True) for f in (False, True)}
    assert made[(False, True)] == ["specialist"]
    assert made[(True, False)] == [s for s in systems.SYSTEMS if s.startswith("zero_shot")]
    assert made[(True, True)] == list(systems.SYSTEMS)
    assert made[(False, False)] == []
    assert systems.FUSIONS == tuple(s.name for s in systems.TABLE if s.candidates is not None)
    with pytest.raises(ValueError, match=r"'zsfuse' is not a system.*one of \['specialist'"):
        systems.find("zsfuse")
    with pytest.raises(ValueError, match="a row is made one way"):
        systems.System("broken", needs_alm=True, needs_fm=False, candidates=lambda grid: [])


def _log_space(grid):
    from sklearn_zsfuse.estimators.fusion_cv import fusion_candidates

    return [{**c, "space": "log"} for c in fusion_candidates(("weighted",), grid.weights, (None,))]


@pytest.fixture
def toy_system(monkeypatch):
    """A weighted fusion in log space, added to the table as one entry."""
    from sklearn_zsfuse.evaluation import systems

    toy = systems.fusion("zs_fuse+log", _log_space)
    monkeypatch.setattr(systems, "TABLE", (*systems.TABLE, toy))
    return toy.name


def test_a_system_added_to_the_table_gets_its_row_and_its_estimator(toy_system):
    from sklearn_zsfuse.evaluation import final_model, run_study

    from test_evaluation_study import GRID, two_by_two

    features, labels, folds, speakers = two_by_two()
    study = run_study(features, labels, folds, speakers, grid=GRID)
    pair = study.pairs[("clap-a", "fm-good")]
    assert list(pair.systems)[-1] == toy_system and toy_system in pair.comparison
    assert all(f["params"]["space"] == "log" for f in pair.systems[toy_system].folds)
    assert toy_system not in study.alm_runs["clap-a"].systems  # it needs both models
    params = {"audio_repeats": 2, "text_repeats": 1, "method": "weighted", "weight": 0.25, "temperature": None,
              "space": "log"}
    model = final_model(toy_system, params, alm="a", fm="f", device="cpu", estimator_params={"crop": "random"})
    fusion = model.named_steps["fusion"]
    assert (fusion.space, fusion.weight) == ("log", 0.25)
    assert model.get_params()["features__zs__audio_repeats"] == 2 and model.get_params()["features__zs__crop"] == "random"
