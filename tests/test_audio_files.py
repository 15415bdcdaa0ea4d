"""Files that decode to something other than what they hold (issue 10 item 11).

A truncated WAV, a file at a rate no speech model takes, a URL: each is refused with the
item's name instead of becoming a shorter clip, a nonsense resample or a mangled path.
"""

import numpy as np
import pytest
import soundfile as sf

from sklearn_zsfuse import ALMZeroShotScorer
from sklearn_zsfuse.audio import AudioInputError, as_clip_list, check_clips, decode


def write(path, seconds=1.0, rate=16000, subtype="PCM_16"):
    wave = 0.1 * np.sin(2 * np.pi * 220 * np.arange(int(rate * seconds)) / rate)
    sf.write(str(path), wave.astype(np.float32), rate, subtype=subtype)
    return path


def test_a_truncated_wav_is_refused_naming_declared_and_present_frames(tmp_path):
    whole = write(tmp_path / "whole.wav")
    data = whole.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioInputError) as info:
        check_clips(as_clip_list([str(whole), str(cut)], None))
    message = str(info.value)
    assert "1 of 2 clip(s)" in message
    assert "X[1] (" in message and "cut.wav" in message
    assert "truncated: its header declares 16000 frames (1.00 s) but the file holds 7989 (0.50 s)" in message
    with pytest.raises(AudioInputError, match=r"X\[0\] .*truncated"):
        decode(as_clip_list([str(cut)], None)[0], 16000)
    # The whole file is fine, and so is a float WAV or a WAV with an odd-sized trailing chunk.
    assert decode(as_clip_list([str(whole)], None)[0], 16000).shape == (16000,)
    floats = write(tmp_path / "float.wav", subtype="FLOAT")
    check_clips(as_clip_list([str(floats)], None))


def test_a_wav_whose_writer_left_the_size_unset_is_not_called_truncated(tmp_path):
    # Streaming writers put 0 or 0xFFFFFFFF in the data size; libsndfile reads to the end.
    path = write(tmp_path / "stream.wav")
    data = bytearray(path.read_bytes())
    at = data.index(b"data") + 4
    data[at : at + 4] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    check_clips(as_clip_list([str(path)], None))


@pytest.mark.parametrize("rate", [1, 8, 100, 999])
def test_files_below_the_minimum_rate_are_refused_as_arrays_are(tmp_path, rate):
    path = write(tmp_path / f"r{rate}.wav", seconds=max(1.0, 20 / rate), rate=rate)
    with pytest.raises(AudioInputError, match=rf"X\[0\] \(.*r{rate}.wav'\): sampling rate {rate} Hz is outside \[1000, 384000\] Hz"):
        check_clips(as_clip_list([str(path)], None))
    with pytest.raises(AudioInputError, match=rf"sampling rate {rate} Hz is outside \[1000, 384000\] Hz"):
        decode(as_clip_list([str(path)], None)[0], 16000)
    # Arrays say the same (in terms of the parameter that sets their rate).
    with pytest.raises(AudioInputError, match=rf"sampling_rate={rate} is outside \[1000, 384000\] Hz"):
        decode(as_clip_list([np.zeros(100, np.float32)], rate)[0], 16000)
    ok = write(tmp_path / "ok.wav", rate=1000)
    check_clips(as_clip_list([str(ok)], None))


@pytest.mark.parametrize(
    "url", ["http://example.org/a.wav", "https://example.org/a.wav", "s3://bucket/a.wav", "gs://b/a.flac", "file:///tmp/a.wav"]
)
def test_urls_are_refused_with_the_url_as_given(url, tmp_path):
    good = str(write(tmp_path / "good.wav"))
    with pytest.raises(AudioInputError) as info:
        ALMZeroShotScorer(classes=["a", "b"]).fit([good, url])
    assert f"X[1] ({url!r}): URLs are not supported; download the file first" in str(info.value)
    # A file whose name merely contains a colon is a path.
    odd = tmp_path / "take:1.wav"
    write(odd)
    check_clips(as_clip_list([str(odd)], None))
