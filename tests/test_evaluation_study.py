"""Several models per run, the fusion rows, calibration, the paired comparison and per-class recall."""

import random

import numpy as np
import pytest
from sklearn.metrics import recall_score

from sklearn_zsfuse.evaluation import (
    FUSIONS,
    SYSTEMS,
    FeatureSet,
    Features,
    Grid,
    ZeroShotFeatures,
    paired_ccc_comparison,
    paired_comparison,
    plan_folds,
    run_study,
)

from test_evaluation import logits_for, one_pair, toy

GRID = Grid(audio_repeats=(1, 2), text_repeats=(1,), weights=(0, 0.5, 1))


def two_by_two():
    labels, folds, speakers, emb = toy()
    rng = np.random.default_rng(5)
    alms = {}
    for name, p in (("clap-a", 0.7), ("clap-b", 0.55)):
        zs = logits_for(labels, rng.random(len(labels)) < p) + rng.normal(0, 0.3, (len(labels), 2))
        alms[name] = ZeroShotFeatures(zs, {(1, 1): zs, (2, 1): zs + rng.normal(0, 1, zs.shape)})
    fms = {"fm-good": emb[:, 1:], "fm-noise": rng.normal(0, 1, (len(labels), 4))}
    return FeatureSet(alms=alms, fms=fms, fm_layers={f: (f, None) for f in fms}), labels, folds, speakers


def test_every_alm_fm_and_pair_is_run_and_every_cell_can_be_read():
    features, labels, folds, speakers = two_by_two()
    study = run_study(features, labels, folds, speakers, grid=GRID, dataset="toy")
    assert study.alms == ["clap-a", "clap-b"] and study.fms == ["fm-good", "fm-noise"]
    assert set(study.pairs) == {(a, f) for a in study.alms for f in study.fms}
    assert list(study.pairs[("clap-a", "fm-good")].systems) == list(SYSTEMS)
    for (a, f), pair in study.pairs.items():
        # The pair repeats the rows of the models alone: the same predictions.
        for s in ("zero_shot", "zero_shot+ensemble+amplification"):
            np.testing.assert_array_equal(pair.systems[s].predictions, study.alm_runs[a].systems[s].predictions)
        np.testing.assert_array_equal(pair.systems["specialist"].predictions,
                                      study.fm_runs[f].systems["specialist"].predictions)
    doc = study.to_json()
    for system in FUSIONS:
        for a in study.alms:
            for f in study.fms:
                assert doc["grid"][system][a][f] == doc["pairs"][a][f]["systems"][system]["ua"]
                assert doc["grid"][system][a][f] == study.pairs[(a, f)].systems[system].summary["ua"]
    assert set(doc["alm"]) == set(study.alms) and set(doc["fm"]) == set(study.fms)
    assert list(doc["fm"]["fm-good"]["systems"]) == ["specialist"]
    header, rows = study.grid_rows("zs_fuse")
    assert header[1:] == study.fms and [r[0] for r in rows] == study.alms
    assert rows[0][1] == f"{100 * doc['grid']['zs_fuse']['clap-a']['fm-good']:.2f}"


def test_calibration_lowers_ece_of_an_overconfident_zero_shot_branch():
    labels, folds, speakers, emb = toy()
    rng = np.random.default_rng(0)
    zs = 40 * logits_for(labels, rng.random(len(labels)) < 0.7)  # 70 % right, ~100 % confident
    result = one_pair(Features(emb[:, 1:], zs, {(1, 1): zs}), labels, folds, speakers,
                      grid=Grid(audio_repeats=(1,), text_repeats=(1,)))
    c = result.calibration
    assert c["ece_before"] > 0.2 and c["ece_after"] < c["ece_before"] / 2
    assert len(c["temperatures"]) == 3 and all(t > 1 for t in c["temperatures"])
    assert sum(c["reliability"]["before"]["count"]) == len(labels)
    # Temperature keeps the ranking: the calibrated row predicts what the amplified ensemble predicts.
    np.testing.assert_array_equal(result.systems["zero_shot+calibrated"].predictions,
                                  result.systems["zero_shot+ensemble+amplification"].predictions)
    assert all(f["params"]["temperature"] == t for f, t in
               zip(result.systems["zero_shot+calibrated"].folds, c["temperatures"]))


