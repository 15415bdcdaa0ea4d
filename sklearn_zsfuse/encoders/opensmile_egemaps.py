"""eGeMAPS v02 functionals from openSMILE: a specialist that needs no download and no GPU."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .specs import ModelSpec

__all__ = ["EGEMAPS", "EGeMAPS", "EGeMAPSEncoder"]

EGEMAPS = "egemaps"  # its registered name (encoders.registry)
# openSMILE returns NaN for clips under ~60 ms; shorter clips are zero-padded to this.
MIN_SAMPLES = 1600  # 0.1 s at 16 kHz


@dataclass(frozen=True)
class EGeMAPS(ModelSpec):
    """openSMILE's eGeMAPSv02 functionals as a speech "model" (no weights; CPU whatever the device)."""

    def load(self, *, device=None, dtype=None, revision=None):
        return EGeMAPSEncoder()


class EGeMAPSEncoder:
    """The 88 eGeMAPSv02 functionals of each clip, shaped like one pooled "layer".

    The speech encoders' protocol (:class:`~.fm.FMEncoder`: ``encode(waves) ->
    (n, 1, 88)``, ``sampling_rate``, ``fingerprint``) with ``feature_names``; it
    has no ``frame_sums`` (functionals are not sums over frames), so long clips
    are processed whole, at a cost linear in their length.
    """

    sampling_rate = 16000
    n_layers = 1
    has_weights = False  # nothing for store_weights_in_pickle to carry

    def __init__(self):
        try:
            import opensmile
        except ImportError:
            raise ImportError(
                "FMEmbedder(model='egemaps') needs the opensmile package; install the extra: "
                "pip install 'sklearn-zsfuse[egemaps]'"
            ) from None
        self.smile = opensmile.Smile(
            feature_set=opensmile.FeatureSet.eGeMAPSv02,
            feature_level=opensmile.FeatureLevel.Functionals,
        )
        self.feature_names = list(self.smile.feature_names)
        self.hidden_size = len(self.feature_names)
        self.fingerprint = f"opensmile|eGeMAPSv02|{getattr(opensmile, '__version__', '?')}|{MIN_SAMPLES}"
        self.audio_batches = 0
        self.audio_clips = 0

    def _functionals(self, wave: np.ndarray) -> np.ndarray:
        if wave.shape[0] < MIN_SAMPLES:
            wave = np.pad(wave, (0, MIN_SAMPLES - wave.shape[0]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Segment too short" cannot happen after the pad
            return self.smile.process_signal(wave, self.sampling_rate).to_numpy()[0].astype(np.float32)

    def encode(self, waves: list[np.ndarray]) -> np.ndarray:
        """(n_clips, 1, 88) float32 functionals of 16 kHz mono waveforms."""
        out = np.empty((len(waves), 1, self.hidden_size), dtype=np.float32)
        for i, wave in enumerate(waves):
            out[i, 0] = self._functionals(wave)
        self.audio_batches += 1
        self.audio_clips += len(waves)
        return out
