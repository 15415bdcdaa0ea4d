"""Decoding and validation: a clip as a finite mono float32 waveform at a model's rate.

:func:`decode` turns one :class:`~.clips.Clip` into a waveform or raises
:class:`~.clips.AudioInputError` naming it; :func:`check_clips` makes the cheap
up-front checks (headers, rates, lengths) so a bad corpus fails before any model loads.
"""

from __future__ import annotations

import io
import os
import struct

import numpy as np

from .clips import (
    MAX_SAMPLING_RATE,
    MIN_SAMPLING_RATE,
    AudioInputError,
    Clip,
    _open,
    as_clip_list,
    raise_for_problems,
)

__all__ = ["MAX_AMPLITUDE", "check_clips", "decode", "prepare_clips", "resample"]

# Float audio is scaled to [-1, 1]. Far beyond that, the models' float32 arithmetic
# overflows (a sum of squares past 3.4e38 from about 1e16) and a clip comes out as
# the embedding of digital silence. Unscaled PCM values (int16's 32767, int32's 2**31)
# still compute correctly and pass.
MAX_AMPLITUDE = 1e10


def prepare_clips(X, sampling_rate) -> list[Clip]:
    """``X`` as clips, every one checked up front (:func:`check_clips`)."""
    clips = as_clip_list(X, sampling_rate)
    check_clips(clips)
    return clips


def check_clips(clips: list[Clip]) -> None:
    """Cheap up-front checks so a bad corpus fails before any model loads.

    Files: present, not a directory, not empty, and a header that soundfile (or,
    failing that, librosa) can decode. Arrays: sampling rate, length, finiteness.
    Every problem is reported at once. NaN samples inside a file and damage past
    the header only show when the clip is decoded for the model; those are
    collected over the whole batch loop and reported together (see
    the engine's report stage, :mod:`sklearn_zsfuse.engine`).
    """
    raise_for_problems([p for p in map(_precheck, clips) if p is not None], len(clips))


def _precheck(clip: Clip) -> str | None:
    try:
        if clip.is_path:
            _check_file(clip)
        else:
            _check_array(clip)
    except AudioInputError as exc:
        return str(exc).rstrip(".")
    return None


def _check_file(clip: Clip) -> None:
    import soundfile as sf

    path = clip.source
    if not path.exists():
        raise AudioInputError(f"{clip.describe()}: file not found")
    if path.is_dir():
        raise AudioInputError(f"{clip.describe()}: is a directory, not an audio file")
    with _open(clip) as fh:
        if fh.seek(0, io.SEEK_END) == 0:
            raise AudioInputError(f"{clip.describe()}: file is empty (0 bytes)")
        try:
            with sf.SoundFile(**_sndfile_source(fh)) as f:  # reads the header only
                frames, rate = f.frames, int(f.samplerate)
        except Exception:
            frames = rate = None
        if frames is not None:
            _check_wav_length(clip, fh)
    if frames is None:  # not a soundfile format: a full decode (librosa) decides
        _decode_file(clip)
    elif frames == 0:
        raise AudioInputError(f"{clip.describe()}: clip is empty (0 samples)")
    else:
        _check_file_rate(clip, rate)


def _rate_range() -> str:
    return f"[{MIN_SAMPLING_RATE}, {MAX_SAMPLING_RATE}] Hz"


def _check_file_rate(clip: Clip, rate: int) -> None:
    """Files obey the range arrays do: below 1 kHz there is no speech to hear, above 384 kHz no codec."""
    if not MIN_SAMPLING_RATE <= rate <= MAX_SAMPLING_RATE:
        raise AudioInputError(
            f"{clip.describe()}: sampling rate {rate} Hz is outside {_rate_range()}; "
            "resample the file (or check that it is the recording you meant)."
        )


def _check_wav_length(clip: Clip, fh) -> None:
    """A WAV file cut short (an interrupted copy) decodes as a shorter clip without a word: refuse it."""
    found = _wav_truncation(fh)
    if found is not None:
        declared, present, rate = found
        raise AudioInputError(
            f"{clip.describe()}: file is truncated: its header declares {declared} frames "
            f"({declared / rate:.2f} s) but the file holds {present} ({present / rate:.2f} s). "
            "Copy or export the file again."
        )


