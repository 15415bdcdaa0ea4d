"""Audio input that hung the run, was scored as something it is not, or read X twice (issue 17).

- item 14: a FIFO named ``.wav`` blocked forever in ``open`` (library, ``zsfuse embed``,
  a RAVDESS-layout folder); only regular files are opened, with one message naming it;
- item 8: float samples of 1e18 overflowed the models' float32 arithmetic and gave the
  embedding of digital silence, without a word; such clips are refused by name;
- item 17: a generator ``X`` was read once by ``fit`` and then said "X is empty" at
  ``transform`` (``fit_transform``); reading an iterator again now says what happened.
"""

from __future__ import annotations

import os
import shutil
import threading

import numpy as np
import pytest
import soundfile as sf

from sklearn_zsfuse import ALMZeroShotScorer, AudioInputError, FMEmbedder
from sklearn_zsfuse.cli import main

SR = 16000
fifo_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs: POSIX")


def _within(seconds, func, fifo):
    """``func()`` on a thread; if still blocked after ``seconds``, open ``fifo`` for writing (which
    lets a blocked reader go) and fail."""
    result = {}

    def target():
        try:
            result["value"] = func()
        except BaseException as exc:  # noqa: BLE001  (handed to the test thread)
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        thread.join(10)
        pytest.fail(f"blocked for more than {seconds} s on the FIFO {str(fifo)!r}")
    if "error" in result:
        raise result["error"]
    return result.get("value")


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "stream.wav"
    os.mkfifo(path)
    return path


@fifo_only
def test_a_fifo_named_wav_is_refused_by_name_not_waited_on(tiny_wavlm, fifo):
    emb = FMEmbedder(tiny_wavlm, device="cpu")
    with pytest.raises(AudioInputError, match=r"X\[0\] \('.*stream.wav'\): is a FIFO, not a regular file"):
        _within(20, lambda: emb.fit([str(fifo)]), fifo)


@fifo_only
def test_zsfuse_embed_on_a_fifo_is_one_line_and_exit_2(tiny_wavlm, fifo, tmp_path, capsys):
    rc = _within(20, lambda: main(["embed", "--fm", tiny_wavlm, str(fifo), "--out", str(tmp_path / "x.npy"), "-q"]), fifo)
    err = capsys.readouterr().err
    assert rc == 2 and "is a FIFO, not a regular file" in err, err


@fifo_only
def test_a_fifo_in_a_ravdess_layout_folder_is_refused(tiny_wavlm, tmp_path, capsys):
    root = tmp_path / "ravdess"
    (root / "Actor_01").mkdir(parents=True)
    (root / "Actor_02").mkdir()
    t = np.arange(SR) / SR
    for i, actor in enumerate(["01", "01", "02", "02"]):
        emotion = ["03", "04"][i % 2]
        sf.write(root / f"Actor_{actor}" / f"03-01-{emotion}-01-01-0{i % 2 + 1}-{actor}.wav",
                 (0.1 * np.sin(2 * np.pi * 200 * (i + 1) * t)).astype(np.float32), SR)
    fifo = root / "Actor_02" / "03-01-05-01-01-01-02.wav"
    os.mkfifo(fifo)
    argv = ["embed", "--fm", tiny_wavlm, "--dataset", "ravdess", "--root", str(root), "--out", str(tmp_path / "x.npy"), "-q"]
    rc = _within(30, lambda: main(argv), fifo)
    err = capsys.readouterr().err
    assert rc == 2 and "03-01-05-01-01-01-02.wav" in err and "not a regular file" in err, err


def _loud(amplitude):
    t = np.arange(SR) / SR
    return (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


@pytest.mark.parametrize("amplitude", [1e18, 3e30])
def test_loud_but_finite_arrays_are_refused_not_scored_as_silence(tiny_wavlm, tiny_clap, amplitude):
    clips = [_loud(0.3), _loud(amplitude)]
    for estimator in (FMEmbedder(tiny_wavlm, sampling_rate=SR, device="cpu"),
                      ALMZeroShotScorer(tiny_clap, classes=["a", "b"], sampling_rate=SR, device="cpu")):
        with pytest.raises(AudioInputError, match=r"X\[1\] \(array of shape \(16000,\)\): samples reach .*e\+(18|30)"):
            estimator.fit(clips).transform(clips)


def test_a_loud_float_file_is_refused_at_decode(tiny_wavlm, tmp_path):
    path = tmp_path / "loud.wav"
    sf.write(path, _loud(1e18), SR, subtype="FLOAT")
    with pytest.raises(AudioInputError, match=r"X\[0\] \('.*loud.wav'\): samples reach 1.0e\+18"):
        FMEmbedder(tiny_wavlm, device="cpu").fit([str(path)]).transform([str(path)])


def test_loud_pcm_and_int32_scaled_floats_still_work(tiny_wavlm):
    clips = [_loud(0.9), _loud(30000.0), _loud(2.0**31 - 1)]  # unscaled int16 / int32 values as floats
    out = FMEmbedder(tiny_wavlm, sampling_rate=SR, device="cpu").fit(clips).transform(clips)
    assert np.all(np.isfinite(out)) and out.shape[0] == 3


def test_a_generator_read_twice_says_so_instead_of_x_is_empty(tiny_wavlm):
    clips = [_loud(0.3), _loud(0.2)]
    emb = FMEmbedder(tiny_wavlm, sampling_rate=SR, device="cpu").fit(clips)
    for X in ((c for c in clips), iter(clips), map(np.asarray, clips)):
        with pytest.raises(AudioInputError, match=r"X is empty: it is an iterator .* already read it to its end.*list\(X\)"):
            emb.fit_transform(X)
    assert emb.transform(c for c in clips).shape[0] == 2  # read once: fine
    assert emb.fit_transform(list(clips)).shape[0] == 2
    with pytest.raises(AudioInputError, match="X is empty"):
        emb.transform(iter([]))


def test_a_fifo_model_file_is_not_waited_on(tiny_wavlm, tmp_path):
    """Model files are opened the same way: a FIFO where weights should be is an error, not a hang."""
    from sklearn_zsfuse import ModelLoadError
    from sklearn_zsfuse.encoders import clear_models

    if not hasattr(os, "mkfifo"):
        pytest.skip("FIFOs: POSIX")
    directory = tmp_path / "model"
    shutil.copytree(tiny_wavlm, directory)
    (directory / "model.safetensors").unlink()
    os.mkfifo(directory / "model.safetensors")
    clear_models()
    with pytest.raises(ModelLoadError, match=r"model.safetensors' is damaged: it is not a regular file"):
        _within(20, lambda: FMEmbedder(str(directory), sampling_rate=SR, device="cpu").fit([_loud(0.3)]),
                directory / "model.safetensors")
