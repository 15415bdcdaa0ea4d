"""One table of systems: the protocol's rows, the command's choices and checks, and the deployed model read it."""

import json
import re
from pathlib import Path

import joblib
import pytest

from sklearn_zsfuse.cli import build_parser, main

PACKAGE = Path(__file__).resolve().parents[1] / "sklearn_zsfuse"


def test_each_system_name_is_written_once_in_the_package():
    from sklearn_zsfuse.evaluation import SYSTEMS

    sources = {p: p.read_text() for p in PACKAGE.rglob("*.py")}
    for name in SYSTEMS:
        found = {str(p.relative_to(PACKAGE)): len(re.findall(rf"[\"']{re.escape(name)}[\"']", text))
                 for p, text in sources.items()}
        found = {p: n for p, n in found.items() if n}
        assert found == {"evaluation/systems.py": 1}, (name, found)


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


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory, ravdess_meta):
    from test_evaluate_models import EMOTIONS, _copy_csv_corpus, _pick

    return _copy_csv_corpus(tmp_path_factory.mktemp("toy"), _pick(ravdess_meta, ["01", "02", "03"], EMOTIONS))


def test_a_system_added_to_the_table_is_evaluated_offered_and_deployed(toy_system, small_corpus, tiny_clap, tmp_path,
                                                                        capsys):
    pytest.importorskip("opensmile")
    # the command offers it: in --help, in the choices of an error, and among the systems a run makes
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["evaluate", "--help"])
    assert toy_system in " ".join(capsys.readouterr().out.split())
    base = ["evaluate", "--dataset", "csv", "--root", str(small_corpus), "--no-plots", "-q"]
    with pytest.raises(SystemExit) as stop:
        main(base + ["--fm", "egemaps", "--alm", "none", "--save-model", toy_system])
    assert stop.value.code == 2 and f"'{toy_system}' needs both --alm and --fm" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(base + ["--save-model", "zs_fuse+lgo"])
    assert f"did you mean '{toy_system}'" in capsys.readouterr().err
    # evaluate makes its row; --save-model builds and saves it
    out = tmp_path / "out"
    assert main(base + ["--alm", tiny_clap, "--fm", "egemaps", "--grid", "na=1", "nt=1", "w=0,0.5,1",
                        "--save-model", toy_system, "--out", str(out), "--device", "cpu"]) == 0
    doc = json.loads((out / "results.json").read_text())
    assert list(doc["systems"])[-1] == toy_system
    assert all(f["params"]["space"] == "log" for f in doc["systems"][toy_system]["folds"])
    assert toy_system in doc["comparison"] and toy_system in doc["grid"]
    assert f"| {toy_system} |" in (out / "table.md").read_text()
    model = joblib.load(out / "model.joblib")
    assert model.named_steps["fusion"].space == "log" and hasattr(model, "classes_")
    assert f"({toy_system}, " in capsys.readouterr().out