def _wav_truncation(fh) -> tuple[int, int, int] | None:
    """(declared frames, frames present, rate) of a RIFF/WAVE file whose data chunk is cut, else None.

    libsndfile silently shortens such a file to what is present, so the header is read
    here. A data size of 0 or 0xFFFFFFFF is a streaming writer's placeholder, not a length.
    """
    try:
        fh.seek(0)
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        size = fh.seek(0, io.SEEK_END)
        pos, block, rate = 12, None, None
        while pos + 8 <= size:
            fh.seek(pos)
            chunk_id, length = struct.unpack("<4sI", fh.read(8))
            body = pos + 8
            if chunk_id == b"fmt ":
                fmt = fh.read(16)
                if len(fmt) < 16:
                    return None
                rate, block = struct.unpack("<I", fmt[4:8])[0], struct.unpack("<H", fmt[12:14])[0]
            elif chunk_id == b"data":
                if not block or not rate or length in (0, 0xFFFFFFFF) or body + length <= size:
                    return None
                return length // block, (size - body) // block, rate
            pos = body + length + (length & 1)
        return None
    finally:
        fh.seek(0)


def _check_array(clip: Clip) -> None:
    rate = clip.sampling_rate
    if not MIN_SAMPLING_RATE <= rate <= MAX_SAMPLING_RATE:
        raise AudioInputError(
            f"{clip.describe()}: sampling_rate={rate} is outside {_rate_range()}; set the "
            "estimator's sampling_rate to the rate of your arrays."
        )
    source = np.asarray(clip.source)
    if source.size == 0:
        raise AudioInputError(f"{clip.describe()}: clip is empty (0 samples).")
    if source.dtype.kind == "f":
        bad = _count_non_finite(source)
        if bad:
            raise AudioInputError(
                f"{clip.describe()}: {bad} of {source.size} samples are NaN or infinite."
            )
        _check_amplitude(clip, source)


def _count_non_finite(arr: np.ndarray, chunk: int = 1 << 20) -> int:
    """In chunks: a mask of an hour-long clip would be as large as the clip."""
    flat = np.ascontiguousarray(arr).reshape(-1)
    finite = sum(int(np.count_nonzero(np.isfinite(flat[s : s + chunk]))) for s in range(0, flat.size, chunk))
    return flat.size - finite


def _check_amplitude(clip: Clip, arr: np.ndarray, chunk: int = 1 << 20) -> None:
    """Finite float samples far beyond full scale overflow the models: refuse them by name."""
    flat = np.ascontiguousarray(arr).reshape(-1)
    peak = max((float(np.max(np.abs(flat[s : s + chunk]))) for s in range(0, flat.size, chunk)), default=0.0)
    if peak > MAX_AMPLITUDE:
        raise AudioInputError(
            f"{clip.describe()}: samples reach {peak:.1e}, far beyond full scale (float audio is scaled to "
            f"[-1, 1]; above {MAX_AMPLITUDE:.0e} the models' float32 arithmetic overflows and the clip would "
            "be scored as silence). Scale the clip, e.g. divide it by its peak."
        )


