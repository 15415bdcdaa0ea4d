"""Unit tests for sklearn_zsfuse.audio: input validation, decoding, hashing and windowing."""

from __future__ import annotations

import os
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from sklearn_zsfuse.audio import (
    MAX_SAMPLING_RATE,
    MIN_SAMPLING_RATE,
    AudioInputError,
    Clip,
    as_clip_list,
    check_clips,
    decode,
    fit_to_window,
    tile,
)

sf = pytest.importorskip("soundfile")

RAVDESS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ravdess"
FLAC_16K = "Actor_01/03-01-01-01-01-01-01.flac"  # 16 kHz mono FLAC, ~3.3 s


@pytest.fixture
def ravdess_flac() -> Path:
    path = RAVDESS / FLAC_16K
    if not path.is_file():
        pytest.skip(f"shared RAVDESS data not available at {path}")
    return path


def _write_wav(path: Path, data: np.ndarray, rate: int = 16000, subtype: str = "PCM_16") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), data, rate, subtype=subtype)
    return path


@pytest.fixture
def good_wav(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    return _write_wav(tmp_path / "good.wav", 0.1 * rng.standard_normal(1600).astype(np.float32))


def _decode_one(item, sampling_rate=None, target_rate=16000):
    (clip,) = as_clip_list([item], sampling_rate)
    return decode(clip, target_rate)


# --------------------------------------------------------------------------------------
# Errors: the shape of X itself
# --------------------------------------------------------------------------------------


def test_audio_input_error_is_value_error():
    assert issubclass(AudioInputError, ValueError)


@pytest.mark.parametrize("X", ["clip.wav", b"clip.wav", Path("clip.wav")])
def test_single_path_as_X_is_rejected(X):
    with pytest.raises(AudioInputError, match=r"single path.*\[path\]"):
        as_clip_list(X, None)


@pytest.mark.parametrize("X", [[], (), iter([])])
def test_empty_X_is_rejected(X):
    with pytest.raises(AudioInputError, match="X is empty"):
        as_clip_list(X, 16000)


def test_empty_series_is_rejected():
    pd = pytest.importorskip("pandas")
    with pytest.raises(AudioInputError, match="X is empty"):
        as_clip_list(pd.Series([], dtype=object), None)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_1d_numeric_X_is_rejected(dtype):
    with pytest.raises(AudioInputError, match=r"single 1-D numeric array.*\[waveform\]"):
        as_clip_list(np.zeros(100, dtype=dtype), 16000)


def test_3d_numeric_X_is_rejected():
    with pytest.raises(AudioInputError, match=re.escape("X has shape (2, 3, 4)")):
        as_clip_list(np.zeros((2, 3, 4)), 16000)


@pytest.mark.parametrize("X, name", [(5, "int"), (None, "NoneType"), (3.5, "float")])
def test_non_iterable_X_is_rejected(X, name):
    with pytest.raises(AudioInputError, match=f"got {name}"):
        as_clip_list(X, 16000)


# --------------------------------------------------------------------------------------
# Errors: one bad item, named by its index
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "item, fragment",
    [
        ({"path": "a.wav"}, "X[1] has type dict"),
        (None, "X[1] has type NoneType"),
        (["a.wav", "b.wav"], "X[1] has type list"),
        (np.array([1 + 2j, 3j]), "X[1] has type ndarray (dtype complex128)"),
        (np.array([True, False]), "X[1] has type ndarray (dtype bool)"),
        (b"RIFF....", "X[1] is bytes"),
    ],
)
def test_non_numeric_item_is_rejected(good_wav, item, fragment):
    with pytest.raises(AudioInputError, match=re.escape(fragment)):
        as_clip_list([good_wav, item, good_wav], 16000)


def test_scalar_item_is_rejected(good_wav):
    with pytest.raises(AudioInputError, match=re.escape("X[1] has shape ()")):
        as_clip_list([good_wav, 0.5], 16000)


def test_3d_item_is_rejected():
    with pytest.raises(AudioInputError, match=re.escape("X[1] has shape (2, 3, 400)")):
        as_clip_list([np.zeros(400), np.zeros((2, 3, 400))], 16000)


