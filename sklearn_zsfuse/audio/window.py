"""Deterministic windowing: audio amplification (tiling) and a model's pad/crop to its window."""

from __future__ import annotations

import numpy as np

__all__ = ["amplified_window", "fit_to_window", "tile"]


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