def _to_float(arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind == "f":
        return arr.astype(np.float32, copy=False)
    if arr.dtype.kind == "u":  # unsigned PCM is centred at half its range
        half = float(2 ** (8 * arr.dtype.itemsize - 1))
        return ((arr.astype(np.float64) - half) / half).astype(np.float32)
    scale = float(2 ** (8 * arr.dtype.itemsize - 1))
    return (arr.astype(np.float64) / scale).astype(np.float32)


def _time_axis(arr: np.ndarray) -> int:
    """Samples run along the longer axis of a 2-D clip: (channels, samples) or (samples, channels)."""
    if arr.ndim == 1:
        return 0
    return 1 if arr.shape[0] <= arr.shape[1] else 0


def _centre(n: int, limit: int | None) -> tuple[int, int]:
    """(start, length) of the centre ``limit`` samples of ``n``."""
    if limit is None or n <= limit:
        return 0, n
    return (n - limit) // 2, limit


def _limit(max_duration: float | None, rate: int) -> int | None:
    return None if max_duration is None else max(1, int(round(max_duration * rate)))


def _reason(exc: Exception) -> str:
    """libsndfile's own words ('Format not recognised'), not 'Error opening 3: ...' (3 is our descriptor)."""
    import soundfile as sf

    if isinstance(exc, sf.LibsndfileError) and exc.error_string:
        return exc.error_string.rstrip(".")
    return str(exc)


def _decode_file(clip: Clip, max_duration: float | None = None) -> tuple[np.ndarray, int]:
    with _open(clip) as fh:
        if fh.seek(0, io.SEEK_END) == 0:
            raise AudioInputError(f"{clip.describe()}: file is empty (0 bytes).")
        try:
            wave, rate = _read_centre(fh, max_duration)
        except Exception as exc:  # soundfile cannot read every container; librosa may
            sf_error = exc
        else:
            _check_wav_length(clip, fh)
            _check_file_rate(clip, rate)
            return wave, rate
    try:
        import warnings

        import librosa

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # librosa warns before its audioread fallback
            wave, rate = librosa.load(str(clip.source), sr=None, mono=True)
        start, length = _centre(len(wave), _limit(max_duration, int(rate)))
        wave = np.asarray(wave[start : start + length], dtype=np.float32)
    except Exception:
        raise AudioInputError(
            f"{clip.describe()}: cannot be decoded as audio ({_reason(sf_error)}). Check that the "
            "file is a valid wav/flac/ogg/mp3 file."
        ) from None
    _check_file_rate(clip, int(rate))
    return wave, int(rate)


def _sndfile_source(fh) -> dict:
    """What ``soundfile.SoundFile`` reads an open file through, positioned at its start.

    On POSIX, the descriptor: libsndfile then reads the file itself. Given the file
    object, it calls back into Python for every read, seek and tell, holding the GIL
    the other input workers need to decode in parallel. Elsewhere (Windows, whose C
    runtimes may not share descriptors), the file object. Opening in Python either
    way keeps non-ASCII paths and our error messages on every platform.
    """
    fh.seek(0)  # libsndfile takes a descriptor's offset for the start of the audio file
    if os.name == "posix":
        return {"file": fh.fileno(), "closefd": False}  # fh owns the descriptor
    return {"file": fh}


def _read_centre(fh, max_duration: float | None) -> tuple[np.ndarray, int]:
    """Decode from an open file, positioned anywhere."""
    import soundfile as sf

    with sf.SoundFile(**_sndfile_source(fh)) as f:
        rate = int(f.samplerate)
        # Seek to the centre: a long file is never decoded whole.
        start, length = _centre(f.frames, _limit(max_duration, rate))
        if start:
            f.seek(start)
        wave = f.read(length, dtype="float32", always_2d=True)
    # one channel: the column itself, a contiguous view (no mean to compute and allocate)
    return (wave[:, 0] if wave.shape[1] == 1 else wave.mean(axis=1)), rate


def resample(wave: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    if orig_rate == target_rate:
        return wave
    import soxr

    return soxr.resample(wave, orig_rate, target_rate, quality="HQ").astype(np.float32, copy=False)


def decode(
    clip: Clip, target_rate: int, max_duration: float | None = None, resampler=None
) -> np.ndarray:
    """Return the clip as a finite, non-empty mono float32 waveform at ``target_rate``.

    With ``max_duration`` (seconds), a longer clip is cut to its centre
    ``max_duration`` seconds before it is converted or resampled (files are
    read from the centre only), so memory is bounded by ``max_duration``, not by
    the clip. ``resampler(wave, orig_rate)`` replaces the default (soxr, high
    quality) where a model was trained with another one, so that its embeddings
    match its own package.
    """
    if clip.is_path:
        wave, rate = _decode_file(clip, max_duration)
    else:
        _check_array(clip)
        rate = clip.sampling_rate
        source = np.asarray(clip.source)
        time_axis = _time_axis(source)
        start, length = _centre(source.shape[time_axis], _limit(max_duration, rate))
        source = source[(slice(None),) * time_axis + (slice(start, start + length),)]
        wave = _to_float(source)
        if wave.ndim == 2:  # the axis is fixed before the crop, which may change the shape
            wave = wave.mean(axis=1 - time_axis)
    if wave.size == 0:
        raise AudioInputError(f"{clip.describe()}: clip is empty (0 samples).")
    if not np.all(np.isfinite(wave)):
        bad = int(np.count_nonzero(~np.isfinite(wave)))
        raise AudioInputError(
            f"{clip.describe()}: {bad} of {wave.size} samples are NaN or infinite."
        )
    _check_amplitude(clip, wave)
    wave = np.ascontiguousarray(wave, dtype=np.float32)
    if resampler is not None and rate != target_rate:
        return np.ascontiguousarray(resampler(wave, rate), dtype=np.float32)
    return resample(wave, rate, target_rate)