def test_2d_item_with_too_many_channels_is_rejected():
    with pytest.raises(AudioInputError) as info:
        as_clip_list([np.zeros(400), np.zeros((100, 200))], 16000)
    msg = str(info.value)
    assert "X[1] has shape (100, 200)" in msg
    assert "at most 32 channels" in msg
    assert "feature vectors" in msg


def test_channel_limit_boundary():
    (clip,) = as_clip_list([np.zeros((32, 400), dtype=np.float32)], 16000)
    assert decode(clip, 16000).shape == (400,)
    (clip,) = as_clip_list([np.zeros((400, 32), dtype=np.float32)], 16000)
    assert decode(clip, 16000).shape == (400,)
    with pytest.raises(AudioInputError, match=re.escape("X[0] has shape (33, 400)")):
        as_clip_list([np.zeros((33, 400))], 16000)


def test_waveform_without_sampling_rate_is_rejected(good_wav):
    with pytest.raises(AudioInputError) as info:
        as_clip_list([good_wav, np.zeros(1600, dtype=np.float32)], None)
    msg = str(info.value)
    assert "X[1] is a waveform array but sampling_rate is None" in msg
    assert "sampling_rate parameter" in msg


def test_paths_do_not_need_sampling_rate(good_wav):
    clips = as_clip_list([good_wav, str(good_wav)], None)
    assert [c.sampling_rate for c in clips] == [None, None]


@pytest.mark.parametrize("rate", [10, 0, -16000, MIN_SAMPLING_RATE - 1, MAX_SAMPLING_RATE + 1])
def test_sampling_rate_out_of_range_is_rejected_at_decode(rate):
    clips = as_clip_list([np.zeros(100, dtype=np.float32), np.zeros(100, dtype=np.float32)], rate)
    with pytest.raises(AudioInputError) as info:
        decode(clips[1], 16000)
    msg = str(info.value)
    assert "X[1] (array of shape (100,))" in msg
    assert f"sampling_rate={rate} is outside [{MIN_SAMPLING_RATE}, {MAX_SAMPLING_RATE}] Hz" in msg


