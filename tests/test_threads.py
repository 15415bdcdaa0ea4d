"""Thread discipline (issue 18 item 1): the package's own fits run at a thread count it chooses.

On a loaded machine a second BLAS/OpenMP thread waits for a busy core, so the
README evaluation's selection ran 12x slower with the libraries' defaults. The
fusion estimators and the evaluation protocol run their fits and predictions at
one thread (``n_threads`` / ``threads`` / ``--threads`` to change that), inside a
``threadpool_limits`` block: the caller's own settings are the same after as
before, and in force again between the package's calls.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_info, threadpool_limits

from sklearn_zsfuse import LateFusionClassifier, LateFusionClassifierCV
from sklearn_zsfuse.estimators.threads import DEFAULT_THREADS, check_threads, thread_limit


def _threads() -> dict:
    """Every BLAS/OpenMP library loaded now and its thread count."""
    return {(i["internal_api"], i["filepath"]): i["num_threads"] for i in threadpool_info()}


class SpyRegression(LogisticRegression):
    """A LogisticRegression that records the thread counts its fit and predictions run at."""

    seen: list = []  # class-level on purpose: clones made inside the estimators report here too

    def fit(self, X, y, sample_weight=None):
        SpyRegression.seen.append(("fit", set(_threads().values())))
        return super().fit(X, y, sample_weight=sample_weight)

    def predict_proba(self, X):
        SpyRegression.seen.append(("predict_proba", set(_threads().values())))
        return super().predict_proba(X)


@pytest.fixture
def spy():
    SpyRegression.seen = []
    yield SpyRegression
    SpyRegression.seen = []


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    classes = np.array(["angry", "happy", "sad"])
    y = classes[rng.integers(0, 3, n)]
    zs = rng.normal(size=(n, 3)) + 2 * (classes == y[:, None])
    emb = rng.normal(size=(n, 8)) + (classes == y[:, None]) @ rng.normal(size=(3, 8))
    return np.hstack([zs, emb]), y, classes


@pytest.fixture
def user_threads():
    """The user's own setting, 2 threads everywhere: what the package must put back."""
    if not threadpool_info():
        pytest.skip("no BLAS/OpenMP library reports its threads here")
    with threadpool_limits(limits=2):
        before = _threads()
        yield before


@pytest.mark.parametrize("method", ["weighted", "concat"])
def test_fusion_fits_and_predicts_at_one_thread_and_restores_the_callers(spy, user_threads, method):
    X, y, classes = _data()
    est = LateFusionClassifier(method, 0.5, classifier=spy(), zero_shot_classes=classes)
    est.fit(X, y)
    assert _threads() == user_threads  # the caller's setting between calls
    est.predict_proba(X)
    est.predict(X)
    assert _threads() == user_threads
    kinds = {kind for kind, _ in spy.seen}
    assert kinds == {"fit", "predict_proba"}
    assert all(counts == {DEFAULT_THREADS} for _, counts in spy.seen), spy.seen


def test_n_threads_sets_the_count_and_minus_one_leaves_the_callers(spy, user_threads):
    X, y, classes = _data()
    LateFusionClassifier(classifier=spy(), zero_shot_classes=classes, n_threads=3).fit(X, y).predict(X)
    assert all(counts == {3} for _, counts in spy.seen), spy.seen
    spy.seen = []
    LateFusionClassifier(classifier=spy(), zero_shot_classes=classes, n_threads=-1).fit(X, y).predict(X)
    assert all(counts == {2} for _, counts in spy.seen), spy.seen  # the caller's 2, untouched
    assert _threads() == user_threads


def test_fusion_cv_selection_fits_run_at_its_thread_count(spy, user_threads):
    X, y, classes = _data()
    cv = LateFusionClassifierCV(classifier=spy(), zero_shot_classes=classes, cv=3, weights=(0, 0.5, 1))
    cv.fit(X, y)
    cv.predict(X)
    assert len(spy.seen) > 6  # every inner split's fit and prediction, the refit, the prediction
    assert all(counts == {DEFAULT_THREADS} for _, counts in spy.seen), spy.seen
    spy.seen = []
    cv.set_params(n_threads=2).fit(X, y)
    assert all(counts == {2} for _, counts in spy.seen), spy.seen
    assert _threads() == user_threads


def test_the_protocol_runs_every_fit_at_one_thread(spy, user_threads):
    from sklearn_zsfuse.evaluation.features import FeatureSet, Features
    from sklearn_zsfuse.evaluation.grid import Grid
    from sklearn_zsfuse.evaluation.protocol import run_study, select_final

    X, y, classes = _data(n=90)
    speakers = np.repeat(np.arange(9), 10)
    folds = speakers % 3
    features = Features(embeddings=X[:, 3:], zero_shot=X[:, :3], ensemble={(1, 1): X[:, :3]})
    feature_set = FeatureSet.from_features(features, "alm", "fm")
    grid = Grid(audio_repeats=(1,), text_repeats=(1,), weights=(0, 0.5, 1))
    study = run_study(feature_set, y, folds, speakers, classes=classes, grid=grid, classifier=spy())
    assert study.pairs  # the fusion rows ran
    assert len(spy.seen) > 10
    assert all(counts == {DEFAULT_THREADS} for _, counts in spy.seen), spy.seen
    spy.seen = []
    select_final(features, y, folds, speakers, classes=classes, grid=grid, classifier=spy(), threads=2)
    assert spy.seen and all(counts == {2} for _, counts in spy.seen), spy.seen
    assert _threads() == user_threads


def test_thread_limit_restores_and_checks_its_value(user_threads):
    with thread_limit(None):
        assert set(_threads().values()) == {DEFAULT_THREADS}
    with thread_limit(-1):
        assert _threads() == user_threads
    assert _threads() == user_threads
    for bad in (0, -2, 1.5, "2", True):
        with pytest.raises(ValueError, match="n_threads must be None, -1 or a positive int"):
            check_threads(bad)


def test_fusion_refuses_a_bad_n_threads_by_sklearns_parameter_validation():
    from sklearn.utils._param_validation import InvalidParameterError

    X, y, classes = _data()
    with pytest.raises(InvalidParameterError, match="n_threads"):
        LateFusionClassifier(zero_shot_classes=classes, n_threads=0).fit(X, y)


def test_evaluate_refuses_a_bad_threads_before_any_work():
    from sklearn_zsfuse.evaluation import evaluate

    with pytest.raises(ValueError, match="threads must be None, -1 or a positive int"):
        evaluate(object(), fm="egemaps", threads=0)  # the corpus is never looked at
