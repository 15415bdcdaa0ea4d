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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "AudioInputError",
    "Clip",
    "as_clip_list",
    "check_clips",
    "decode",
    "fit_to_window",
    "tile",
]

MIN_SAMPLING_RATE = 1000
MAX_SAMPLING_RATE = 384_000
# A 2-D item is read as multichannel audio only if one axis is this small.
_MAX_CHANNELS = 32


class AudioInputError(ValueError):
    """A clip in ``X`` cannot be used; the message names its index and source."""


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
            h.update(_read_bytes(self))
        else:
            arr = np.ascontiguousarray(self.source)
            h.update(f"array:{arr.dtype.str}:{arr.shape}:{self.sampling_rate}:".encode())
            h.update(arr.tobytes())
        return h.hexdigest()


def _read_bytes(clip: Clip) -> bytes:
    try:
        return clip.source.read_bytes()
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
    clips = []
    for i, item in enumerate(items):
        if isinstance(item, (str, os.PathLike)):
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
    return clips


def check_clips(clips: list[Clip]) -> None:
    """Cheap up-front checks (files exist) so a bad corpus fails before models load.

    Reports every missing file at once, so a corpus can be fixed in one pass.
    """
    problems = []
    for c in clips:
        if c.is_path and not c.source.exists():
            problems.append(f"{c.describe()}: file not found")
        elif c.is_path and c.source.is_dir():
            problems.append(f"{c.describe()}: is a directory, not an audio file")
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise AudioInputError(
            f"{len(problems)} of {len(clips)} clip(s) cannot be read:\n  {shown}{more}"
        )


def _to_float(arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind == "f":
        return arr.astype(np.float32, copy=False)
    if arr.dtype.kind == "u":  # unsigned PCM is centred at half its range
        half = float(2 ** (8 * arr.dtype.itemsize - 1))
        return ((arr.astype(np.float64) - half) / half).astype(np.float32)
    scale = float(2 ** (8 * arr.dtype.itemsize - 1))
    return (arr.astype(np.float64) / scale).astype(np.float32)


def _to_mono(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 1:
        return arr
    channel_axis = 0 if arr.shape[0] <= arr.shape[1] else 1
    return arr.mean(axis=channel_axis)


def _decode_file(clip: Clip) -> tuple[np.ndarray, int]:
    import soundfile as sf

    data = _read_bytes(clip)
    if not data:
        raise AudioInputError(f"{clip.describe()}: file is empty (0 bytes).")
    try:
        wave, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
        return wave.mean(axis=1), int(rate)
    except Exception as sf_error:  # soundfile cannot read every container; librosa may
        try:
            import warnings

            import librosa

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # librosa warns before its audioread fallback
                wave, rate = librosa.load(str(clip.source), sr=None, mono=True)
            return np.asarray(wave, dtype=np.float32), int(rate)
        except Exception:
            raise AudioInputError(
                f"{clip.describe()}: cannot be decoded as audio ({sf_error}). Check that the "
                "file is a valid wav/flac/ogg/mp3 file."
            ) from None


def resample(wave: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    if orig_rate == target_rate:
        return wave
    import soxr

    return soxr.resample(wave, orig_rate, target_rate, quality="HQ").astype(np.float32, copy=False)


def decode(clip: Clip, target_rate: int, resampler=None) -> np.ndarray:
    """Return the clip as a finite, non-empty mono float32 waveform at ``target_rate``.

    ``resampler(wave, orig_rate)`` replaces the default (soxr, high quality) where a
    model was trained with another one, so that its embeddings match its own package.
    """
    if clip.is_path:
        wave, rate = _decode_file(clip)
    else:
        rate = clip.sampling_rate
        if not MIN_SAMPLING_RATE <= rate <= MAX_SAMPLING_RATE:
            raise AudioInputError(
                f"{clip.describe()}: sampling_rate={rate} is outside "
                f"[{MIN_SAMPLING_RATE}, {MAX_SAMPLING_RATE}] Hz; set the estimator's "
                "sampling_rate to the rate of your arrays."
            )
        source = np.asarray(clip.source)
        if source.size == 0:
            raise AudioInputError(f"{clip.describe()}: clip is empty (0 samples).")
        wave = _to_mono(_to_float(source))
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
    if pad not in ("repeatpad", "repeat"):
        raise ValueError(f"pad must be 'repeatpad' or 'repeat', got {pad!r}")
    n = wave.shape[0]
    if n < window:
        if pad == "repeat":
            return np.tile(wave, -(-window // n))[:window]
        wave = np.tile(wave, window // n)
        return np.pad(wave, (0, window - wave.shape[0]))
    if n == window:
        return wave
    overflow = n - window
    if crop == "random":
        if rng is None:
            raise ValueError("crop='random' needs a random generator")
        start = int(rng.integers(0, overflow + 1))
    else:
        start = overflow // 2
    return wave[start : start + window]