@pytest.mark.parametrize("rate", [MIN_SAMPLING_RATE, MAX_SAMPLING_RATE])
def test_sampling_rate_range_is_inclusive(rate):
    wave = _decode_one(np.ones(rate // 100, dtype=np.float32), rate, target_rate=rate)
    assert wave.shape == (rate // 100,)


# --------------------------------------------------------------------------------------
# Errors: files
# --------------------------------------------------------------------------------------


def test_check_clips_reports_every_missing_file(tmp_path, good_wav):
    missing_a = tmp_path / "nope_a.wav"
    missing_b = tmp_path / "sub" / "nope_b.flac"
    clips = as_clip_list([missing_a, good_wav, missing_b], None)
    with pytest.raises(AudioInputError) as info:
        check_clips(clips)
    msg = str(info.value)
    assert msg.startswith("2 of 3 clip(s) cannot be used")
    assert msg.count("file not found") == 2
    assert f"X[0] ({str(missing_a)!r})" in msg
    assert f"X[2] ({str(missing_b)!r})" in msg
    assert "X[1]" not in msg
    assert str(good_wav) not in msg


def test_check_clips_truncates_a_long_list(tmp_path):
    paths = [tmp_path / f"missing_{i:02d}.wav" for i in range(25)]
    with pytest.raises(AudioInputError) as info:
        check_clips(as_clip_list(paths, None))
    msg = str(info.value)
    assert msg.startswith("25 of 25 clip(s) cannot be used")
    assert "X[19]" in msg and "X[20]" not in msg
    assert "... and 5 more" in msg


def test_check_clips_passes_existing_files_and_arrays(good_wav):
    check_clips(as_clip_list([good_wav, np.zeros(100)], 16000))


def test_decode_missing_file_names_the_item(tmp_path):
    path = tmp_path / "gone.wav"
    clips = as_clip_list([np.zeros(10), path], 16000)
    with pytest.raises(AudioInputError, match=re.escape(f"X[1] ({str(path)!r}): file not found")):
        decode(clips[1], 16000)


def test_directory_as_path_is_rejected(tmp_path):
    folder = tmp_path / "a_folder.wav"
    folder.mkdir()
    clips = as_clip_list([folder], None)
    with pytest.raises(AudioInputError) as info:
        check_clips(clips)
    assert f"X[0] ({str(folder)!r})" in str(info.value)
    with pytest.raises(AudioInputError) as info:
        decode(clips[0], 16000)
    assert str(info.value) == f"X[0] ({str(folder)!r}): is a directory, not an audio file."


def test_check_clips_says_directory_for_a_directory(tmp_path):
    folder = tmp_path / "a_folder"
    folder.mkdir()
    with pytest.raises(AudioInputError) as info:
        check_clips(as_clip_list([folder], None))
    assert "is a directory" in str(info.value)
    assert "not found" not in str(info.value)


def test_content_key_of_directory_is_an_audio_input_error(tmp_path):
    (clip,) = as_clip_list([tmp_path], None)
    with pytest.raises(AudioInputError, match="is a directory"):
        clip.content_key()


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read any file"
)
def test_unreadable_file_is_an_audio_input_error(good_wav):
    good_wav.chmod(0)
    try:
        with pytest.raises(AudioInputError, match=r"X\[0\].*cannot be read"):
            _decode_one(good_wav)
    finally:
        good_wav.chmod(0o644)


@pytest.mark.parametrize(
    "content",
    [np.random.default_rng(3).bytes(4096), b"this is a text file, not a RIFF/WAVE file\n" * 10],
    ids=["random-bytes", "text"],
)
def test_undecodable_file_is_rejected(tmp_path, good_wav, content):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(content)
    clips = as_clip_list([good_wav, bad], None)
    with pytest.raises(AudioInputError) as info:
        check_clips(clips)  # the header check catches it before any model loads
    assert f"1 of 2 clip(s) cannot be used:\n  X[1] ({str(bad)!r}): cannot be decoded as audio" in str(info.value)
    with pytest.raises(AudioInputError) as info:
        decode(clips[1], 16000)
    msg = str(info.value)
    assert msg.startswith(f"X[1] ({str(bad)!r}): cannot be decoded as audio")
    assert "valid wav/flac/ogg/mp3" in msg


def test_zero_byte_wav_is_rejected(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioInputError) as info:
        _decode_one(empty)
    assert str(info.value) == f"X[0] ({str(empty)!r}): file is empty (0 bytes)."


def test_wav_with_no_frames_is_rejected(tmp_path):
    path = _write_wav(tmp_path / "header_only.wav", np.zeros((0, 1), dtype=np.int16))
    with pytest.raises(AudioInputError, match=re.escape(f"X[0] ({str(path)!r}): clip is empty")):
        _decode_one(path)


def test_float_wav_with_nan_is_rejected(tmp_path):
    data = np.zeros(800, dtype=np.float32)
    data[10] = np.nan
    path = _write_wav(tmp_path / "nan.wav", data, subtype="FLOAT")
    with pytest.raises(AudioInputError, match=re.escape("1 of 800 samples are NaN or infinite")):
        _decode_one(path)


# --------------------------------------------------------------------------------------
# Errors: bad waveform content
# --------------------------------------------------------------------------------------


def test_empty_array_clip_is_rejected():
    clips = as_clip_list([np.zeros(10, np.float32), np.zeros(0, np.float32)], 16000)
    with pytest.raises(AudioInputError) as info:
        decode(clips[1], 16000)
    assert str(info.value) == "X[1] (array of shape (0,)): clip is empty (0 samples)."


def test_all_nan_clip_is_rejected():
    clips = as_clip_list([np.zeros(10), np.full(100, np.nan)], 16000)
    with pytest.raises(AudioInputError) as info:
        decode(clips[1], 16000)
    assert str(info.value) == (
        "X[1] (array of shape (100,)): 100 of 100 samples are NaN or infinite."
    )


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_single_non_finite_sample_is_rejected(bad):
    wave = np.zeros(100, dtype=np.float32)
    wave[37] = bad
    clips = as_clip_list([np.zeros(10), np.zeros(10), wave], 16000)
    with pytest.raises(AudioInputError, match=re.escape("X[2] (array of shape (100,)): 1 of 100")):
        decode(clips[2], 16000)


def test_non_finite_sample_in_one_channel_is_rejected():
    wave = np.zeros((2, 100), dtype=np.float32)
    wave[1, 5] = np.inf
    with pytest.raises(AudioInputError, match=re.escape("X[0] (array of shape (2, 100))")):
        _decode_one(wave, 16000)


@pytest.mark.parametrize("shape", [(2, 0), (0, 2)])
def test_empty_multichannel_clip_is_reported_as_empty(shape):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(AudioInputError, match="clip is empty"):
            _decode_one(np.zeros(shape, dtype=np.float32), 16000)


# --------------------------------------------------------------------------------------
# Valid inputs
# --------------------------------------------------------------------------------------


def test_decode_real_flac_at_native_rate(ravdess_flac):
    info = sf.info(str(ravdess_flac))
    assert info.samplerate == 16000 and info.channels == 1
    wave = _decode_one(ravdess_flac)
    assert wave.dtype == np.float32
    assert wave.ndim == 1
    assert wave.shape[0] == info.frames
    assert np.all(np.isfinite(wave))
    assert np.max(np.abs(wave)) <= 1.0
    assert np.std(wave) > 0
    expected, _ = sf.read(str(ravdess_flac), dtype="float32")
    np.testing.assert_array_equal(wave, expected)


def test_decode_real_flac_resampled_to_48k(ravdess_flac):
    frames = sf.info(str(ravdess_flac)).frames
    wave = _decode_one(ravdess_flac, target_rate=48000)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(wave.shape[0] - 3 * frames) <= 3
    assert np.all(np.isfinite(wave))


def test_decode_resamples_arrays_down():
    rate = 48000
    t = np.arange(rate) / rate
    wave = _decode_one(np.sin(2 * np.pi * 440 * t).astype(np.float32), rate, target_rate=16000)
    assert wave.dtype == np.float32
    assert abs(wave.shape[0] - 16000) <= 2
    # a 440 Hz tone survives: dominant FFT bin at 440 Hz with 1 Hz resolution
    assert abs(int(np.argmax(np.abs(np.fft.rfft(wave)))) - 440) <= 1


def test_stereo_int16_wav_decodes_to_mono(tmp_path):
    n = 4000
    left = np.full(n, 8192, dtype=np.int16)  # 0.25
    right = np.full(n, -16384, dtype=np.int16)  # -0.5
    path = _write_wav(tmp_path / "stereo.wav", np.stack([left, right], axis=1))
    assert sf.info(str(path)).channels == 2
    wave = _decode_one(path)
    assert wave.dtype == np.float32 and wave.shape == (n,)
    np.testing.assert_allclose(wave, -0.125, atol=1e-6)


def test_unicode_and_spaces_in_path(tmp_path, good_wav):
    path = tmp_path / "dir with spaces" / "émotion ü 日本 clip (1).wav"
    path.parent.mkdir()
    shutil.copyfile(good_wav, path)
    clips = as_clip_list([str(path)], None)
    check_clips(clips)
    assert clips[0].source == path
    np.testing.assert_array_equal(decode(clips[0], 16000), _decode_one(good_wav))


def test_unicode_path_error_message_keeps_the_name(tmp_path):
    path = tmp_path / "dir with spaces" / "ça n'existe pas.wav"
    with pytest.raises(AudioInputError) as info:
        check_clips(as_clip_list([path], None))
    assert repr(str(path)) in str(info.value)


@pytest.mark.parametrize(
    "dtype, values, expected",
    [
        (np.int16, [-32768, 0, 16384, 32767], [-1.0, 0.0, 0.5, 32767 / 32768]),
        (np.int32, [-(2**31), 0, 2**30, 2**31 - 1], [-1.0, 0.0, 0.5, 1.0]),
        (np.int8, [-128, 0, 64, 127], [-1.0, 0.0, 0.5, 127 / 128]),
        (np.uint8, [0, 128, 192, 255], [-1.0, 0.0, 0.5, 127 / 128]),
        (np.uint16, [0, 32768, 65535], [-1.0, 0.0, 32767 / 32768]),
    ],
)
def test_pcm_arrays_are_scaled_to_unit_range(dtype, values, expected):
    wave = _decode_one(np.array(values, dtype=dtype), 16000)
    assert wave.dtype == np.float32
    np.testing.assert_allclose(wave, np.array(expected, dtype=np.float32), atol=1e-6)
    assert np.all(np.abs(wave) <= 1.0)


def test_random_int16_stays_in_unit_range():
    rng = np.random.default_rng(1)
    pcm = rng.integers(-32768, 32768, size=5000).astype(np.int16)
    wave = _decode_one(pcm, 16000)
    assert wave.min() >= -1.0 and wave.max() < 1.0
    np.testing.assert_allclose(wave, pcm / 32768.0, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_arrays_are_not_rescaled(dtype):
    values = np.array([-0.5, 0.0, 0.25, 0.75], dtype=dtype)
    wave = _decode_one(values, 16000)
    assert wave.dtype == np.float32
    np.testing.assert_allclose(wave, values.astype(np.float32))


def test_stereo_arrays_are_mixed_equally_in_both_layouts():
    rng = np.random.default_rng(2)
    left = rng.uniform(-0.5, 0.5, 1000).astype(np.float32)
    right = rng.uniform(-0.5, 0.5, 1000).astype(np.float32)
    expected = (left + right) / 2
    channels_first = _decode_one(np.stack([left, right]), 16000)  # (2, n)
    channels_last = _decode_one(np.stack([left, right], axis=1), 16000)  # (n, 2)
    assert channels_first.shape == channels_last.shape == (1000,)
    np.testing.assert_allclose(channels_first, expected, atol=1e-7)
    np.testing.assert_allclose(channels_last, expected, atol=1e-7)


def test_stereo_int16_array_is_scaled_then_mixed():
    pcm = np.stack([np.full(500, 32767, np.int16), np.full(500, -32768, np.int16)])
    np.testing.assert_allclose(_decode_one(pcm, 16000), -0.5 / 32768, atol=1e-7)


def test_2d_numeric_X_is_rows_of_clips():
    X = np.arange(3 * 500, dtype=np.float32).reshape(3, 500) / 2000
    clips = as_clip_list(X, 22050)
    assert len(clips) == 3
    assert [c.index for c in clips] == [0, 1, 2]
    assert all(c.sampling_rate == 22050 and not c.is_path for c in clips)
    for row, clip in zip(X, clips):
        np.testing.assert_array_equal(decode(clip, 22050), row)


def test_2d_numeric_X_with_few_samples_is_still_rows_of_clips():
    clips = as_clip_list(np.zeros((40, 3), dtype=np.float32), 16000)
    assert len(clips) == 40
    assert clips[0].source.shape == (3,)


def test_list_of_variable_length_waveforms():
    X = [np.zeros(100, np.float32), np.ones(250, np.float64), np.arange(7, dtype=np.int16)]
    clips = as_clip_list(X, np.int64(16000))
    assert [c.index for c in clips] == [0, 1, 2]
    assert all(type(c.sampling_rate) is int and c.sampling_rate == 16000 for c in clips)
    assert [decode(c, 16000).shape[0] for c in clips] == [100, 250, 7]


def test_object_array_of_waveforms_and_paths(good_wav):
    X = np.empty(3, dtype=object)
    X[0], X[1], X[2] = np.zeros(100), str(good_wav), good_wav
    clips = as_clip_list(X, 16000)
    assert [c.is_path for c in clips] == [False, True, True]
    assert clips[1].source == clips[2].source == good_wav


def test_string_array_and_tuple_and_generator_of_paths(good_wav):
    for X in (np.array([str(good_wav)] * 2), (good_wav, str(good_wav)), (p for p in [good_wav] * 2)):
        clips = as_clip_list(X, None)
        assert [c.index for c in clips] == [0, 1]
        assert all(c.source == good_wav for c in clips)


def test_torch_tensor_item():
    torch = pytest.importorskip("torch")
    values = np.linspace(-0.5, 0.5, 800, dtype=np.float32)
    tensor = torch.tensor(values, requires_grad=True)
    (clip,) = as_clip_list([tensor], 16000)
    assert isinstance(clip.source, np.ndarray)
    np.testing.assert_array_equal(decode(clip, 16000), values)
    stereo = torch.tensor(np.stack([values, -values]))
    np.testing.assert_allclose(_decode_one(stereo, 16000), 0.0, atol=1e-7)
    pcm = torch.tensor([-32768, 16384], dtype=torch.int16)
    np.testing.assert_allclose(_decode_one(pcm, 16000), [-1.0, 0.5])


def test_bfloat16_torch_tensor_item():
    torch = pytest.importorskip("torch")
    tensor = torch.zeros(800, dtype=torch.bfloat16)
    try:
        wave = _decode_one(tensor, 16000)
    except AudioInputError as exc:
        assert "X[0]" in str(exc)
    else:
        assert wave.dtype == np.float32 and wave.shape == (800,)


def test_pandas_series_of_paths(tmp_path, good_wav):
    pd = pytest.importorskip("pandas")
    other = tmp_path / "other.wav"
    shutil.copyfile(good_wav, other)
    X = pd.Series([str(good_wav), str(other)], index=[10, 20])
    clips = as_clip_list(X, None)
    assert [c.index for c in clips] == [0, 1]
    assert [c.source for c in clips] == [good_wav, other]
    check_clips(clips)
    assert decode(clips[1], 16000).shape == (1600,)


def test_pandas_series_error_uses_position_not_label(tmp_path, good_wav):
    pd = pytest.importorskip("pandas")
    missing = tmp_path / "missing.wav"
    X = pd.Series([str(good_wav), str(missing)], index=["a", "b"])
    with pytest.raises(AudioInputError, match=re.escape(f"X[1] ({str(missing)!r})")):
        check_clips(as_clip_list(X, None))


def test_clip_describe():
    assert Clip(3, Path("/a b/c.wav")).describe() == "X[3] ('/a b/c.wav')"
    assert Clip(0, np.zeros((2, 5)), 16000).describe() == "X[0] (array of shape (2, 5))"


# --------------------------------------------------------------------------------------
# Clip.content_key
# --------------------------------------------------------------------------------------


def test_content_key_same_content_different_names(tmp_path, good_wav):
    copy = tmp_path / "renamed" / "another name.wav"
    copy.parent.mkdir()
    shutil.copyfile(good_wav, copy)
    a, b = as_clip_list([good_wav, copy], None)
    assert a.content_key() == b.content_key()
    assert Clip(7, good_wav).content_key() == a.content_key()  # the index is not hashed


def test_content_key_real_file_copy(tmp_path, ravdess_flac):
    copy = tmp_path / "copy.flac"
    shutil.copyfile(ravdess_flac, copy)
    assert Clip(0, ravdess_flac).content_key() == Clip(1, copy).content_key()


def test_content_key_changes_when_file_is_edited(tmp_path, good_wav):
    before = Clip(0, good_wav).content_key()
    data = bytearray(good_wav.read_bytes())
    data[-1] ^= 0x01  # one bit of the last sample
    good_wav.write_bytes(bytes(data))
    after = Clip(0, good_wav).content_key()
    assert after != before
    assert re.fullmatch(r"[0-9a-f]{32}", after)


def test_content_key_of_missing_file_names_the_item(tmp_path):
    path = tmp_path / "missing.wav"
    with pytest.raises(AudioInputError, match=re.escape(f"X[4] ({str(path)!r}): file not found")):
        Clip(4, path).content_key()


def test_array_content_key_depends_on_rate_dtype_shape_and_values():
    base = np.linspace(-1, 1, 1000).astype(np.float32)
    key = Clip(0, base, 16000).content_key()
    assert Clip(5, base.copy(), 16000).content_key() == key
    assert Clip(0, base, 22050).content_key() != key
    assert Clip(0, base.astype(np.float64), 16000).content_key() != key
    assert Clip(0, base.reshape(2, 500), 16000).content_key() != key
    assert Clip(0, base.astype(">f4"), 16000).content_key() != key  # dtype.str differs
    edited = base.copy()
    edited[500] += 1e-3
    assert Clip(0, edited, 16000).content_key() != key


def test_array_content_key_ignores_memory_layout():
    data = np.arange(200, dtype=np.float32).reshape(2, 100)
    fortran = np.asfortranarray(data)
    strided = np.arange(400, dtype=np.float32)[::2]
    assert Clip(0, data, 16000).content_key() == Clip(0, fortran, 16000).content_key()
    assert (
        Clip(0, strided, 16000).content_key()
        == Clip(0, np.ascontiguousarray(strided), 16000).content_key()
    )


def test_file_and_array_keys_differ(good_wav):
    raw = np.frombuffer(good_wav.read_bytes(), dtype=np.uint8)
    assert Clip(0, good_wav).content_key() != Clip(0, raw, 16000).content_key()


# --------------------------------------------------------------------------------------
# tile and fit_to_window
# --------------------------------------------------------------------------------------


def test_tile_repeats_back_to_back():
    wave = np.array([1, 2, 3], dtype=np.float32)
    out = tile(wave, 3)
    np.testing.assert_array_equal(out, [1, 2, 3, 1, 2, 3, 1, 2, 3])
    assert out.dtype == np.float32
    assert tile(wave, 1) is wave


@pytest.mark.parametrize("n, window", [(3, 10), (4, 10), (5, 10), (1, 7), (9, 10), (7, 100)])
def test_short_clip_is_repeat_padded(n, window):
    wave = np.arange(1, n + 1, dtype=np.float32)
    out = fit_to_window(wave, window)
    copies = window // n
    assert out.shape == (window,)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[: copies * n], np.tile(wave, copies))
    np.testing.assert_array_equal(out[copies * n :], np.zeros(window - copies * n))


def test_short_clip_repeat_pad_example():
    out = fit_to_window(np.array([1.0, 2.0, 3.0], np.float32), 10)
    np.testing.assert_array_equal(out, [1, 2, 3, 1, 2, 3, 1, 2, 3, 0])


def test_short_clip_repeat_mode_repeats_past_the_window_then_cuts():
    # MS-CLAP's own filling: ceil(window / n) copies, cut to the window, no zeros.
    out = fit_to_window(np.array([1.0, 2.0, 3.0], np.float32), 10, pad="repeat")
    np.testing.assert_array_equal(out, [1, 2, 3, 1, 2, 3, 1, 2, 3, 1])
    wave = np.arange(1, 8, dtype=np.float32)
    np.testing.assert_array_equal(fit_to_window(wave, 7, pad="repeat"), wave)
    with pytest.raises(ValueError, match="pad must be"):
        fit_to_window(wave, 10, pad="zeros")


def test_no_window_keeps_the_clip():
    wave = np.arange(5, dtype=np.float32)
    assert fit_to_window(wave, None) is wave


def test_decode_uses_a_model_resampler_only_when_rates_differ():
    calls = []

    def halve(wave, rate):
        calls.append(rate)
        return wave[::2]

    wave = np.linspace(-0.5, 0.5, 100, dtype=np.float32)
    clips = as_clip_list([wave], 16000)
    np.testing.assert_array_equal(decode(clips[0], 8000, resampler=halve), wave[::2])
    np.testing.assert_array_equal(decode(clips[0], 16000, resampler=halve), wave)
    assert calls == [16000]


def test_exact_length_clip_is_unchanged():
    wave = np.arange(8, dtype=np.float32)
    for crop in ("center", "random"):
        np.testing.assert_array_equal(fit_to_window(wave, 8, crop=crop), wave)


@pytest.mark.parametrize("n, window, start", [(10, 4, 3), (11, 4, 3), (12, 4, 4), (5, 4, 0)])
def test_long_clip_is_centre_cropped(n, window, start):
    wave = np.arange(n, dtype=np.float32)
    out = fit_to_window(wave, window)
    np.testing.assert_array_equal(out, wave[start : start + window])


def test_long_real_sized_clip_centre_crop():
    wave = np.arange(100_000, dtype=np.float32)
    out = fit_to_window(wave, 48_000)
    assert out.shape == (48_000,)
    assert out[0] == 26_000 and out[-1] == 73_999


def test_random_crop_is_reproducible_with_a_seeded_rng():
    wave = np.arange(1000, dtype=np.float32)
    a = fit_to_window(wave, 100, crop="random", rng=np.random.default_rng(42))
    b = fit_to_window(wave, 100, crop="random", rng=np.random.default_rng(42))
    np.testing.assert_array_equal(a, b)
    starts = {
        int(fit_to_window(wave, 100, crop="random", rng=np.random.default_rng(s))[0])
        for s in range(20)
    }
    assert len(starts) > 1  # the seed matters


def test_random_crop_stays_in_bounds_and_reaches_both_ends():
    wave = np.arange(13, dtype=np.float32)
    window = 10  # overflow 3: valid starts 0..3
    rng = np.random.default_rng(0)
    starts = set()
    for _ in range(200):
        out = fit_to_window(wave, window, crop="random", rng=rng)
        start = int(out[0])
        assert 0 <= start <= 3
        np.testing.assert_array_equal(out, wave[start : start + window])
        starts.add(start)
    assert starts == {0, 1, 2, 3}


def test_random_crop_without_rng_raises():
    with pytest.raises(ValueError, match="random generator"):
        fit_to_window(np.zeros(100, np.float32), 10, crop="random")


def test_random_crop_of_short_clip_needs_no_rng():
    out = fit_to_window(np.ones(3, np.float32), 10, crop="random")
    np.testing.assert_array_equal(out, [1] * 9 + [0])


def test_decode_then_tile_then_window_pipeline(ravdess_flac):
    wave = decode(Clip(0, ravdess_flac), 48000)
    window = 10 * 48000
    out = fit_to_window(tile(wave, 2), window)
    assert out.shape == (window,) and out.dtype == np.float32
    n = 2 * wave.shape[0]
    assert n < window
    np.testing.assert_array_equal(out[:n], np.tile(wave, 2))


def test_dataframe_as_x_asks_for_one_column():
    pd = pytest.importorskip("pandas")
    with pytest.raises(AudioInputError, match=r"DataFrame; pass one column"):
        as_clip_list(pd.DataFrame({"path": ["a.wav"]}), None)


@pytest.mark.skipif(os.name != "posix", reason="libsndfile gets the descriptor on POSIX only")
def test_files_are_read_by_libsndfile_itself_not_through_python_callbacks(monkeypatch, ravdess_flac, tmp_path):
    # Through a Python file object, libsndfile calls back into Python (holding the GIL) for
    # every read, seek and tell: the input workers then take turns instead of decoding in
    # parallel. Decoding and checking a file must not go that way.
    import soundfile as sf

    expected = decode(as_clip_list([ravdess_flac], None)[0], 16000)

    virtual = []
    real_init = sf.SoundFile._init_virtual_io

    def spy(self, file):
        virtual.append(file)
        return real_init(self, file)

    monkeypatch.setattr(sf.SoundFile, "_init_virtual_io", spy)
    clip = as_clip_list([ravdess_flac], None)[0]
    np.testing.assert_array_equal(decode(clip, 16000), expected)
    assert check_clips([clip]) is None
    half = decode(clip, 16000, max_duration=1.0)  # a seek to the centre, on the descriptor
    start = (len(expected) - 16000) // 2
    np.testing.assert_array_equal(half, expected[start : start + 16000])
    assert virtual == []
