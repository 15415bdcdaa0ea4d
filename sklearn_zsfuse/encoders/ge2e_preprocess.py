"""What Resemblyzer does to a clip before its GE2E encoder: volume raised to -30 dBFS, long silences cut.

``preprocess_wav`` of the Resemblyzer package, written out so that the package (and
its webrtcvad import at load) is never imported: :func:`normalized_volume` and
:func:`trimmed_silences` (WebRTC's voice activity detector, from ``webrtcvad-wheels``).
"""

from __future__ import annotations

import numpy as np

from ._backend import MissingExtraError

__all__ = ["INSTALL", "normalized_volume", "trimmed_silences", "webrtcvad_module"]

# --no-deps: Resemblyzer's dependency webrtcvad has no wheels (it builds from source, then
# fails to import without setuptools' pkg_resources); this package needs the weights file
# only, and the extra brings webrtcvad-wheels (the same module, with wheels).
INSTALL = "pip install 'sklearn-zsfuse[ge2e]' && pip install --no-deps Resemblyzer==0.1.4"

SAMPLING_RATE = 16000
TARGET_DBFS = -30.0  # preprocess_wav's volume, raised only
_INT16_MAX = 2**15 - 1
VAD_WINDOW = 480  # 30 ms: what the voice activity detector judges at once
VAD_AVERAGE = 8  # windows in the moving average of its decisions
VAD_MAX_SILENCE = 6  # voiced regions are widened by this many windows each side


def normalized_volume(wave: np.ndarray) -> np.ndarray:
    """``wave`` raised to -30 dBFS RMS where it is quieter (``normalize_volume(increase_only=True)``)."""
    rms = float(np.sqrt(np.mean(np.square(wave, dtype=np.float64)))) * _INT16_MAX
    if rms == 0.0:  # silence: nothing to raise (Resemblyzer would return NaNs)
        return wave
    change = TARGET_DBFS - 20.0 * np.log10(rms / _INT16_MAX)
    if change <= 0:
        return wave
    return (wave * 10.0 ** (change / 20.0)).astype(np.float32)


def webrtcvad_module():
    try:
        import webrtcvad

        return webrtcvad
    except ImportError as exc:  # absent, or the original 2.0.10 without pkg_resources
        raise MissingExtraError(
            f"FMEmbedder(model='ge2e') trims silences with webrtcvad, which cannot be imported here "
            f"({type(exc).__name__}: {exc}); install webrtcvad-wheels: {INSTALL} (or pass GE2E(vad=False))."
        ) from None


def trimmed_silences(wave: np.ndarray, webrtcvad) -> np.ndarray:
    """``wave`` without its silences longer than about 0.2 s (Resemblyzer's ``trim_long_silences``).

    The clip is cut to whole 30 ms windows, each judged by a fresh WebRTC VAD in its
    most aggressive mode; the decisions are smoothed over 8 windows and voiced
    regions widened by 6 windows each side. A clip with no voiced window is kept.
    """
    from scipy.ndimage import binary_dilation

    n_windows = wave.shape[0] // VAD_WINDOW
    if n_windows == 0:
        return wave
    whole, wave = wave, wave[: n_windows * VAD_WINDOW]
    # Resemblyzer casts without clipping, which is undefined past full scale; clipped here.
    pcm = np.clip(np.round(wave * _INT16_MAX), -(2**15), _INT16_MAX).astype(np.int16).tobytes()
    vad = webrtcvad.Vad(3)  # the detector adapts as it goes: one per clip, as Resemblyzer
    step = 2 * VAD_WINDOW  # bytes
    voiced = np.array([vad.is_speech(pcm[i * step : (i + 1) * step], SAMPLING_RATE) for i in range(n_windows)])
    # Their moving average: zeros before and after, and the same rounding.
    padded = np.concatenate((np.zeros((VAD_AVERAGE - 1) // 2), voiced, np.zeros(VAD_AVERAGE // 2)))
    sums = np.cumsum(padded, dtype=float)
    sums[VAD_AVERAGE:] = sums[VAD_AVERAGE:] - sums[:-VAD_AVERAGE]
    keep = np.round(sums[VAD_AVERAGE - 1 :] / VAD_AVERAGE).astype(bool)
    keep = binary_dilation(keep, np.ones(VAD_MAX_SILENCE + 1))
    if not keep.any():
        return whole
    return wave[np.repeat(keep, VAD_WINDOW)]
