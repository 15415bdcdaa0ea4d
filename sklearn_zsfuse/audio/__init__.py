"""Audio input: clips, decoding and validation, deterministic windowing.

- :mod:`.clips`: what an item of ``X`` is (:class:`Clip`) and :class:`AudioInputError`;
- :mod:`.decode`: a clip as a finite mono float32 waveform at a model's rate;
- :mod:`.window`: tiling (audio amplification) and the pad/crop to a model's window.
"""

from .clips import (
    MAX_SAMPLING_RATE,
    MIN_SAMPLING_RATE,
    AudioInputError,
    Clip,
    SilentAudioWarning,
    as_clip_list,
    raise_for_problems,
)
from .decode import check_clips, decode, prepare_clips, resample
from .window import amplified_window, fit_to_window, tile

__all__ = [
    "AudioInputError",
    "Clip",
    "MAX_SAMPLING_RATE",
    "MIN_SAMPLING_RATE",
    "SilentAudioWarning",
    "amplified_window",
    "as_clip_list",
    "check_clips",
    "decode",
    "fit_to_window",
    "prepare_clips",
    "raise_for_problems",
    "resample",
    "tile",
]
