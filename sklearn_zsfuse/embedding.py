"""FMEmbedder: pooled utterance embeddings from a frozen speech foundation model."""

from __future__ import annotations

import os
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from . import engine
from ._batching import COMMON_CONSTRAINTS, DEFAULT_MAX_BATCH_SECONDS, prepare_clips
from .audio import decode
from .cache import audio_cache, disk_cache
from .encoders import abilities, get_speech_encoder
from .engine.forward import fm_layers
from .engine.plan import clip_seconds
from .persistence import WeightsInPickleMixin, check_same_behaviour, check_weights_can_travel, weights_id

__all__ = ["FMEmbedder"]


class FMEmbedder(WeightsInPickleMixin, TransformerMixin, BaseEstimator):
    """Utterance embeddings from WavLM, HuBERT, wav2vec 2.0 or data2vec, GE2E, or eGeMAPS.

    Every layer's hidden states are mean-pooled over the clip's valid frames
    (padding never changes a clip's embedding); ``layer`` picks one of them or
    their average.

    ``model="egemaps"`` computes openSMILE's 88 eGeMAPSv02 functionals instead
    (install the ``egemaps`` extra): a specialist that needs no download and no
    GPU. It has a single "layer"; clips shorter than 0.1 s are zero-padded.

    ``model="ge2e"`` is the pretrained GE2E speaker encoder whose weights ship in
    the Resemblyzer wheel (Apache-2.0; ``pip install 'sklearn-zsfuse[ge2e]' && pip
    install --no-deps Resemblyzer==0.1.4``): its three LSTM layers (0, 1, 2) are
    the layers, 256 each, mean-pooled; ``"ge2e:stats"`` pools each layer's mean
    and standard deviation (512); ``"ge2e:utterance"`` is Resemblyzer's speaker
    embedding (one layer). No download, CPU or GPU
    (:mod:`sklearn_zsfuse.encoders.ge2e`).

    Parameters
    ----------
    model : str, path or spec, default="microsoft/wavlm-large"
        Hub id or local directory of a model ``transformers.AutoModel`` loads,
        ``"egemaps"``, a name registered with
        :func:`sklearn_zsfuse.encoders.register_fm`, or a spec object with a
        ``load`` method (see :class:`sklearn_zsfuse.encoders.FMEncoder`).
    layer : int or "all", default=-1
        Hidden-state index (0 is the convolutional front end's projection, -1
        the model's final output, i.e. the last transformer layer after the
        closing layer norm where the model has one) or "all" for the mean over
        all of them.
    max_duration : float or None, default=60.0
        Clips longer than this many seconds are cut to their centre
        ``max_duration`` seconds before the model sees them (files are read from
        the centre only), so memory and time per clip stay bounded however long
        the recording: an hour-long file costs what a minute costs. 60 s keeps
        every clip of the common emotion corpora whole (their utterances last
        2-35 s). ``None`` encodes whole clips, in chunks (``chunk_seconds``).
    chunk_seconds : float or None, default=30.0
        Clips longer than this are encoded in equal chunks of at most this many
        seconds, and the hidden states of every chunk's frames are pooled over
        the whole clip (each frame weighs the same), so time and memory grow
        linearly with the duration instead of with its square. Clips up to
        ``chunk_seconds`` get exactly the embeddings of an unchunked model.
        30 s keeps nearly every utterance of the emotion corpora whole, and is
        well past what self-attention can tell apart in these models: WavLM's
        relative position bias stops distinguishing distances at
        ``max_bucket_distance=800`` frames (16 s at 50 frames/s), and
        wav2vec 2.0 / HuBERT were pre-trained on crops of at most 15.6 s, so a
        chunk of 30 s loses little context while its attention stays
        1,500 x 1,500 frames. ``None`` encodes whole clips (self-attention
        memory then grows with the square of the duration). Encoders without
        ``frame_sums`` (eGeMAPS) always take whole clips.
    max_batch_seconds : float or None, default=120.0
        Cap on the padded seconds of a batch (clips x the longest clip, or the
        chunks of a long clip): clips are sorted by duration, longest first, and
        a batch holds at most ``batch_size`` clips and at most this much padded
        audio, so a batch of long clips holds fewer. ``None``: ``batch_size`` only.
    n_workers : int or None, default=None
        Input worker threads that decode and resample clips ahead of the model
        (results keep the input order; at most three batches are alive).
        ``None`` uses every core this process may run on.
    sampling_rate : int or None, default=None
        Rate of waveform arrays in ``X``; files carry their own rate.
    device, dtype, batch_size, revision, store_weights_in_pickle, verbose, cache_dir
        As in :class:`ALMZeroShotScorer`. The cache holds every layer's pooled
        states, so changing ``layer`` encodes nothing.

    Attributes
    ----------
    n_features_out_ : int
        The embedding size (the model's hidden size).
    n_layers_ : int
        Number of hidden states the model returns (transformer layers + 1).
    weights_id_ : str
        A digest of which weights (path or hub commit, file stamps, dtype) ``fit`` used.
    weights_provenance_ : str or None
        Where those weights come from and their licence, where the encoder says
        (``"ge2e"``: the Resemblyzer wheel's file, its version, Apache-2.0 and the
        file's sha256); None for the others.
    probe_embedding_ : ndarray of shape (hidden_size,)
        The model's embedding of a fixed synthetic probe signal. If ``model`` is
        later pointed elsewhere (``set_params(model=new_dir)``), the first
        ``transform`` recomputes it and raises :class:`ModelMismatchError` unless
        it matches, so a moved copy of the same weights works and other weights
        never silently feed a classifier trained on these.
    """

    _parameter_constraints = {
        "model": [str, os.PathLike, HasMethods(["load"])],
        "layer": [Integral, StrOptions({"all"})],
        "max_duration": [Interval(Real, 0, None, closed="neither"), None],
        "chunk_seconds": [Interval(Real, 0, None, closed="neither"), None],
        **COMMON_CONSTRAINTS,
    }

    def __init__(
        self,
        model="microsoft/wavlm-large",
        *,
        layer=-1,
        max_duration=60.0,
        chunk_seconds=30.0,
        sampling_rate=None,
        device="auto",
        dtype="float32",
        batch_size=8,
        max_batch_seconds=DEFAULT_MAX_BATCH_SECONDS,
        n_workers=None,
        revision=None,
        store_weights_in_pickle=False,
        verbose=0,
        cache_dir=None,
    ):
        self.model = model
        self.layer = layer
        self.max_duration = max_duration
        self.chunk_seconds = chunk_seconds
        self.sampling_rate = sampling_rate
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size
        self.max_batch_seconds = max_batch_seconds
        self.n_workers = n_workers
        self.revision = revision
        self.store_weights_in_pickle = store_weights_in_pickle
        self.verbose = verbose
        self.cache_dir = cache_dir

    def _encoder(self):
        return get_speech_encoder(self.model, revision=self.revision, device=self.device, dtype=self.dtype)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X=None, y=None):
        """Check ``layer`` against the model's configuration, then record the model's signature.

        Nothing is learned from ``X``: the model is frozen. The model is loaded
        (once per process) to embed a fixed probe signal, see ``probe_embedding_``.
        """
        if X is not None:  # fail on a bad corpus before any model loads
            prepare_clips(X, self.sampling_rate)
        encoder = self._encoder()
        self.n_layers_ = int(encoder.n_layers)
        self.n_features_out_ = int(encoder.hidden_size)
        if self.layer != "all" and not -self.n_layers_ <= self.layer < self.n_layers_:
            raise ValueError(
                f"layer={self.layer} is out of range for {self.model!r}, which has "
                f"{self.n_layers_} hidden states (valid: {-self.n_layers_}..{self.n_layers_ - 1} "
                "or 'all')."
            )
        check_weights_can_travel(self, encoder)  # before anything is saved
        self.weights_id_ = weights_id(encoder)
        self.weights_provenance_ = abilities(encoder).provenance
        self.probe_embedding_ = encoder.probe_embedding().copy()
        return self

    def _check_model(self, encoder):
        """Fail loudly if ``model`` now names other weights than at fit (moved dirs are fine)."""
        fitted = getattr(self, "weights_id_", None)  # None: pickled by an older version
        if fitted is None or fitted == weights_id(encoder):
            return
        check_same_behaviour(self, "embeddings of a probe signal", self.probe_embedding_, encoder.probe_embedding())

    def layer_embeddings(self, X) -> np.ndarray:
        """(n_clips, n_layers, hidden_size) pooled hidden states of every layer."""
        return np.stack(self._pooled_layers(prepare_clips(X, self.sampling_rate)))

    def _pooled_layers(self, clips) -> list[np.ndarray]:
        encoder = self._encoder()
        rate = encoder.sampling_rate
        resampler = encoder.resample if abilities(encoder).resample else None
        chunk = None if self.chunk_seconds is None else max(1, int(round(self.chunk_seconds * rate)))
        limit = self.max_batch_seconds
        job = engine.Job(
            desc=type(self).__name__,
            # Chunking changes clips longer than a chunk only, and those keys say how.
            key_prefix=(encoder.fingerprint, "fm-pooled-layers", self.max_duration, self._chunk_key()),
            load=lambda clip: decode(clip, rate, self.max_duration, resampler),
            forward=fm_layers(
                encoder,
                self.model,
                chunk_samples=chunk,
                batch_size=self.batch_size,
                max_batch_samples=None if limit is None else int(limit * rate),
            ),
            seconds=lambda clip: _capped(clip_seconds(clip), self.max_duration),
            max_batch_seconds=limit,
            shape=(encoder.n_layers, encoder.hidden_size),  # a disk entry of another shape is corrupt
            memory=audio_cache,
            batch_size=self.batch_size,
            disk=disk_cache(self.cache_dir),
            n_workers=self.n_workers,
            verbose=self.verbose,
        )
        return engine.run(clips, job)

    def _chunk_key(self):
        """Part of the cache key: clips within a chunk (and every clip when unchunked) share it."""
        if self.chunk_seconds is None or (
            self.max_duration is not None and self.max_duration <= self.chunk_seconds
        ):
            return None
        return float(self.chunk_seconds)

    def transform(self, X):
        """Pooled embeddings of shape (n_clips, hidden_size)."""
        check_is_fitted(self)
        clips = prepare_clips(X, self.sampling_rate)  # bad input fails before a model loads
        self._check_model(self._encoder())
        per_clip = self._pooled_layers(clips)
        # Pick the layer clip by clip: an (n_clips, n_layers, hidden) array is never built.
        if self.layer == "all":
            return np.stack([p.mean(axis=0) for p in per_clip])
        return np.stack([p[self.layer] for p in per_clip])

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self)
        names = abilities(self._encoder()).feature_names
        if names is not None:
            return np.asarray(names, dtype=object)
        return np.asarray([f"fm{i}" for i in range(self.n_features_out_)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags


def _capped(seconds: float, max_duration: float | None) -> float:
    return seconds if max_duration is None else min(seconds, max_duration)
