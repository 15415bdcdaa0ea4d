"""Toy encoders for the dimensional tests: an ALM whose pole probabilities are chosen per clip.

:class:`PoleALM` reads the pole a prompt stands for from its words (the built-in
:data:`POLE_WORDS`, whole phrases, longest first) and gives it a one-hot text
embedding on that pole's axis; a clip's audio embedding is whatever ``audio_of(wave)``
says. With ``pole_audio(targets)`` a clip's two-pole score equals its target exactly:
the audio embedding is a unit vector whose difference between the high and the low
pole's axes is ``logit(target) / logit_scale``, so
``sigmoid(logit_scale * (cos_high - cos_low)) = target``.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

from sklearn_zsfuse.estimators.attribute_prompts import POLE_WORDS, POLES

AXES = [(d, p) for d in POLE_WORDS for p in POLES]  # one text axis per (dimension, pole)
DIM = len(AXES) + 1  # and one spare axis that makes the audio vector a unit vector
PHRASES = sorted(((w, AXES.index((d, p))) for d in POLE_WORDS for p in POLES for w in POLE_WORDS[d][p]),
                 key=lambda item: -len(item[0]))


def pole_axis(text: str) -> int | None:
    for phrase, axis in PHRASES:
        if re.search(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", text.lower()):
            return axis
    return None


def wave_key(wave) -> str:
    """A clip's identity from its first second (the start of every amplified copy is the clip itself)."""
    head = np.asarray(wave[:16000], dtype=np.float32)
    return hashlib.blake2b(np.round(head, 4).tobytes(), digest_size=8).hexdigest()


class PoleALM:
    sampling_rate = 16000
    window = None  # whole clips, tiled N_a times: the clip's start identifies it
    logit_scale = 50.0

    def __init__(self, tag, audio_of):
        self.fingerprint = f"pole-alm|{tag}"
        self.audio_of = audio_of
        self.audio_calls = 0

    def encode_audio(self, waves):
        self.audio_calls += len(waves)
        return np.stack([self._audio(w) for w in waves]).astype(np.float32)

    def _audio(self, wave):
        try:
            return self.audio_of(wave)
        except KeyError:  # a clip the test did not plan: fit's probe signal
            return unit_vector({})

    def encode_text(self, texts):
        out = np.zeros((len(texts), DIM), np.float32)
        for i, text in enumerate(texts):
            axis = pole_axis(text)
            out[i, DIM - 1 if axis is None else axis] = 1.0
        return out


def unit_vector(differences: dict) -> np.ndarray:
    """A unit vector with ``v[high] - v[low] = difference`` for each dimension (spare axis fills the norm)."""
    v = np.zeros(DIM)
    for dim, diff in differences.items():
        v[AXES.index((dim, "high"))] = diff
    v[-1] = np.sqrt(max(1.0 - np.sum(v**2), 0.0))
    return v


def pole_audio(targets_of, logit_scale=PoleALM.logit_scale):
    """``audio_of`` whose two-pole score of each dimension is ``targets_of(wave)[dimension]`` (in (0, 1))."""

    def audio_of(wave):
        targets = targets_of(wave)
        return unit_vector({d: np.log(t / (1 - t)) / logit_scale for d, t in targets.items()})

    return audio_of
