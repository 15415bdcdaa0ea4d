"""The bad-input catalogue at the estimator level: what a user sees, and that nothing loads first.

Decoding-level cases (missing, empty, NaN, stereo, PCM, rates, unicode paths, 2-D X)
are in test_audio.py; unknown model ids and offline hubs in test_zero_shot.py and
test_embedding.py; persistence in test_persistence.py.
"""

import re
import tracemalloc
import warnings

import numpy as np
import pytest
import soundfile as sf
from sklearn.model_selection import PredefinedSplit, cross_validate

from sklearn_zsfuse import (
    ALMZeroShotScorer,
    AudioInputError,
    FMEmbedder,
    LateFusionClassifier,
    clear_caches,
    clear_models,
    make_zsfuse_pipeline,
)
from sklearn_zsfuse.audio import SilentAudioWarning, as_clip_list, decode
from sklearn_zsfuse.encoders import get_speech_encoder, loaded_models

SR = 16000


def tone(seconds, freq=220.0, amplitude=0.3):
    t = np.arange(int(SR * seconds)) / SR
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def corpus(tmp_path):
    """Good files and one of each kind of bad file a header check can see."""
    good = tmp_path / "good one.wav"
    sf.write(good, tone(0.5), SR)
    text = tmp_path / "notes.wav"
    text.write_text("these are meeting notes, not audio\n" * 20)
    empty = tmp_path / "empty.flac"
    empty.write_bytes(b"")
    no_frames = tmp_path / "no frames.wav"
    sf.write(no_frames, np.zeros((0, 1), dtype=np.int16), SR)
    return {"good": str(good), "text": str(text), "empty": str(empty), "no_frames": str(no_frames),
            "missing": str(tmp_path / "missing.wav")}


def test_every_bad_clip_is_listed_at_once_before_any_model_loads(corpus, tiny_clap, tiny_wavlm):
    nan = tone(0.2)
    nan[5] = np.nan
    X = [corpus["good"], corpus["text"], corpus["empty"], corpus["missing"], corpus["no_frames"],
         np.zeros(0, dtype=np.float32), nan, np.full(100, np.inf, dtype=np.float32), tone(0.3)]
    y = ["a", "b"] * 4 + ["a"]
    pipe = make_zsfuse_pipeline(tiny_clap, tiny_wavlm, sampling_rate=SR, device="cpu")
    clear_models()
    with pytest.raises(AudioInputError) as info:
        pipe.fit(X, y)
    assert loaded_models() == {}
    msg = str(info.value)
    assert msg.startswith("7 of 9 clip(s) cannot be used:")
    for fragment in [
        f"X[1] ({corpus['text']!r}): cannot be decoded as audio",
        f"X[2] ({corpus['empty']!r}): file is empty (0 bytes)",
        f"X[3] ({corpus['missing']!r}): file not found",
        f"X[4] ({corpus['no_frames']!r}): clip is empty (0 samples)",
        "X[5] (array of shape (0,)): clip is empty (0 samples)",
        "X[6] (array of shape (3200,)): 1 of 3200 samples are NaN or infinite",
        "X[7] (array of shape (100,)): 100 of 100 samples are NaN or infinite",
    ]:
        assert fragment in msg
    assert "X[0]" not in msg and "X[8]" not in msg
    assert msg.endswith("Fix or remove these clips and run again.")


def test_bad_input_at_predict_time_fails_before_the_models_load(corpus, tiny_clap, tiny_wavlm):
    pipe = make_zsfuse_pipeline(tiny_clap, tiny_wavlm, sampling_rate=SR, device="cpu")
    pipe.fit([tone(0.4), tone(0.5, 330), tone(0.6, 440), tone(0.7, 550)], ["a", "b", "a", "b"])
    clear_models()
    with pytest.raises(AudioInputError, match=re.escape(f"X[1] ({corpus['text']!r}): cannot be decoded")):
        pipe.predict([corpus["good"], corpus["text"]])
    with pytest.raises(AudioInputError, match=r"X\[0\] has shape \(2, 40, 3\)"):
        pipe.predict([np.zeros((2, 40, 3))])
    assert loaded_models() == {}


def _float_wav(path, data):
    sf.write(path, data, SR, subtype="FLOAT")
    return str(path)


