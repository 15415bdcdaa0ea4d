"""The smaller findings of issue 18 (item 8): messages, the version, warnings under -q, the report's details."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from sklearn_zsfuse.cli import main


def test_zsfuse_version(capsys):
    from sklearn_zsfuse import __version__

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"zsfuse {__version__}"


def test_an_undecodable_file_is_one_readable_line(tmp_path, tiny_wavlm, capsys):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(np.random.default_rng(0).bytes(2000))
    rc = main(["embed", "--fm", tiny_wavlm, str(bad), "--out", str(tmp_path / "x.npy")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert ":;" not in err  # was "cannot be used:; X[0] ..."
    assert "1 of 1 clip(s) cannot be used: X[0]" in err
    assert "Error opening" not in err and "(Format not recognised)" in err  # not "Error opening 3: ..."


def test_one_line_joins_a_heading_and_its_list_without_a_stray_semicolon():
    from sklearn_zsfuse.cli.parsing import one_line

    assert one_line("2 of 3 bad:\n  a\n  b\nFix them.") == "2 of 3 bad: a; b; Fix them."


def test_unweighted_accuracy_is_balanced_accuracy_without_its_warning():
    """-q let scikit-learn's 'y_pred contains classes not in y_true' through, from the protocol's own UA."""
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.metrics import balanced_accuracy_score

    from sklearn_zsfuse.evaluation.metrics import scorers, unweighted_accuracy

    rng = np.random.default_rng(0)
    y_true = rng.choice(["a", "b", "c"], 50)
    y_pred = rng.choice(["a", "b", "c", "d"], 50)  # "d" never true
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = balanced_accuracy_score(y_true, y_pred)
        one = balanced_accuracy_score(y_true[:1], y_pred[:1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert unweighted_accuracy(y_true, y_pred) == expected  # exactly the same number
        assert unweighted_accuracy(y_true[:1], y_pred[:1]) == one

        class Fixed(ClassifierMixin, BaseEstimator):
            classes_ = np.array(["a", "b", "c", "d"])

            def predict(self, X):
                return y_pred

        assert scorers()["ua"](Fixed(), None, y_true) == expected


def test_fusion_selection_by_balanced_accuracy_raises_no_warning_for_a_class_a_split_lacks():
    from sklearn_zsfuse.estimators.fusion_selection import fusion_candidates, select_fusion

    rng = np.random.default_rng(1)
    classes = np.array(["a", "b", "c"])
    y = np.array(["a", "b"] * 20 + ["c"] * 4)
    zs = rng.normal(size=(44, 3)) + 3 * (classes == y[:, None])
    emb = rng.normal(size=(44, 4))
    splits = [(np.arange(0, 40), np.arange(40, 44)), (np.arange(4, 44), np.arange(0, 4))]  # validations lack classes
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        select_fusion(zs, emb, y, splits, fusion_candidates(weights=(0, 1)), zero_shot_classes=classes)


def test_a_class_prompt_warning_is_given_once_per_grid_search_not_once_per_fit(tiny_clap):
    """7 fits (3 folds x 2 candidates + refit) printed the same misspelt-key warning 7 times."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    from sklearn_zsfuse import ALMZeroShotScorer

    rng = np.random.default_rng(0)
    X = [0.1 * rng.normal(size=8000).astype(np.float32) for _ in range(12)]
    y = np.array(["angry", "sad", "happy"] * 4)
    scorer = ALMZeroShotScorer(tiny_clap, class_prompts={"angry": "mad", "fearfull-in-a-grid": "afraid"},
                               templates=("a {} voice.",), device="cpu", sampling_rate=16000)
    search = GridSearchCV(make_pipeline(scorer, LogisticRegression()), {"logisticregression__C": [0.1, 1.0]}, cv=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # Python's own once-per-place memory cannot hide a repeat
        search.fit(X, y)
    told = [w for w in caught if "fearfull-in-a-grid" in str(w.message)]
    assert len(told) == 1, [str(w.message) for w in told]
