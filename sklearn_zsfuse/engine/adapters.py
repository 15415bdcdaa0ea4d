"""Adapters: one per kind of encoder input, the seam between the engine and a loaded model.

The engine (:func:`.core.run`) knows nothing of models: it keys, looks up, plans,
feeds and stores. What a clip becomes is said here, by one small class per kind:

- :class:`ALMAudio`: a clip for an audio-language model's audio tower (decode,
  resample, tile N_a times, window; spectrograms where the model runs on the CPU);
- :class:`SpeechLayers`: a clip for a speech model (decode, resample; every
  layer's hidden states pooled over its valid frames, long clips in chunks);
- :class:`PromptText`: a prompt for an audio-language model's text tower.

Each has the same members: ``key_prefix`` and ``key(item)`` (the cache key),
``shape`` (of each result), ``seconds(item)`` (what an item costs the model, or
None for fixed-size inputs batched in input order), ``prepare(item)`` (on the
input workers: the model's input and whether the clip is digital silence) and
``embed(inputs)`` (on the model's thread: one result per input); ``on(record)``
is the same adapter for another replica of the model (another device, see
:mod:`.replicas`). The probe
embeddings estimators keep (``probe_embedding_``) are computed here too, through
the same ``prepare`` and ``embed``, once per loaded model.
"""

from __future__ import annotations

import numpy as np

from ..arrays import l2_normalize
from ..audio import Clip, amplified_window, decode
from ..encoders.records import ModelRecord, probe_signal
from .chunks import pooled_in_chunks
from .plan import clip_seconds

__all__ = ["ALMAudio", "PromptText", "SpeechLayers", "alm_probe", "fm_probe"]


def _capped(seconds: float, max_duration: float | None) -> float:
    return seconds if max_duration is None else min(seconds, max_duration)


def checked_embeddings(out, n: int, method: str, model) -> np.ndarray:
    """Embeddings as (n, D) float32, L2-normalised; a plugged-in encoder's mistakes named."""
    out = np.asarray(out.detach().cpu().float() if hasattr(out, "detach") else out, dtype=np.float32)
    if out.ndim != 2 or out.shape[0] != n:
        raise ValueError(
            f"{method}() of model={model!r} returned shape {out.shape} for {n} inputs; expected "
            f"({n}, embedding_dim)."
        )
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{method}() of model={model!r} returned NaN or infinite values.")
    return l2_normalize(out)


class ALMAudio:
    """Clips for an audio-language model's audio tower: normalised (n, D) embeddings.

    ``prepare`` decodes at the model's rate (its own resampler where it has one),
    tiles the clip ``audio_repeats`` times and cuts or pads it to the model's window
    (centre crop, or a random one seeded by ``seed`` and the clip's content). Where
    the model runs on the CPU (``features_on_host``) it also makes the spectrogram,
    so spectrograms overlap the forward pass; elsewhere ``embed`` makes them batched,
    on the model's device.
    """

    unit = "clips"

    def __init__(self, record: ModelRecord, *, audio_repeats=1, crop="center", seed=None, max_duration=60.0):
        self.record, self.encoder, self.able = record, record.encoder, record.abilities
        self.repeats, self.crop, self.seed, self.max_duration = audio_repeats, crop, seed, max_duration
        self.key_prefix = (record.fingerprint, "alm", audio_repeats, crop, seed, max_duration)
        self.host_features = self.able.features and self.able.features_on_host

    @property
    def shape(self) -> tuple:
        return alm_probe(self.record).shape  # one space for audio and text

    def on(self, record: ModelRecord) -> ALMAudio:
        return ALMAudio(record, audio_repeats=self.repeats, crop=self.crop, seed=self.seed,
                        max_duration=self.max_duration)

    def key(self, clip: Clip) -> str:
        return clip.content_key()

    def seconds(self, clip: Clip) -> float | None:
        """A whole-clip model (``window=None``) pays for the amplified duration; windowed ones do not."""
        if self.encoder.window is not None:
            return None
        return self.repeats * _capped(clip_seconds(clip), self.max_duration)

    def prepare(self, clip: Clip):
        rng = None
        if self.seed is not None:
            rng = np.random.default_rng([self.seed, int(clip.content_key()[:8], 16)])
        resampler = self.encoder.resample if self.able.resample else None
        wave = decode(clip, self.encoder.sampling_rate, self.max_duration, resampler)
        window = amplified_window(wave, self.repeats, self.encoder.window, crop=self.crop, rng=rng,
                                  pad=self.able.pad_mode)
        silent = not wave.any()
        return (self.encoder.audio_features([window])[0] if self.host_features else window), silent

    def embed(self, inputs: list) -> np.ndarray:
        encoder = self.encoder
        if self.host_features:
            import torch

            out = encoder.encode_features(torch.stack(list(inputs)))
        elif self.able.features:
            out = encoder.encode_features(encoder.audio_features(list(inputs)))
        else:
            out = encoder.encode_audio(list(inputs))
        return checked_embeddings(out, len(inputs), "encode_audio", self.record.key[1])