def test_decode_errors_are_collected_over_all_batches_and_good_clips_are_kept(tmp_path, tiny_wavlm):
    # NaN inside a float file passes the header check; only decoding finds it.
    bad = tone(0.3)
    bad[100] = np.nan
    first = _float_wav(tmp_path / "nan first.wav", bad)
    last = _float_wav(tmp_path / "nan last.wav", bad * 2)
    good = [_float_wav(tmp_path / f"good{i}.wav", tone(0.3 + 0.1 * i)) for i in range(3)]
    X = [first, good[0], good[1], last, good[2], first]
    emb = FMEmbedder(tiny_wavlm, batch_size=1, device="cpu").fit()
    encoder = get_speech_encoder(tiny_wavlm, device="cpu")
    before = encoder.audio_clips
    with pytest.raises(AudioInputError) as info:
        emb.transform(X)
    msg = str(info.value)
    assert msg.startswith("3 of 6 clip(s) cannot be used:")
    assert f"X[0] ({first!r}): 1 of 4800 samples are NaN or infinite" in msg
    assert f"X[3] ({last!r}): 1 of 4800 samples are NaN or infinite" in msg
    assert f"X[5] ({first!r})" in msg  # the duplicate of a bad clip is named too
    # The loop went on past the first failure: the good clips are encoded and cached,
    # so the run after the fix encodes nothing again.
    assert encoder.audio_clips - before == 3
    out = emb.transform(good)
    assert out.shape == (3, 32) and encoder.audio_clips - before == 3