def test_each_fusion_row_has_its_own_selection():
    labels, folds, speakers, emb = toy()
    zs = logits_for(labels, np.random.default_rng(1).random(len(labels)) < 0.7)
    result = one_pair(Features(emb[:, 1:], zs, {(1, 1): zs}), labels, folds, speakers,
                      grid=Grid(audio_repeats=(1,), text_repeats=(1,)))
    fusion = result.selection["fusion"]
    assert set(fusion) == set(FUSIONS)
    for row in result.systems["zs_fuse+concat"].folds:
        assert row["params"]["method"] == "concat" and row["params"]["normalize"] in ("standard", "layer")
    for row in result.systems["zs_fuse+calibrated"].folds:
        assert row["params"]["method"] == "weighted" and row["params"]["temperature"] > 0
    for row in result.systems["zs_fuse"].folds:
        assert row["params"]["temperature"] is None and row["params"]["weight"] in Grid().weights
    assert [len(r["candidates"]) for r in fusion["zs_fuse+concat"]] == [2, 2, 2]


def test_late_fusion_classifier_cv_equals_the_evaluation_protocols_choice_on_the_same_folds():
    from sklearn_zsfuse.evaluation.fusion_select import local_splits
    from sklearn_zsfuse.estimators.fusion_proba import default_classifier
    from sklearn_zsfuse.estimators.fusion_cv import LateFusionClassifierCV

    labels, folds, speakers, emb = toy()
    rng = np.random.default_rng(4)
    zs = logits_for(labels, rng.random(len(labels)) < 0.65) + rng.normal(0, 1.0, (len(labels), 2))
    grid = Grid(audio_repeats=(1,), text_repeats=(1,))
    result = one_pair(Features(emb[:, 1:], zs, {(1, 1): zs}), labels, folds, speakers, grid=grid)
    X = np.hstack([zs, emb[:, 1:]])
    for fold in plan_folds(labels, folds, speakers):
        for name, options in (
            ("zs_fuse", dict(methods=("weighted",), weights=grid.weights, temperatures=(None,))),
            ("zs_fuse+calibrated", dict(methods=("weighted",), weights=grid.weights, temperatures=("fit",))),
            ("zs_fuse+concat", dict(methods=("concat",), normalizations=("standard", "layer"))),
        ):
            cv = LateFusionClassifierCV(**options, classifier=default_classifier(), cv=local_splits(fold.train, fold.splits),
                                        zero_shot_classes=["a", "b"]).fit(X[fold.train], labels[fold.train])
            chosen = next(f for f in result.systems[name].folds if f["fold"] == fold.id)["params"]
            expected = {k: v for k, v in chosen.items() if k not in ("templates", "audio_repeats", "text_repeats")}
            best = dict(cv.best_params_)
            if best.get("temperature") == "fit":
                best["temperature"] = pytest.approx(cv.best_estimator_.temperature_)
            assert best == expected, (name, fold.id)
            np.testing.assert_array_equal(cv.predict(X[fold.test]), result.systems[name].predictions[fold.test])


def test_paired_comparison_is_seeded_leaves_global_rngs_alone_and_counts_discordant_clips():
    y = np.array(["a"] * 10 + ["b"] * 10, dtype=object)
    a = y.copy()
    b = y.copy()
    b[:6] = "b"  # B wrong on 6 clips of a, A right everywhere
    np.random.seed(123)
    random.seed(7)
    state, pystate = np.random.get_state()[1].copy(), random.getstate()
    first = paired_comparison(y, a, b, n_boot=500, seed=3)
    assert np.array_equal(np.random.get_state()[1], state) and random.getstate() == pystate
    assert first == paired_comparison(y, a, b, n_boot=500, seed=3)
    assert first["a_only"] == 6 and first["b_only"] == 0
    assert first["mcnemar_p"] == pytest.approx(2 * 0.5 ** 6)  # exact two-sided binomial
    assert first["ua_diff"] == pytest.approx(0.3)
    assert 0 < first["ci_low"] <= 0.3 <= first["ci_high"]
    same = paired_comparison(y, a, a, n_boot=200)
    assert same["mcnemar_p"] == 1.0 and same["ci_low"] == same["ci_high"] == 0.0


