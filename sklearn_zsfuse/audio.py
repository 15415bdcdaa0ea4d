"""Audio input: decoding, validation, resampling and deterministic windowing.

Every estimator in the package takes ``X`` as a sequence of clips: file paths
(anything soundfile or librosa can decode) or 1-D waveforms at a known
``sampling_rate``. The helpers here turn one item into a mono float32 waveform
at a model's rate, or raise :class:`AudioInputError` naming the item.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "AudioInputError",
    "Clip",
    "SilentAudioWarning",
    "amplified_window",
    "as_clip_list",
    "check_clips",
    "decode",
    "fit_to_window",
    "raise_for_problems",
    "tile",
]

MIN_SAMPLING_RATE = 1000
MAX_SAMPLING_RATE = 384_000
# A 2-D item is read as multichannel audio only if one axis is this small.
_MAX_CHANNELS = 32
# "http://", "s3://", "file://": a scheme, not a folder (a drive letter has no "//").
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")


class AudioInputError(ValueError):
    """A clip in ``X`` cannot be used; the message names its index and source."""


class SilentAudioWarning(UserWarning):
    """Some clips are digital silence (every sample 0): their outputs say nothing about them."""


@dataclass(frozen=True)
class Clip:
    """One item of ``X``: where it came from and how to hash and decode it."""

    index: int
    source: object  # a Path, or a numpy array
    sampling_rate: int | None = None

    @property
    def is_path(self) -> bool:
        return isinstance(self.source, Path)

    def describe(self) -> str:
        if self.is_path:
            return f"X[{self.index}] ({str(self.source)!r})"
        return f"X[{self.index}] (array of shape {np.shape(self.source)})"

    def content_key(self) -> str:
        """A digest of the clip's content, not its name: renamed files hit, edited files miss."""
        h = hashlib.blake2b(digest_size=16)
        if self.is_path:
            h.update(b"file:")
            with _open(self) as f:  # in chunks: an hour of audio is never all in memory
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
        else:
            arr = np.ascontiguousarray(self.source)
            h.update(f"array:{arr.dtype.str}:{arr.shape}:{self.sampling_rate}:".encode())
            h.update(memoryview(arr).cast("B"))  # the same bytes as arr.tobytes(), without a copy
        return h.hexdigest()


def _open(clip: Clip):
    try:
        return open(clip.source, "rb")
    except FileNotFoundError:
        raise AudioInputError(f"{clip.describe()}: file not found.") from None
    except IsADirectoryError:
        raise AudioInputError(f"{clip.describe()}: is a directory, not an audio file.") from None
    except OSError as exc:
        raise AudioInputError(f"{clip.describe()}: cannot be read ({exc}).") from None


def as_clip_list(X, sampling_rate: int | None) -> list[Clip]:
    """Wrap each item of ``X`` as a :class:`Clip`, checking types and shapes only.

    Accepts a list/tuple/Series/1-D object array of paths or waveforms, or a
    2-D numeric array whose rows are equal-length waveforms.
    """
    if isinstance(X, (str, bytes, os.PathLike)):
        raise AudioInputError(
            "X must be a sequence of clips (paths or waveforms), got a single path; "
            "wrap it in a list: [path]."
        )
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):
        raise AudioInputError(
            "X is a DataFrame; pass one column of paths or waveforms, e.g. df['path']."
        )
    if hasattr(X, "to_numpy") and getattr(X, "ndim", 1) == 1:  # pandas Series
        X = X.to_numpy()
    if isinstance(X, np.ndarray):
        if X.ndim == 2 and X.dtype != object:
            items = list(X)
        elif X.ndim == 1 and X.dtype == object or X.ndim == 1 and X.dtype.kind in "US":
            items = list(X)
        elif X.ndim == 1:
            raise AudioInputError(
                "X is a single 1-D numeric array; pass a list of clips: [waveform]."
            )
        else:
            raise AudioInputError(
                f"X has shape {X.shape}: expected a sequence of clips (paths or 1-D waveforms)."
            )
    else:
        try:
            items = list(X)
        except TypeError:
            raise AudioInputError(
                f"X must be a sequence of clips (paths or waveforms), got {type(X).__name__}."
            ) from None
    clips, urls = [], []
    for i, item in enumerate(items):
        if isinstance(item, (str, os.PathLike)):
            text = os.fspath(item)
            if isinstance(text, str) and _URL.match(text):  # Path() would fold "//" into "/"
                urls.append(f"X[{i}] ({text!r}): URLs are not supported; download the file first")
            clips.append(Clip(i, Path(item)))
            continue
        if isinstance(item, bytes):
            raise AudioInputError(f"X[{i}] is bytes; pass a path or a decoded waveform.")
        if hasattr(item, "detach") and hasattr(item, "cpu"):  # a torch tensor
            item = item.detach().cpu()
            if item.is_floating_point():  # numpy has no bfloat16
                item = item.float()
            item = item.numpy()
        arr = np.asarray(item)
        if arr.dtype == object or arr.dtype.kind not in "fiu":
            raise AudioInputError(
                f"X[{i}] has type {type(item).__name__} (dtype {arr.dtype}): expected a file path "
                "or a numeric waveform."
            )
        if arr.ndim == 0 or arr.ndim > 2:
            raise AudioInputError(
                f"X[{i}] has shape {arr.shape}: expected a 1-D waveform or a 2-D "
                "(channels, samples) array."
            )
        if arr.ndim == 2 and min(arr.shape) > _MAX_CHANNELS:
            raise AudioInputError(
                f"X[{i}] has shape {arr.shape}: a 2-D clip must be (channels, samples) or "
                f"(samples, channels) with at most {_MAX_CHANNELS} channels. Did you pass "
                "feature vectors instead of audio?"
            )
        if sampling_rate is None:
            raise AudioInputError(
                f"X[{i}] is a waveform array but sampling_rate is None: set the estimator's "
                "sampling_rate parameter to the rate of your arrays (e.g. 16000)."
            )
        clips.append(Clip(i, arr, int(sampling_rate)))
    if not clips:
        raise AudioInputError("X is empty: expected at least one clip.")
    raise_for_problems(urls, len(clips))
    return clips


