"""The audio-language model (ALM) protocol: what the zero-shot scorer needs from a dual encoder.

Any dual encoder plugs into :class:`~sklearn_zsfuse.ALMZeroShotScorer` by
providing this small interface (no base class needed)::

    class MyEncoder:
        sampling_rate = 16000     # Hz of the waveforms encode_audio receives
        window = 160000           # samples per clip, or None for any length
        logit_scale = 100.0       # multiplier of cosine similarities
        fingerprint = "my-model@v1"   # identifies the weights (cache key)

        def encode_audio(self, waves):   # list of 1-D float32 arrays -> (n, D)
            ...
        def encode_text(self, texts):    # list of str -> (n, D)
            ...

Optional members (``pad_mode``, ``resample``, ``audio_features`` with
``encode_features``, ``save``, and ``max_text_tokens`` with ``count_tokens`` for a
text tower that reads a limited number of tokens, :class:`TextTokenLimit`) are
described in :mod:`.abilities`; register
the encoder's loader with :func:`~.registry.register_alm`.

The scorer decodes each clip to ``sampling_rate``, tiles it ``audio_repeats``
times, pads or crops it to ``window`` (centre crop, or a seeded random one), and
only then calls ``encode_audio``; outputs are L2-normalised by the scorer.
The speech side has the same shape: :mod:`.fm`.
"""

from __future__ import annotations

import math
import os
from typing import Protocol, runtime_checkable

import numpy as np

from .abilities import PAD_MODES, Abilities

__all__ = ["ALMEncoder", "TextTokenLimit", "check_alm_encoder"]


@runtime_checkable
class ALMEncoder(Protocol):
    """What the zero-shot scorer needs from an audio-language dual encoder.

    Optional members: see :mod:`sklearn_zsfuse.encoders.abilities`.
    """

    sampling_rate: int
    window: int | None
    logit_scale: float
    fingerprint: str

    def encode_audio(self, waves: list[np.ndarray]) -> np.ndarray: ...

    def encode_text(self, texts: list[str]) -> np.ndarray: ...


@runtime_checkable
class TextTokenLimit(Protocol):
    """Optional ability: a text tower that reads at most ``max_text_tokens`` tokens.

    ``count_tokens(texts)`` gives each text's length in tokens as the model's tokenizer
    makes them (special tokens included), before any truncation. The scorer uses it to
    warn about prompts that are cut (77 tokens for CLAP's RoBERTa tower). Declared like
    every optional ability, and read into ``Abilities.max_text_tokens`` at load.
    """

    max_text_tokens: int

    def count_tokens(self, texts: list[str]) -> list[int]: ...


def check_alm_encoder(encoder, model) -> object:
    """Return ``encoder`` if it follows the protocol, else say what is missing.

    Its optional abilities are read here, once (:func:`.abilities.abilities`).
    """
    problems = []
    for name in ("encode_audio", "encode_text"):
        if not callable(getattr(encoder, name, None)):
            problems.append(f"a method {name}()")
    problems += _rate_and_fingerprint(encoder)
    if not hasattr(encoder, "window"):
        problems.append("a window (samples per clip, or None)")
    else:
        window = encoder.window
        if window is not None and (not isinstance(window, (int, np.integer)) or window <= 0):
            problems.append(f"a window that is a positive int or None (got {window!r})")
    scale = getattr(encoder, "logit_scale", None)
    if not isinstance(scale, (int, float, np.floating)) or not math.isfinite(scale) or scale <= 0:
        problems.append(f"a finite logit_scale > 0 (got {scale!r})")
    if not problems:
        pad = Abilities.read(encoder).pad_mode
        if pad not in PAD_MODES:
            problems.append(f"pad_mode in {PAD_MODES} (got {pad!r})")
    if problems:
        raise TypeError(
            f"model={describe(model)} loaded a {type(encoder).__name__}, which is not an "
            f"audio-language encoder: it lacks {'; '.join(problems)}. See "
            "sklearn_zsfuse.encoders.ALMEncoder."
        )
    return encoder


def _rate_and_fingerprint(encoder) -> list[str]:
    problems = []
    rate = getattr(encoder, "sampling_rate", None)
    if not isinstance(rate, (int, np.integer)) or isinstance(rate, bool) or rate <= 0:
        problems.append(f"an integer sampling_rate > 0 (got {rate!r})")
    if not isinstance(getattr(encoder, "fingerprint", None), str):
        problems.append("a str fingerprint identifying the weights")
    return problems


def describe(model) -> str:
    return repr(os.fspath(model)) if isinstance(model, (str, os.PathLike)) else repr(model)