@pytest.mark.parametrize("compare", [paired_comparison, paired_ccc_comparison])
@pytest.mark.parametrize("n_boot", [0, 2.5, -3])
def test_both_paired_comparisons_refuse_a_bootstrap_count_that_is_not_a_whole_number_by_name(compare, n_boot):
    # the UA comparison used to fail deep in numpy (IndexError, TypeError) where the CCC one named n_boot
    y = np.array([1.0, 2.0, 3.0, 4.0]) if compare is paired_ccc_comparison else np.array(["a", "b", "a", "b"])
    with pytest.raises(ValueError, match="n_boot must be a whole number"):
        compare(y, y, y, n_boot=n_boot)


def test_the_pair_table_compares_every_fusion_with_the_specialist_on_the_same_clips():
    labels, folds, speakers, emb = toy()
    zs = logits_for(labels, np.random.default_rng(2).random(len(labels)) < 0.7)
    result = one_pair(Features(emb[:, 1:], zs, {(1, 1): zs}), labels, folds, speakers,
                      grid=Grid(audio_repeats=(1,), text_repeats=(1,)))
    assert set(result.comparison) == set(FUSIONS)
    c = result.comparison["zs_fuse"]
    fused, spec = result.systems["zs_fuse"].predictions, result.systems["specialist"].predictions
    assert c["a_only"] == int(np.sum((fused == labels) & (spec != labels)))
    assert c["b_only"] == int(np.sum((fused != labels) & (spec == labels)))
    header, rows = result.comparison_rows()
    assert "McNemar p" in header and [r[0] for r in rows] == list(FUSIONS)


def test_per_class_recall_pools_the_test_clips_of_every_fold():
    labels, folds, speakers, emb = toy()
    zs = logits_for(labels, np.random.default_rng(3).random(len(labels)) < 0.6)
    result = one_pair(Features(emb[:, 1:], zs, {(1, 1): zs}), labels, folds, speakers,
                      grid=Grid(audio_repeats=(1,), text_repeats=(1,)))
    for name, res in result.systems.items():
        expected = recall_score(labels, res.predictions.astype(str), labels=["a", "b"], average=None)
        assert list(result.per_class_recall(name).values()) == pytest.approx(list(expected)), name
    assert result.to_json()["systems"]["zs_fuse"]["per_class_recall"] == result.per_class_recall("zs_fuse")
    header, rows = result.recall_rows()
    assert header == ["recall (%)", "a", "b"] and len(rows) == len(SYSTEMS)


def test_a_single_test_fold_shows_no_standard_deviation():
    labels, folds, speakers, emb = toy()
    test = folds == 3
    zs = logits_for(labels, np.random.default_rng(3).random(len(labels)) < 0.6)
    study = run_study(FeatureSet.from_features(Features(emb[:, 1:], zs, {(1, 1): zs})), labels, folds, speakers,
                      grid=Grid(audio_repeats=(1,), text_repeats=(1,)), test=test)
    assert study.n_folds == 1
    table = study.table()
    assert "±" not in table and "0.00 ± 0.00" not in table
    entry = study.to_json()["systems"]["specialist"]
    assert entry["ua_std"] is None and entry["wa_std"] is None and entry["f1_std"] is None


def test_a_class_without_test_clips_has_no_recall_and_the_json_stays_strict(tmp_path):
    import json

    pytest.importorskip("matplotlib")
    from sklearn_zsfuse.reporting.files import write_report

    labels, folds, speakers, emb = toy()
    labels = labels.copy()
    labels[(folds != 3) & (np.arange(len(labels)) % 5 == 0)] = "c"  # c only in the training corpus
    zs = np.random.default_rng(0).normal(0, 1, (len(labels), 3))
    study = run_study(FeatureSet.from_features(Features(emb[:, 1:], zs, {(1, 1): zs})), labels, folds, speakers,
                      grid=Grid(audio_repeats=(1,), text_repeats=(1,)), test=folds == 3)
    assert study.primary.per_class_recall("specialist")["c"] is None
    written = write_report(study, tmp_path, plots=False)
    doc = json.loads(written["results"].read_text(), parse_constant=lambda c: pytest.fail(f"{c} in results.json"))
    assert doc["systems"]["zs_fuse"]["per_class_recall"]["c"] is None
    assert "| — |" in written["table"].read_text() or " — |" in written["table"].read_text()