class PromptText:
    """Prompts for an audio-language model's text tower: normalised (n, D) embeddings."""

    unit = "texts"

    def __init__(self, record: ModelRecord):
        self.record = record
        self.key_prefix = (record.fingerprint, "text")

    @property
    def shape(self) -> tuple:
        return alm_probe(self.record).shape

    def on(self, record: ModelRecord) -> PromptText:
        return PromptText(record)

    def key(self, text: str) -> str:
        return str(text)

    def seconds(self, text: str) -> None:
        return None

    def prepare(self, text: str):
        return text, False

    def embed(self, texts: list) -> np.ndarray:
        return checked_embeddings(self.record.encoder.encode_text(list(texts)), len(texts), "encode_text",
                                  self.record.key[1])


class SpeechLayers:
    """Clips for a speech model: (n, n_layers, hidden_size) states pooled over each clip's valid frames.

    Clips within ``chunk_seconds`` go to ``encode`` as they are; longer clips of an
    encoder with ``frame_sums`` are encoded in chunks and pooled over the whole clip
    (:func:`.chunks.pooled_in_chunks`), so their cost is linear in their duration.
    """

    unit = "clips"

    def __init__(self, record: ModelRecord, *, max_duration=60.0, chunk_seconds=30.0, batch_size=8,
                 max_batch_seconds=None):
        self.record, self.encoder = record, record.encoder
        rate = self.encoder.sampling_rate
        self.max_duration = max_duration
        self.options = {"max_duration": max_duration, "chunk_seconds": chunk_seconds, "batch_size": batch_size,
                        "max_batch_seconds": max_batch_seconds}
        chunked = chunk_seconds is not None and record.abilities.frame_sums
        self.chunk_samples = max(1, int(round(chunk_seconds * rate))) if chunked else None
        self.batch_size = batch_size
        self.max_batch_samples = None if max_batch_seconds is None else int(max_batch_seconds * rate)
        # Chunking changes clips longer than a chunk only, and those keys say how.
        chunk_key = None
        if chunk_seconds is not None and (max_duration is None or max_duration > chunk_seconds):
            chunk_key = float(chunk_seconds)
        self.key_prefix = (record.fingerprint, "fm-pooled-layers", max_duration, chunk_key)
        self.shape = (int(self.encoder.n_layers), int(self.encoder.hidden_size))

    def on(self, record: ModelRecord) -> SpeechLayers:
        return SpeechLayers(record, **self.options)

    def key(self, clip: Clip) -> str:
        return clip.content_key()

    def seconds(self, clip: Clip) -> float:
        return _capped(clip_seconds(clip), self.max_duration)

    def prepare(self, clip: Clip):
        resampler = self.encoder.resample if self.record.abilities.resample else None
        wave = decode(clip, self.encoder.sampling_rate, self.max_duration, resampler)
        return wave, not wave.any()

    def embed(self, waves: list) -> np.ndarray:
        out = np.empty((len(waves), *self.shape), dtype=np.float32)
        long = [i for i, w in enumerate(waves) if self.chunk_samples is not None and w.shape[0] > self.chunk_samples]
        whole = sorted(set(range(len(waves))) - set(long))
        if whole:
            out[whole] = self._checked(self.encoder.encode([waves[i] for i in whole]), len(whole))
        if long:
            out[long] = pooled_in_chunks(self.encoder, [waves[i] for i in long], self.chunk_samples,
                                         self.batch_size, self.max_batch_samples)
        return out

    def _checked(self, out, n: int) -> np.ndarray:
        out = np.asarray(out, dtype=np.float32)
        if out.shape != (n, *self.shape):
            raise ValueError(
                f"encode() of model={self.record.key[1]!r} returned shape {out.shape} for {n} clips; expected "
                f"({n}, n_layers={self.shape[0]}, hidden_size={self.shape[1]})."
            )
        return out


def alm_probe(record: ModelRecord) -> np.ndarray:
    """The audio tower's normalised embedding of :func:`probe_signal` (once per loaded model)."""

    def compute():
        audio = ALMAudio(record)
        rate = record.encoder.sampling_rate
        prepared, _ = audio.prepare(Clip(0, probe_signal(rate), rate))
        return audio.embed([prepared])[0]

    return record.derived("probe", compute)


def fm_probe(record: ModelRecord) -> np.ndarray:
    """The speech model's layer-averaged embedding of :func:`probe_signal` (once per loaded model)."""

    def compute():
        layers = SpeechLayers(record, chunk_seconds=None)
        return layers.embed([probe_signal(record.encoder.sampling_rate)])[0].mean(axis=0)

    return record.derived("probe", compute)
