"""FMEmbedder: pooled utterance embeddings from a frozen speech foundation model."""

from __future__ import annotations

import os
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._batching import COMMON_CONSTRAINTS, cached_encode, prepare_clips
from .audio import decode
from .cache import disk_cache
from .encoders import get_speech_encoder
from .encoders.base import load_error, model_source
from .encoders.opensmile_egemaps import is_egemaps
from .persistence import WeightsInPickleMixin, check_same_behaviour, weights_id

__all__ = ["FMEmbedder"]


class FMEmbedder(WeightsInPickleMixin, TransformerMixin, BaseEstimator):
    """Utterance embeddings from WavLM, HuBERT, wav2vec 2.0 or data2vec, or eGeMAPS.

    Every layer's hidden states are mean-pooled over the clip's valid frames
    (padding never changes a clip's embedding); ``layer`` picks one of them or
    their average.

    ``model="egemaps"`` computes openSMILE's 88 eGeMAPSv02 functionals instead
    (install the ``egemaps`` extra): a specialist that needs no download and no
    GPU. It has a single "layer"; clips shorter than 0.1 s are zero-padded.

    Parameters
    ----------
    model : str, default="microsoft/wavlm-large"
        Hub id or local directory of a model ``transformers.AutoModel`` loads,
        or ``"egemaps"``.
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
        2-35 s). ``None`` encodes whole clips; self-attention memory then grows
        with the square of the duration.
    sampling_rate : int or None, default=None
        Rate of waveform arrays in ``X``; files carry their own rate.
    device, dtype, batch_size, revision, store_weights_in_pickle, verbose, cache_dir
        As in :class:`ALMZeroShotScorer`. Clips are sorted by length before
        batching to cut padding. The cache holds every layer's pooled states,
        so changing ``layer`` encodes nothing.

    Attributes
    ----------
    n_features_out_ : int
        The embedding size (the model's hidden size).
    n_layers_ : int
        Number of hidden states the model returns (transformer layers + 1).
    weights_id_ : str
        A digest of which weights (path or hub commit, file stamps, dtype) ``fit`` used.
    probe_embedding_ : ndarray of shape (hidden_size,)
        The model's embedding of a fixed synthetic probe signal. If ``model`` is
        later pointed elsewhere (``set_params(model=new_dir)``), the first
        ``transform`` recomputes it and raises :class:`ModelMismatchError` unless
        it matches, so a moved copy of the same weights works and other weights
        never silently feed a classifier trained on these.
    """

    _parameter_constraints = {
        "model": [str, os.PathLike],
        "layer": [Integral, StrOptions({"all"})],
        "max_duration": [Interval(Real, 0, None, closed="neither"), None],
        **COMMON_CONSTRAINTS,
    }

    def __init__(
        self,
        model="microsoft/wavlm-large",
        *,
        layer=-1,
        max_duration=60.0,
        sampling_rate=None,
        device="auto",
        dtype="float32",
        batch_size=8,
        revision=None,
        store_weights_in_pickle=False,
        verbose=0,
        cache_dir=None,
    ):
        self.model = model
        self.layer = layer
        self.max_duration = max_duration
        self.sampling_rate = sampling_rate
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size
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
        if is_egemaps(self.model):
            encoder = self._encoder()  # no weights: only checks that opensmile is installed
            self.n_layers_ = encoder.n_layers
            self.n_features_out_ = encoder.hidden_size
        else:
            from transformers import AutoConfig

            source, revision = model_source(self.model, self.revision)
            try:
                config = AutoConfig.from_pretrained(source, revision=revision)
            except (OSError, ValueError) as exc:
                raise load_error(self.model, "model", exc) from exc
            self.n_layers_ = int(config.num_hidden_layers) + 1
            self.n_features_out_ = int(config.hidden_size)
        if self.layer != "all" and not -self.n_layers_ <= self.layer < self.n_layers_:
            raise ValueError(
                f"layer={self.layer} is out of range for {self.model!r}, which has "
                f"{self.n_layers_} hidden states (valid: {-self.n_layers_}..{self.n_layers_ - 1} "
                "or 'all')."
            )
        encoder = self._encoder()
        self.weights_id_ = weights_id(encoder)
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
        return cached_encode(
            clips,
            (encoder.fingerprint, "fm-pooled-layers", self.max_duration),
            lambda clip: decode(clip, encoder.sampling_rate, self.max_duration),
            encoder.encode,
            self.batch_size,
            order=_by_duration,
            disk=disk_cache(self.cache_dir),
            shape=(encoder.n_layers, encoder.hidden_size),
            desc=type(self).__name__,
            verbose=self.verbose,
        )

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
        if is_egemaps(self.model):
            return np.asarray(self._encoder().feature_names, dtype=object)
        return np.asarray([f"fm{i}" for i in range(self.n_features_out_)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags


def _by_duration(clips) -> list[int]:
    """Indices of ``clips`` from longest to shortest, from file headers where possible.

    Longest first: the first batch allocates the largest buffers and every later
    (smaller) batch fits in the memory they freed. Shortest first made glibc's heap
    grow batch after batch (about 100 kB of RSS per clip over 2,000 clips,
    benchmarks/peak_rss.py); it also means a batch too big for memory fails at once.
    """
    import soundfile as sf

    durations = []
    for clip in clips:
        if clip.is_path:
            try:
                info = sf.info(str(clip.source))
                durations.append(info.frames / info.samplerate)
            except Exception:  # undecodable here; decode() reports it with its name
                durations.append(0.0)
        else:
            durations.append(max(np.shape(clip.source)) / clip.sampling_rate)
    return sorted(range(len(clips)), key=durations.__getitem__, reverse=True)
