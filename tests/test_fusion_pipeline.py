"""The fusion inside the real pipeline: a fixed label set with a class missing from training, on real speech."""

import numpy as np
import pytest
from sklearn.model_selection import GroupKFold

from sklearn_zsfuse import LateFusionClassifierCV, make_zsfuse_pipeline
from sklearn_zsfuse.arrays import softmax


@pytest.fixture
def no_happy(ravdess_small):
    paths, labels, actors = ravdess_small
    three = np.isin(actors, sorted(set(actors))[:3])  # 24 clips: 3 actors x 8 emotions
    paths, labels, actors = list(np.asarray(paths)[three]), labels[three], actors[three]
    keep = labels != "happy"
    return list(np.asarray(paths)[keep]), labels[keep], actors[keep], paths, labels


@pytest.mark.parametrize("how", ["classes", "pandas"])
def test_weight_one_is_the_scorer_on_all_its_classes(tiny_clap, tiny_wavlm, no_happy, how):
    train_paths, train_y, _, all_paths, _ = no_happy
    classes = sorted(set(no_happy[4]))
    pipe = make_zsfuse_pipeline(tiny_clap, tiny_wavlm, classes=classes, weight=1.0, device="cpu")
    if how == "pandas":
        pytest.importorskip("pandas")
        pipe.set_params(fusion__zero_shot_classes=None)
        pipe.named_steps["features"].set_output(transform="pandas")
    pipe.fit(train_paths, train_y)
    fusion, scorer = pipe.named_steps["fusion"], pipe.named_steps["features"].transformer_list[0][1]
    assert list(fusion.classes_) == classes == list(scorer.classes_)
    # the zero-shot system itself (its transform is a DataFrame under set_output, so softmax by hand)
    p_zs = softmax(np.asarray(scorer.transform(all_paths), dtype=np.float64))
    np.testing.assert_allclose(pipe.predict_proba(all_paths), p_zs, rtol=1e-10)
    np.testing.assert_array_equal(pipe.predict(all_paths), np.asarray(classes)[p_zs.argmax(1)])
    # a class without training clips keeps its zero-shot probability
    assert pipe.predict_proba(all_paths)[:, classes.index("happy")].min() > 0


def test_cv_fusion_step_tunes_the_pipeline(tiny_clap, tiny_wavlm, no_happy):
    train_paths, train_y, actors, all_paths, _ = no_happy
    classes = sorted(set(no_happy[4]))
    pipe = make_zsfuse_pipeline(tiny_clap, tiny_wavlm, classes=classes, device="cpu")
    pipe.set_params(fusion=LateFusionClassifierCV(weights=(0, 0.5, 1), cv=GroupKFold(3), zero_shot_classes=classes))
    pipe.fit(train_paths, train_y, fusion__groups=actors)
    fusion = pipe.named_steps["fusion"]
    assert fusion.n_splits_ == 3 and set(fusion.best_params_) >= {"method"}
    assert list(fusion.classes_) == classes
    assert set(pipe.predict(all_paths)) <= set(classes)
