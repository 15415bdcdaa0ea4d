"""The evaluation protocol: every choice is made on training folds only; the table and the report."""

import json

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from sklearn_zsfuse import evaluation as ev
from sklearn_zsfuse.evaluation import SYSTEMS, Features, FeatureSet, Grid, inner_splits, run_study


def one_pair(features: Features, labels, folds, speakers, **kwargs):
    """run_study on one ALM's and one specialist's features (either may be None): the table of the pair."""
    return run_study(FeatureSet.from_features(features), labels, folds, speakers, **kwargs).primary


class SpyClassifier(ClassifierMixin, BaseEstimator):
    """Logistic regression that records which clips (column 0 holds the clip index) it is fitted on."""

    fitted_on: list = []  # shared by clones: (current fold, clip indices)
    current_fold = None
    width = None  # the embedding's width: wider inputs (concat fusion) are standardised, not raw

    def fit(self, X, y):
        if SpyClassifier.width is None or X.shape[1] == SpyClassifier.width:
            SpyClassifier.fitted_on.append((SpyClassifier.current_fold, X[:, 0].astype(int)))
        self.clf_ = LogisticRegression(max_iter=500).fit(X[:, 1:], y)
        self.classes_ = self.clf_.classes_
        return self

    def predict_proba(self, X):
        return self.clf_.predict_proba(X[:, 1:])

    def predict(self, X):
        return self.clf_.predict(X[:, 1:])


