"""The dimensional protocol on precomputed arrays: rows, choices on training clips only, the JSON (issue 20.4)."""

import json

import numpy as np
import pytest

from sklearn_zsfuse.evaluation import AttributeFeatures, AttributeFeatureSet, Grid, run_dimensional_study
from sklearn_zsfuse.evaluation.dimension_systems import DIMENSION_TABLE, dimension_fusions
from sklearn_zsfuse.evaluation.regression_metrics import concordance_cc
from sklearn_zsfuse.evaluation.systems import TABLE

GRID = Grid(audio_repeats=(1, 2), text_repeats=(1,), weights=(0, 0.5, 1))
SCALES = {"arousal": (1.0, 7.0, "test"), "valence": (1.0, 5.0, "test")}


def corpus(n_speakers=6, per_speaker=20, seed=0):
    rng = np.random.default_rng(seed)
    n = n_speakers * per_speaker
    speakers = np.repeat([f"s{i}" for i in range(n_speakers)], per_speaker)
    folds = np.repeat(np.arange(n_speakers) // 2 + 1, per_speaker)
    labels = np.where(np.arange(n) % 2, "happy", "sad")
    targets = {"arousal": rng.uniform(1, 7, n), "valence": rng.uniform(1, 5, n)}
    exact = np.column_stack([(targets["arousal"] - 1) / 6, (targets["valence"] - 1) / 4])
    emb = np.column_stack([targets["arousal"] + rng.normal(0, 1, n), targets["valence"] + rng.normal(0, 1, n),
                           rng.normal(size=(n, 3))])
    return targets, exact, emb, labels, folds, speakers


def study_of(alms, emb, targets, labels, folds, speakers, **kwargs):
    fs = AttributeFeatureSet(("arousal", "valence"), alms=alms, fms={"fm": emb}, fm_layers={"fm": ("fm", None)})
    return run_dimensional_study(fs, targets, SCALES, labels, folds, speakers, grid=GRID, dataset="toy", **kwargs)


def test_the_table_has_the_categorical_shape_and_exact_scores_give_ccc_one():
    targets, exact, emb, labels, folds, speakers = corpus()
    noise = np.random.default_rng(1).uniform(size=exact.shape)
    study = study_of({"exact": AttributeFeatures(exact, {(1, 1): exact, (2, 1): noise})}, emb, targets, labels,
                     folds, speakers)
    names = [s.name for s in DIMENSION_TABLE]
    assert [s for s in names if s != "zero_shot+rescaled"] == \
        [s.name for s in TABLE if s.name not in ("zero_shot+calibrated", "zs_fuse+calibrated")]
    for d in ("arousal", "valence"):
        run = study.pairs[("exact", "fm")][d]
        assert list(run.systems) == names and run.n_folds == 3
        for system in ("zero_shot", "zero_shot+ensemble", "zero_shot+ensemble+amplification", "zero_shot+rescaled",
                       "zs_fuse"):
            assert run.systems[system].summary["ccc"] == pytest.approx(1.0, abs=1e-9), (d, system)
        assert run.systems["specialist"].summary["ccc"] < 0.95
        # (N_a, N_t) chosen on the inner splits: the exact (1, 1), not the noisy (2, 1)
        assert all(f["chosen"] == [1, 1] for f in run.selection["amplification"])
        assert all(f["params"]["weight"] == 1.0 for f in run.systems["zs_fuse"].folds)
        c = run.comparison["zs_fuse"]
        assert c["ci_low"] > 0 and c["ccc_a"] == pytest.approx(1.0)
    header, rows = study.pairs[("exact", "fm")]["arousal"].table_rows()
    assert header == ["system", "CCC", "Pearson r", "MAE"] and rows[1][1].startswith("1.000 ± ")


def test_a_noise_zero_shot_branch_leaves_the_fusion_at_the_specialist():
    targets, exact, emb, labels, folds, speakers = corpus(seed=2)
    noise = np.random.default_rng(3).uniform(size=exact.shape)
    study = study_of({"noise": AttributeFeatures(noise, {(1, 1): noise, (2, 1): noise})}, emb, targets, labels,
                     folds, speakers)
    for d in ("arousal", "valence"):
        run = study.pairs[("noise", "fm")][d]
        specialist = run.systems["specialist"].summary["ccc"]
        assert abs(run.systems["zs_fuse"].summary["ccc"] - specialist) < 0.03
        c = run.comparison["zs_fuse"]
        assert c["ci_low"] <= 0.005 and abs(c["ccc_diff"]) < 0.03


def test_no_choice_sees_a_test_rating(monkeypatch):
    """Ratings of each outer test fold are made NaN for the choices: any use of them would show."""
    from sklearn_zsfuse.evaluation import attribute_select, dimension_protocol

    targets, exact, emb, labels, folds, speakers = corpus(seed=4)
    seen = []
    choose, fit = attribute_select.choose_attribute, attribute_select.fit_regression_fusion

    def hide(ratings, fold):
        hidden = np.asarray(ratings, dtype=np.float64).copy()
        hidden[fold.test] = np.nan
        return hidden

    def spy_choose(features, column, scale, ratings, fold, configs):
        seen.append(fold.id)
        return choose(features, column, scale, hide(ratings, fold), fold, configs)

    def spy_fit(system, X, ratings, fold, grid, base):
        return fit(system, X, hide(ratings, fold), fold, grid, base)

    monkeypatch.setattr(dimension_protocol, "choose_attribute", spy_choose)
    monkeypatch.setattr(dimension_protocol, "fit_regression_fusion", spy_fit)
    noise = np.random.default_rng(5).uniform(size=exact.shape)
    study = study_of({"a": AttributeFeatures(exact, {(1, 1): exact, (2, 1): noise})}, emb, targets, labels, folds,
                     speakers)
    assert sorted(set(seen)) == [1, 2, 3]
    for d in ("arousal", "valence"):
        for system in study.pairs[("a", "fm")][d].systems.values():
            assert np.all(np.isfinite(system.predictions))


def test_json_tables_and_models_alone():
    targets, exact, emb, labels, folds, speakers = corpus(seed=6)
    study = study_of({"a": AttributeFeatures(exact, {(1, 1): exact, (2, 1): exact})}, emb, targets, labels, folds,
                     speakers)
    doc = json.loads(json.dumps(study.to_json()))
    assert doc["target"] == "dimensions" and doc["dimensions"] == ["arousal", "valence"]
    assert doc["tables"]["valence"]["scale"] == {"low": 1.0, "high": 5.0, "source": "test"}
    cell = doc["pairs"]["a"]["fm"]["arousal"]["systems"]["zs_fuse"]
    assert set(cell) >= {"ccc", "ccc_std", "pearson", "mae", "folds"} and len(cell["folds"]) == 3
    assert doc["grid"]["zs_fuse"]["arousal"]["a"]["fm"] == cell["ccc"]
    assert list(doc["fm"]["fm"]["arousal"]["systems"]) == ["specialist"]
    assert list(doc["alm"]["a"]["valence"]["systems"]) == [s.name for s in DIMENSION_TABLE if not s.needs_fm]
    assert set(doc["tables"]["arousal"]["comparison"]) == {s.name for s in dimension_fusions()}
    run = study.pairs[("a", "fm")]["arousal"]
    pooled = run.systems["zs_fuse"].predictions
    assert run.comparison["zs_fuse"]["ccc_a"] == pytest.approx(concordance_cc(targets["arousal"], pooled))
    titles = [t for t, _ in study.tables()]
    assert titles == ["arousal: a + fm", "valence: a + fm"]