@pytest.mark.parametrize("make", [
    lambda clap, wavlm: FMEmbedder(wavlm, sampling_rate=SR, device="cpu").fit(),
    lambda clap, wavlm: ALMZeroShotScorer(clap, classes=["a", "b"], sampling_rate=SR, device="cpu").fit(),
], ids=["fm", "alm"])
def test_silent_clips_are_allowed_with_one_warning_per_call(make, tiny_clap, tiny_wavlm, tmp_path):
    silent_file = tmp_path / "silence.wav"
    sf.write(silent_file, np.zeros(SR // 2, dtype=np.int16), SR, subtype="PCM_16")
    X = [tone(0.5), np.zeros(SR // 4, dtype=np.float32), tone(0.4, 330), str(silent_file)]
    est = make(tiny_clap, tiny_wavlm)
    for call in range(2):  # the second call is served from the cache and warns the same
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = est.transform(X)
        silent = [w for w in caught if issubclass(w.category, SilentAudioWarning)]
        assert len(silent) == 1, (call, [str(w.message) for w in caught])
        msg = str(silent[0].message)
        assert msg.startswith(f"{type(est).__name__}: 2 of 4 clip(s) are digital silence")
        assert "X[1] (array of shape (4000,))" in msg and f"X[3] ({str(silent_file)!r})" in msg
        assert "X[0]" not in msg and "X[2]" not in msg
        assert np.all(np.isfinite(out)) and out.shape[0] == 4


def test_no_silence_warning_for_quiet_but_not_silent_clips(tiny_wavlm):
    emb = FMEmbedder(tiny_wavlm, sampling_rate=SR, device="cpu").fit()
    with warnings.catch_warnings():
        warnings.simplefilter("error", SilentAudioWarning)
        emb.transform([tone(0.3, amplitude=1e-6), np.array([0, 0, 1, 0] * 400, dtype=np.int16)])


def test_an_hour_long_array_is_cropped_with_bounded_memory(tiny_wavlm):
    hour = np.tile(tone(1.0, 220.0), 3600)  # 57.6 M samples, 230 MB
    hour[: SR * 60] = 0.9  # the first minute differs; the crop must not see it
    emb = FMEmbedder(tiny_wavlm, sampling_rate=SR, max_duration=2.0, device="cpu").fit()
    clear_caches()
    tracemalloc.start()
    try:
        out = emb.transform([hour])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, peak  # no copy of the hour: hashing and cropping use views
    centre = hour[(hour.size - 2 * SR) // 2 :][: 2 * SR]
    np.testing.assert_allclose(out, emb.transform([centre]), rtol=1e-5, atol=1e-6)
    whole = FMEmbedder(tiny_wavlm, sampling_rate=SR, max_duration=None, device="cpu").fit()
    short = tone(1.5)
    np.testing.assert_array_equal(emb.transform([short]), whole.transform([short]))  # short clips untouched


def test_a_long_file_is_read_from_its_centre_only(tmp_path):
    path = tmp_path / "ten minutes.flac"
    minutes = np.tile(tone(1.0), 600)
    minutes[: SR * 300] *= -1
    sf.write(path, minutes, SR)
    (clip,) = as_clip_list([path], None)
    tracemalloc.start()
    try:
        wave = decode(clip, SR, max_duration=3.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert wave.shape == (3 * SR,)
    assert peak < 8 * 2**20, peak  # 10 minutes decoded would be 38 MB
    start = (minutes.size - 3 * SR) // 2
    np.testing.assert_allclose(wave, minutes[start : start + 3 * SR], atol=1e-4)
    (arr,) = as_clip_list([minutes], SR)
    np.testing.assert_allclose(decode(arr, SR, max_duration=3.0), wave, atol=1e-4)


def test_stereo_array_is_cropped_along_time_whatever_its_layout():
    left, right = tone(4.0, 220), tone(4.0, 330)
    mono = (left + right) / 2
    start = (mono.size - SR) // 2
    for layout in (np.stack([left, right]), np.stack([left, right], axis=1)):
        (clip,) = as_clip_list([layout], SR)
        np.testing.assert_allclose(decode(clip, SR, max_duration=1.0), mono[start : start + SR], atol=1e-6)


def test_the_alm_crops_an_hour_to_max_duration_before_its_window(tiny_clap):
    hour = np.tile(tone(1.0, 440.0), 3600)
    scorer = ALMZeroShotScorer(tiny_clap, classes=["a", "b"], sampling_rate=SR, device="cpu").fit()
    centre = hour[(hour.size - 60 * SR) // 2 :][: 60 * SR]
    np.testing.assert_allclose(scorer.transform([hour]), scorer.transform([centre]), rtol=1e-5, atol=1e-5)


def test_unseen_labels_at_score_time_count_as_errors_with_a_warning(tiny_clap):
    waves = [tone(0.5, f) for f in (200, 300, 400, 500)]
    scorer = ALMZeroShotScorer(tiny_clap, sampling_rate=SR, device="cpu").fit(waves, ["sad", "angry", "sad", "angry"])
    predicted = scorer.predict(waves)
    y = np.array(["sad", "bored", "angry", "bored"])
    with pytest.warns(UserWarning, match=re.escape(
        "ALMZeroShotScorer.score: y holds label(s) ['bored'] that are not in classes_ ['angry', 'sad'], "
        "so its 2 clip(s) with them count as errors. A zero-shot scorer can score any label"
    )):
        value = scorer.score(waves, y)
    assert value == np.mean(predicted == y)


def test_unseen_labels_in_fusion_score(tiny_clap):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 6))
    y = np.array([0, 1] * 20)
    clf = LateFusionClassifier().fit(X, y)
    with pytest.warns(UserWarning, match=r"LateFusionClassifier.score: y holds label\(s\) \[7\]"):
        clf.score(X[:4], [0, 1, 7, 7])


def test_a_training_fold_with_one_class_names_it():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 5))
    y = np.array(["calm"] * 6 + ["angry"] * 6)
    with pytest.raises(ValueError, match=r"y holds a single class, 'calm' \(6 samples\).*stratified splitter"):
        LateFusionClassifier().fit(X[:6], y[:6])
    # Fold 0 trains on the 'calm' half only.
    folds = PredefinedSplit(np.array([-1] * 6 + [0] * 6))
    with pytest.raises(ValueError, match=r"single class, 'calm'.*training fold holds only this class"):
        cross_validate(LateFusionClassifier(), X, y, cv=folds, error_score="raise")


def test_classes_without_wording_fall_back_and_misspelt_keys_warn(tiny_clap):
    scorer = ALMZeroShotScorer(
        tiny_clap,
        classes=["fearful", "ang", "schadenfreude"],
        class_prompts={"fearful": ["scared"], "fearfull": "afraid"},
        templates=("a {} voice.",),
        device="cpu",
    )
    with pytest.warns(UserWarning, match=r"class_prompts has wording for \['fearfull'\], which are not among"):
        scorer.fit()
    assert scorer.prompts_ == [["a angry voice."], ["a scared voice."], ["a schadenfreude voice."]]


def test_random_crop_without_seed_fails_at_fit_before_the_model_loads(tiny_clap):
    clear_models()
    with pytest.raises(ValueError, match="crop='random' needs an integer random_state"):
        ALMZeroShotScorer(tiny_clap, classes=["a", "b"], crop="random").fit()
    assert loaded_models() == {}