def toy(n_per_fold=20, n_folds=3, seed=0):
    """Two classes, 2 speakers per fold; an informative embedding whose column 0 is the clip index."""
    rng = np.random.default_rng(seed)
    n = n_per_fold * n_folds
    labels = np.array(["a", "b"] * (n // 2), dtype=object)
    folds = np.repeat(np.arange(1, n_folds + 1), n_per_fold)
    speakers = np.array([f"s{f}{i % 2}" for f, i in zip(folds, range(n))], dtype=object)
    signal = (labels == "b").astype(float)
    emb = np.column_stack([np.arange(n), signal + rng.normal(0, 0.8, n), rng.normal(0, 1, (n, 3))])
    return labels, folds, speakers, emb


def logits_for(labels, correct):
    """(n, 2) logits that pick the right class where ``correct`` and the wrong one elsewhere."""
    right = np.where(labels == "a", 0, 1)
    pick = np.where(correct, right, 1 - right)
    out = np.zeros((len(labels), 2))
    out[np.arange(len(labels)), pick] = 3.0
    return out


def test_amplification_is_chosen_on_training_folds_only():
    labels, folds, speakers, emb = toy()
    rng = np.random.default_rng(1)
    steady = logits_for(labels, rng.random(len(labels)) < 0.75)  # ~75 % right everywhere
    tempting = logits_for(labels, folds == 1)  # perfect on fold 1, always wrong elsewhere
    features = Features(embeddings=None, zero_shot=steady, ensemble={(1, 1): steady, (2, 1): tempting})
    result = one_pair(features, labels, folds, speakers, grid=Grid(audio_repeats=(1, 2), text_repeats=(1,)))
    chosen = {r["fold"]: tuple(r["chosen"]) for r in result.selection["amplification"]}
    # A selection that peeked at test fold 1 would take (2, 1) there: it is perfect on it.
    assert chosen == {1: (1, 1), 2: (1, 1), 3: (1, 1)}
    fold1 = result.systems["zero_shot+ensemble+amplification"].folds[0]
    assert fold1["fold"] == 1 and fold1["ua"] < 1.0
    assert result.selection["amplification"][0]["test_ua"][1] == 1.0  # the diagnostic sees it; the choice did not


def test_fusion_weight_is_chosen_on_training_folds_only():
    labels, folds, speakers, emb = toy()
    zs = logits_for(labels, folds == 1)  # zero-shot perfect on fold 1 only, wrong on the training folds
    features = Features(embeddings=emb[:, 1:], zero_shot=zs, ensemble={(1, 1): zs})
    result = one_pair(features, labels, folds, speakers, grid=Grid(audio_repeats=(1,), text_repeats=(1,)))
    w1 = result.selection["weight"][0]
    assert w1["fold"] == 1
    assert w1["chosen"] < 0.5  # training folds say: trust the specialist
    assert w1["test_ua"][-1] == 1.0  # w = 1 would have been perfect on the test fold
    assert result.systems["zs_fuse"].folds[0]["params"]["weight"] == w1["chosen"]


def test_no_clip_of_the_test_fold_is_fitted_on_or_used_to_select(monkeypatch):
    labels, folds, speakers, emb = toy()
    zs = logits_for(labels, np.random.default_rng(2).random(len(labels)) < 0.7)
    features = Features(embeddings=emb, zero_shot=zs, ensemble={(1, 1): zs, (2, 1): -zs, (1, 2): zs[:, ::-1]})
    calls = []
    real_inner_splits = ev.inner_splits

    def spy_inner_splits(train, *args, **kwargs):
        splits = real_inner_splits(train, *args, **kwargs)
        calls.append((np.asarray(train), splits))
        return splits

    def log(message):
        if message.startswith("fold "):
            SpyClassifier.current_fold = int(message.split()[1].rstrip(":"))

    from sklearn_zsfuse.estimators.fusion import LateFusionClassifier

    real_fit = LateFusionClassifier.fit
    fused_on = []

    def spy_fit(self, X, y, *args, **kwargs):  # the fusion sees raw [zero-shot | embedding]: column 2 = clip index
        fused_on.append((SpyClassifier.current_fold, np.asarray(X)[:, zs.shape[1]].astype(int)))
        return real_fit(self, X, y, *args, **kwargs)

    monkeypatch.setattr(ev.protocol, "inner_splits", spy_inner_splits)
    monkeypatch.setattr(LateFusionClassifier, "fit", spy_fit)
    SpyClassifier.fitted_on, SpyClassifier.width = [], emb.shape[1]
    one_pair(features, labels, folds, speakers, grid=Grid(audio_repeats=(1, 2), text_repeats=(1, 2)),
             classifier=SpyClassifier(), log=log)
    assert len(calls) == 3
    for (train, splits), k in zip(calls, (1, 2, 3)):
        test = set(np.flatnonzero(folds == k))
        assert not test & set(train)
        for fit_rows, val_rows in splits:
            assert not test & (set(fit_rows) | set(val_rows))
            assert not set(fit_rows) & set(val_rows)
    SpyClassifier.width = None
    assert {fold for fold, _ in SpyClassifier.fitted_on} == {1, 2, 3}
    assert {fold for fold, _ in fused_on} == {1, 2, 3}
    for fold, rows in SpyClassifier.fitted_on + fused_on:
        assert not set(rows) & set(np.flatnonzero(folds == fold)), fold


def test_inner_splits_prefer_development_then_folds_then_speakers():
    labels = np.array(list("abababab"), dtype=object)
    speakers = np.array(["x", "x", "y", "y", "z", "z", "w", "w"], dtype=object)
    train = np.arange(6)
    dev = np.array([0, 0, 0, 0, 1, 1, 0, 0], dtype=bool)
    only_train = np.array([-1] * 6 + [1, 1])
    (fit, val), = inner_splits(train, only_train, speakers, labels, dev)
    assert list(val) == [4, 5] and list(fit) == [0, 1, 2, 3]
    by_fold = inner_splits(train, np.array([1, 1, 2, 2, 3, 3, 4, 4]), speakers, labels)
    assert [list(v) for _, v in by_fold] == [[0, 1], [2, 3], [4, 5]]
    by_speaker = inner_splits(train, only_train, speakers, labels)
    assert len(by_speaker) == 3
    for fit, val in by_speaker:
        assert not set(speakers[fit]) & set(speakers[val])


def test_table_json_schema_and_plots(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib
    import matplotlib.pyplot as plt

    from sklearn_zsfuse.reporting.files import write_report

    labels, folds, speakers, emb = toy()
    zs = logits_for(labels, np.random.default_rng(3).random(len(labels)) < 0.6)
    features = Features(embeddings=emb[:, 1:], zero_shot=zs, ensemble={(1, 1): zs, (2, 1): zs[:, ::-1]})
    result = one_pair(features, labels, folds, speakers, grid=Grid(audio_repeats=(1, 2), text_repeats=(1,)),
                      dataset="toy")
    assert list(result.systems) == list(SYSTEMS)
    table = result.table()
    assert table.splitlines()[0] == "| system | UA (%) | WA (%) | F1 (%) |"
    assert all(f"| {s} | " in table for s in SYSTEMS) and "±" in table
    backend, figures = matplotlib.get_backend(), plt.get_fignums()
    written = write_report(result, tmp_path / "out")
    assert matplotlib.get_backend() == backend and plt.get_fignums() == figures  # no global pyplot state touched
    doc = json.loads(written["results"].read_text())
    assert set(doc) == {"dataset", "config", "systems", "calibration", "comparison", "alms", "fms", "alm", "fm",
                        "pairs", "grid"} and doc["dataset"] == "toy"
    for name, entry in doc["systems"].items():
        assert set(entry) == {"ua", "wa", "f1", "ua_std", "wa_std", "f1_std", "per_class_recall", "folds"}
        assert len(entry["folds"]) == 3
        for m in ("ua", "wa", "f1"):
            assert entry[m] == pytest.approx(np.mean([f[m] for f in entry["folds"]]))
            assert entry[m + "_std"] == pytest.approx(np.std([f[m] for f in entry["folds"]]))
    assert doc["systems"]["zs_fuse"]["folds"][0]["params"]["weight"] in Grid().weights
    for kind in ("confusion", "weight", "amplification", "reliability"):
        assert written[kind].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| zs_fuse |" in written["table"].read_text()


def test_specialist_only_and_zero_shot_only_runs():
    labels, folds, speakers, emb = toy()
    only_fm = one_pair(Features(embeddings=emb[:, 1:], zero_shot=None), labels, folds, speakers)
    assert list(only_fm.systems) == ["specialist"]
    zs = logits_for(labels, np.ones(len(labels), dtype=bool))
    only_zs = one_pair(Features(embeddings=None, zero_shot=zs, ensemble={(1, 1): zs}), labels, folds, speakers,
                       grid=Grid(audio_repeats=(1,), text_repeats=(1,)))
    assert list(only_zs.systems) == [s for s in SYSTEMS if s.startswith("zero_shot")]
    assert only_zs.systems["zero_shot"].summary["ua"] == 1.0
    # With both branches the specialist is read from the fused model at weight 0: the same predictions.
    both = one_pair(Features(embeddings=emb[:, 1:], zero_shot=zs, ensemble={(1, 1): zs}), labels, folds, speakers,
                    grid=Grid(audio_repeats=(1,), text_repeats=(1,)))
    np.testing.assert_array_equal(both.systems["specialist"].predictions, only_fm.systems["specialist"].predictions)
    assert both.systems["specialist"].folds[0]["ua"] == only_fm.systems["specialist"].folds[0]["ua"]


def test_grid_validation():
    with pytest.raises(ValueError, match="integers >= 1"):
        Grid(audio_repeats=(0, 1))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Grid(weights=(0.5, 1.5))
    assert Grid(audio_repeats=(3, 1, 1)).audio_repeats == (1, 3)


def test_compute_feature_set_runs_the_branches_concurrently_with_the_same_result(tiny_clap, sine_clips):
    pytest.importorskip("opensmile")
    from sklearn_zsfuse import clear_caches
    from sklearn_zsfuse.evaluation import compute_feature_set

    waves, sr = sine_clips
    kwargs = dict(alms=[tiny_clap], fms=["egemaps"], grid=Grid(audio_repeats=(1, 2), text_repeats=(1,)), device="cpu",
                  estimator_params={"sampling_rate": sr})
    together = compute_feature_set(waves, ["a", "b"], concurrent=True, **kwargs).pair(tiny_clap, "egemaps")
    clear_caches()
    apart = compute_feature_set(waves, ["a", "b"], concurrent=False, **kwargs).pair(tiny_clap, "egemaps")
    np.testing.assert_array_equal(together.embeddings, apart.embeddings)
    np.testing.assert_array_equal(together.zero_shot, apart.zero_shot)
    assert together.ensemble.keys() == apart.ensemble.keys() == {(1, 1), (2, 1)}
    for key in apart.ensemble:
        np.testing.assert_array_equal(together.ensemble[key], apart.ensemble[key])
    assert together.embeddings.shape == (3, 88) and together.zero_shot.shape == (3, 2)


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")  # UA of the zero-shot rows in fold 1
def test_a_training_part_without_some_class_still_fuses_by_label():
    """Class c only in fold 1: its training part lacks c, yet the zero-shot columns stay aligned by label."""
    labels, folds, speakers, emb = toy()
    labels = labels.copy()
    labels[(folds == 1) & (np.arange(len(labels)) % 4 == 0)] = "c"
    zs = np.zeros((len(labels), 3))
    zs[np.arange(len(labels)), np.searchsorted(["a", "b", "c"], labels)] = 5.0  # perfect zero-shot
    features = Features(embeddings=emb[:, 1:], zero_shot=zs, ensemble={(1, 1): zs})
    result = one_pair(features, labels, folds, speakers, grid=Grid(audio_repeats=(1,), text_repeats=(1,),
                                                                   weights=(1.0,)))
    fold1 = {s: r.folds[0] for s, r in result.systems.items()}
    assert fold1["zs_fuse"]["ua"] == 1.0  # weight 1 = the zero-shot columns, read by label
    assert fold1["zs_fuse"]["confusion_matrix"][2][2] == int(np.sum(labels == "c"))