def raise_for_problems(problems: list[str], n_clips: int) -> None:
    """One :class:`AudioInputError` listing every bad clip, so a corpus is fixed in one pass."""
    if not problems:
        return
    shown = "\n  ".join(problems[:20])
    more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
    raise AudioInputError(
        f"{len(problems)} of {n_clips} clip(s) cannot be used:\n  {shown}{more}\n"
        "Fix or remove these clips and run again."
    )


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


def _count_non_finite(arr: np.ndarray, chunk: int = 1 << 20) -> int:
    """In chunks: a mask of an hour-long clip would be as large as the clip."""
    flat = np.ascontiguousarray(arr).reshape(-1)
    finite = sum(int(np.count_nonzero(np.isfinite(flat[s : s + chunk]))) for s in range(0, flat.size, chunk))
    return flat.size - finite


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
            f"{clip.describe()}: cannot be decoded as audio ({sf_error}). Check that the "
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
    wave = np.ascontiguousarray(wave, dtype=np.float32)
    if resampler is not None and rate != target_rate:
        return np.ascontiguousarray(resampler(wave, rate), dtype=np.float32)
    return resample(wave, rate, target_rate)


def tile(wave: np.ndarray, repeats: int) -> np.ndarray:
    """Audio amplification: the clip played ``repeats`` times back to back."""
    return np.tile(wave, repeats) if repeats > 1 else wave


def amplified_window(
    wave: np.ndarray,
    repeats: int,
    window: int | None,
    *,
    crop: str = "center",
    rng: np.random.Generator | None = None,
    pad: str = "repeatpad",
) -> np.ndarray:
    """``fit_to_window(tile(wave, repeats), window, ...)`` without building the tiled clip.

    Tiling an hour of 48 kHz audio three times would take 2 GB; the window of
    the tiled clip is gathered from ``wave`` directly, in ``window`` samples.
    """
    n = wave.shape[0]
    total = n * repeats
    if window is None or total == window:
        return tile(wave, repeats)
    if total < window:
        _check_pad(pad)
        # The tiled clip is `wave` back to back, and so is its padded window: written once.
        copies = (window // total) * repeats if pad == "repeatpad" else window // n
        return _repeated(wave, copies, window, cycle=pad == "repeat")
    start = _crop_start(total - window, crop, rng)
    if start + window <= n or repeats == 1:
        return wave[start : start + window]
    return wave[(start + np.arange(window)) % n]


def fit_to_window(
    wave: np.ndarray,
    window: int | None,
    *,
    crop: str = "center",
    rng: np.random.Generator | None = None,
    pad: str = "repeatpad",
) -> np.ndarray:
    """Pad a short clip or crop a long one to exactly ``window`` samples.

    Short clips are repeated as each model was trained: ``pad="repeatpad"``
    (LAION-CLAP) repeats a whole number of times then zero-pads, ``pad="repeat"``
    (MS-CLAP) repeats past the window and cuts. Long clips are centre-cropped, or
    cropped at an offset drawn from ``rng`` when ``crop="random"``. ``window=None``
    (a model that takes any length) returns the clip unchanged.
    """
    if window is None:
        return wave
    _check_pad(pad)
    n = wave.shape[0]
    if n < window:
        return _repeated(wave, window // n, window, cycle=pad == "repeat")
    if n == window:
        return wave
    start = _crop_start(n - window, crop, rng)
    return wave[start : start + window]


def _check_pad(pad: str) -> None:
    if pad not in ("repeatpad", "repeat"):
        raise ValueError(f"pad must be 'repeatpad' or 'repeat', got {pad!r}")


def _repeated(wave: np.ndarray, copies: int, window: int, *, cycle: bool) -> np.ndarray:
    """``copies`` whole copies of ``wave``, then its start (``cycle``) or zeros up to ``window``."""
    n = wave.shape[0]
    out = np.empty(window, dtype=wave.dtype)  # every sample is written below
    out[: copies * n].reshape(copies, n)[:] = wave
    out[copies * n :] = wave[: window - copies * n] if cycle else 0
    return out


def _crop_start(overflow: int, crop: str, rng: np.random.Generator | None) -> int:
    """Offset of the window in a clip ``overflow`` samples longer than it."""
    if crop == "random":
        if rng is None:
            raise ValueError("crop='random' needs a random generator")
        return int(rng.integers(0, overflow + 1))
    return overflow // 2
