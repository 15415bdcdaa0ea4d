"""WA, UA and macro-F1, per fold and summarised, and as scikit-learn scorers."""

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import PredefinedSplit, cross_validate

from sklearn_zsfuse.evaluation.metrics import confusion, fold_scores, scorers, score_all, summarize


def test_ua_weighs_classes_equally_and_wa_weighs_clips():
    y = np.array(["a"] * 8 + ["b"] * 2)
    pred = np.array(["a"] * 10)  # always the majority class
    s = score_all(y, pred)
    assert s["wa"] == pytest.approx(0.8)
    assert s["ua"] == pytest.approx(0.5)  # recall 1 on a, 0 on b
    assert s["f1"] == pytest.approx((2 * 0.8 / 1.8 + 0.0) / 2)


def test_per_fold_scores_and_summary():
    y = np.array(list("aabb") + list("aabb"))
    pred = np.array(list("aabb") + list("abab"))
    folds = np.array([1] * 4 + [2] * 4)
    per = fold_scores(y, pred, folds)
    assert [f["fold"] for f in per] == [1, 2] and [f["n"] for f in per] == [4, 4]
    assert per[0]["ua"] == 1.0 and per[1]["ua"] == 0.5
    summary = summarize(per)
    assert summary["ua"] == pytest.approx(0.75) and summary["ua_std"] == pytest.approx(0.25)
    assert set(summary) == {"ua", "wa", "f1", "ua_std", "wa_std", "f1_std"}
    # -1 marks training-only clips: never scored.
    assert [f["fold"] for f in fold_scores(y, pred, np.array([-1] * 4 + [2] * 4))] == [2]


def test_confusion_follows_the_label_order():
    cm = confusion(["a", "b", "b"], ["b", "b", "a"], labels=["b", "a"])
    np.testing.assert_array_equal(cm, [[1, 1], [1, 0]])


def test_scorers_work_in_cross_validate():
    X = np.zeros((8, 1))
    y = np.array(list("aaabaaab"))
    res = cross_validate(DummyClassifier(), X, y, cv=PredefinedSplit([0] * 4 + [1] * 4), scoring=scorers())
    np.testing.assert_allclose(res["test_wa"], [0.75, 0.75])
    np.testing.assert_allclose(res["test_ua"], [0.5, 0.5])
