"""Fuzzing with hypothesis: arbitrary clips and parameter combinations on the tiny models.

Whatever arrives, the estimators either raise a documented error (AudioInputError
naming every bad item, ValueError naming a parameter) or return outputs of the
right shape with finite probabilities that are non-negative and sum to 1.

Runs are derandomized and bounded so the suite stays fast and repeatable. To
explore further: ``ZSFUSE_FUZZ_EXAMPLES=500 python -m pytest tests/test_fuzz.py``
(random seeds, failures kept in .hypothesis/).
"""

import os
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from sklearn_zsfuse import (
    DEFAULT_TEMPLATES,
    ALMZeroShotScorer,
    AudioInputError,
    FMEmbedder,
    LateFusionClassifier,
    make_zsfuse_pipeline,
)
from sklearn_zsfuse.audio import SilentAudioWarning, amplified_window, fit_to_window, tile
from sklearn_zsfuse.audio.decode import MAX_AMPLITUDE

_EXPLORE = int(os.environ.get("ZSFUSE_FUZZ_EXAMPLES", "0"))


def fuzz(max_examples):
    return settings(
        max_examples=_EXPLORE or max_examples,
        deadline=None,
        derandomize=not _EXPLORE,
        database=None if not _EXPLORE else settings.default.database,
        # The autouse cache-clearing fixture runs once per test, not per example: fine here.
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --------------------------------------------------------------------------------------
# Clips
# --------------------------------------------------------------------------------------

DTYPES = ["float32", "float64", "float16", "int16", "int32", "int8", "uint8"]
AMPLITUDES = [0.0, 1e-30, 1e-6, 0.01, 0.5, 1.0, 4.0, 1e3, 1e30]


@st.composite
def clips(draw, rate):
    """One waveform: 0 to 3 s, any dtype, amplitude, layout, and maybe a NaN or inf."""
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    n = draw(st.one_of(st.integers(0, 10), st.integers(11, 3 * rate)))
    layout = draw(st.sampled_from(["mono", "channels-first", "channels-last"]))
    channels = 1 if layout == "mono" else draw(st.integers(1, 3))
    amplitude = draw(st.sampled_from(AMPLITUDES))
    poison = draw(st.sampled_from([None, None, np.nan, np.inf, -np.inf]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    t = np.arange(n) / rate
    signal = np.stack([np.sin(2 * np.pi * rng.uniform(80, 4000) * t) + 0.1 * rng.standard_normal(n) for _ in range(channels)])
    signal = amplitude * signal / max(1.1, float(np.abs(signal).max(initial=0)))
    if poison is not None and n and dtype.kind == "f":
        signal[rng.integers(channels), rng.integers(n)] = poison
    if dtype.kind == "f":
        with np.errstate(over="ignore"):
            wave = signal.astype(dtype)
    else:
        info = np.iinfo(dtype)
        centre = (int(info.max) + int(info.min) + 1) // 2
        wave = np.clip(np.rint(signal * (info.max - centre) + centre), info.min, info.max).astype(dtype)
    if layout == "mono":
        return wave[0]
    return wave if layout == "channels-first" else np.ascontiguousarray(wave.T)


def is_unusable(wave) -> bool:
    # float samples far beyond full scale overflow the models (issue 17, item 8): refused by name
    return wave.size == 0 or (
        wave.dtype.kind == "f" and (not np.isfinite(wave).all() or np.abs(wave.astype(np.float64)).max() > MAX_AMPLITUDE)
    )


def is_all_zero(wave) -> bool:
    if wave.dtype.kind == "u":
        return bool(np.all(wave == (int(np.iinfo(wave.dtype).max) + 1) // 2))
    return wave.size > 0 and not np.any(wave)


def check_outcome(run, X, n_columns):
    """Run ``run(X)``; assert the documented error for bad clips or good outputs otherwise."""
    bad = [i for i, w in enumerate(X) if is_unusable(w)]
    event("refused: unusable clip" if bad else "encoded")
    if bad:
        with pytest.raises(AudioInputError) as info:
            run(X)
        msg = str(info.value)
        assert msg.startswith(f"{len(bad)} of {len(X)} clip(s) cannot be used:"), msg
        named = {int(i) for i in re.findall(r"X\[(\d+)\]", msg)}
        assert named == set(bad), (named, bad)
        return None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = run(X)
    silent_warnings = [w for w in caught if issubclass(w.category, SilentAudioWarning)]
    assert len(silent_warnings) <= 1
    listed = {int(i) for w in silent_warnings for i in re.findall(r"X\[(\d+)\]", str(w.message))}
    if listed:
        event("silent clip warned")
    assert {i for i, w in enumerate(X) if is_all_zero(w)} <= listed
    assert out.shape == (len(X), n_columns)
    assert np.all(np.isfinite(out))
    return out


@fuzz(25)
@given(data=st.data())
def test_fuzz_fm_embedder_on_arbitrary_clips(data, tiny_wavlm):
    rate = data.draw(st.sampled_from([8000, 16000, 44100]), label="rate")
    X = data.draw(st.lists(clips(rate), min_size=1, max_size=3), label="X")
    max_duration = data.draw(st.sampled_from([None, 0.25, 60.0]), label="max_duration")
    emb = FMEmbedder(tiny_wavlm, sampling_rate=rate, max_duration=max_duration, device="cpu", batch_size=2).fit()
    check_outcome(emb.transform, X, 32)


@fuzz(12)
@given(data=st.data())
def test_fuzz_zero_shot_scorer_on_arbitrary_clips(data, tiny_clap):
    rate = data.draw(st.sampled_from([16000, 48000]), label="rate")
    X = data.draw(st.lists(clips(rate), min_size=1, max_size=2), label="X")
    scorer = ALMZeroShotScorer(
        tiny_clap,
        classes=["angry", "sad", "neutral"],
        audio_repeats=data.draw(st.integers(1, 3), label="audio_repeats"),
        sampling_rate=rate,
        device="cpu",
    ).fit()
    proba = check_outcome(scorer.predict_proba, X, 3)
    if proba is not None:
        assert np.all(proba >= 0)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


# --------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------

GOOD_TEMPLATES = list(DEFAULT_TEMPLATES) + [
    "{}",
    "{}!",
    "une voix {} ✓",
    "a {{literal}} {} voice",
    "this is a very long prompt " * 12 + "{}",
]
BAD_TEMPLATES = ["no placeholder", "{} and {}", "{x} {}", "{0}", "{:>10}", "{}{"]
LABEL_POOL = ["angry", "sad", "neutral", "fea", "calm ", "Überrascht", "悲しい", "", "a b", "{}"]


@st.composite
def label_sets(draw):
    kind = draw(st.sampled_from(["str", "str", "int", "mixed"]))
    if kind == "str":
        return draw(st.lists(st.sampled_from(LABEL_POOL), min_size=1, max_size=5, unique=True))
    if kind == "int":
        return draw(st.lists(st.integers(-3, 9), min_size=1, max_size=5, unique=True))
    return draw(st.lists(st.sampled_from(LABEL_POOL), min_size=1, max_size=3, unique=True)) + [7]


@fuzz(30)
@given(data=st.data())
def test_fuzz_zero_shot_parameters(data, tiny_clap, sine_clips):
    waves, sr = sine_clips
    waves = waves[:2]
    classes = data.draw(label_sets(), label="classes")
    templates = data.draw(
        st.lists(st.sampled_from(GOOD_TEMPLATES * 3 + BAD_TEMPLATES), min_size=1, max_size=3), label="templates"
    )
    wordings = data.draw(
        st.dictionaries(
            st.sampled_from(LABEL_POOL),
            st.one_of(st.sampled_from(["scared", "fröhlich", "x y"]), st.lists(st.sampled_from(["mad", "glad", "😀"]), min_size=1, max_size=2)),
            max_size=3,
        ),
        label="class_prompts",
    )
    scorer = ALMZeroShotScorer(
        tiny_clap,
        classes=classes,
        class_prompts=wordings or None,
        templates=tuple(templates),
        audio_repeats=data.draw(st.integers(1, 4), label="N_a"),
        text_repeats=data.draw(st.integers(1, 4), label="N_t"),
        text_separator=data.draw(st.sampled_from([" ", " | ", ""]), label="separator"),
        ensemble=data.draw(st.sampled_from(["embedding", "score"]), label="ensemble"),
        sampling_rate=sr,
        device="cpu",
    )
    mixed = {type(c) for c in classes} == {str, int}
    bad_template = any(t in BAD_TEMPLATES for t in templates)
    event("refused: " + ("mixed label types" if mixed else "bad template") if mixed or bad_template else "scored")
    if mixed or bad_template:
        expected = "Mix of label input types" if mixed else "template"
        with pytest.raises(ValueError, match=expected):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # unused class_prompts keys
                scorer.fit()
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        scorer.fit()
    n_classes = len(set(classes))
    assert len(scorer.classes_) == n_classes == len(scorer.get_feature_names_out())
    scores = scorer.transform(waves)
    proba = scorer.predict_proba(waves)
    assert scores.shape == proba.shape == (len(waves), n_classes)
    assert np.all(np.isfinite(scores)) and np.all(proba >= 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert set(scorer.predict(waves).tolist()) <= set(scorer.classes_.tolist())


@fuzz(60)
@given(data=st.data())
def test_fuzz_late_fusion_parameters(data):
    n_classes = data.draw(st.integers(2, 5), label="n_classes")
    n_per_class = data.draw(st.integers(2, 8), label="n_per_class")
    dim = data.draw(st.integers(1, 6), label="dim")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    y = np.repeat(np.arange(n_classes), n_per_class)
    scale = data.draw(st.sampled_from([1e-8, 1.0, 100.0, 1e8]), label="logit scale")
    zs = scale * rng.standard_normal((len(y), n_classes))
    emb = rng.standard_normal((len(y), dim)) * data.draw(st.sampled_from([0.0, 1e-6, 1.0, 1e6]), label="embedding scale")
    X = np.hstack([zs, emb])
    clf = LateFusionClassifier(
        method=data.draw(st.sampled_from(["weighted", "concat"]), label="method"),
        weight=data.draw(st.floats(0, 1), label="weight"),
        space=data.draw(st.sampled_from(["probability", "log"]), label="space"),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs convergence on degenerate features
        proba = clf.fit(X, y).predict_proba(X)
    assert proba.shape == (len(y), n_classes)
    assert np.all(np.isfinite(proba)) and np.all(proba >= 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert set(clf.predict(X).tolist()) <= set(y.tolist())


@fuzz(8)
@given(data=st.data())
def test_fuzz_pipeline_weights_and_class_sets(data, tiny_clap, tiny_wavlm, sine_clips):
    waves, sr = sine_clips
    pool = waves + [w[::-1].copy() for w in waves]
    labels = data.draw(st.lists(st.sampled_from(["angry", "sad", "calm", "fea"]), min_size=6, max_size=6), label="y")
    assume(len(set(labels)) >= 2)
    pipe = make_zsfuse_pipeline(
        tiny_clap,
        tiny_wavlm,
        audio_repeats=data.draw(st.integers(1, 2), label="N_a"),
        text_repeats=data.draw(st.integers(1, 3), label="N_t"),
        method=data.draw(st.sampled_from(["weighted", "concat"]), label="method"),
        weight=data.draw(st.sampled_from([0.0, 0.3, 1.0]), label="weight"),
        space=data.draw(st.sampled_from(["probability", "log"]), label="space"),
        sampling_rate=sr,
        device="cpu",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proba = pipe.fit(pool, labels).predict_proba(pool)
    assert proba.shape == (len(pool), len(set(labels)))
    assert np.all(np.isfinite(proba)) and np.all(proba >= 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


# --------------------------------------------------------------------------------------
# Windowing
# --------------------------------------------------------------------------------------


@fuzz(200)
@given(
    n=st.integers(1, 60),
    repeats=st.integers(1, 5),
    window=st.integers(1, 80),
    crop=st.sampled_from(["center", "random"]),
    seed=st.integers(0, 1000),
    pad=st.sampled_from(["repeatpad", "repeat"]),
)
def test_amplified_window_equals_tiling_then_windowing(n, repeats, window, crop, seed, pad):
    wave = np.arange(1, n + 1, dtype=np.float32)
    tiled = np.concatenate([wave] * repeats)
    if len(tiled) < window:  # the padding spelt out: whole copies then zeros, or copies cut
        copies = window // len(tiled)
        if pad == "repeatpad":
            naive = np.concatenate([tiled] * copies + [np.zeros(window - copies * len(tiled), np.float32)])
        else:
            naive = np.concatenate([tiled] * (copies + 1))[:window]
        np.testing.assert_array_equal(fit_to_window(tiled, window, pad=pad), naive)
    expected = fit_to_window(tile(wave, repeats), window, crop=crop, rng=np.random.default_rng(seed), pad=pad)
    got = amplified_window(wave, repeats, window, crop=crop, rng=np.random.default_rng(seed), pad=pad)
    np.testing.assert_array_equal(got, expected)
