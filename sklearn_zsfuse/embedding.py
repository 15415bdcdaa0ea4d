"""FMEmbedder: pooled utterance embeddings from a frozen speech foundation model."""

from __future__ import annotations

import os
import warnings
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted

from ._batching import COMMON_CONSTRAINTS, cached_encode, prepare_clips
from .audio import decode
from .cache import disk_cache
from .encoders import get_speech_encoder
from .encoders.base import load_error

__all__ = ["FMEmbedder"]


class FMEmbedder(TransformerMixin, BaseEstimator):
    """Utterance embeddings from WavLM, HuBERT, wav2vec 2.0 or data2vec.

    Every layer's hidden states are mean-pooled over the clip's valid frames
    (padding never changes a clip's embedding); ``layer`` picks one of them or
    their average.

    Parameters
    ----------
    model : str, default="microsoft/wavlm-large"
        Hub id or local directory of a model ``transformers.AutoModel`` loads.
    layer : int or "all", default=-1
        Hidden-state index (0 is the convolutional front end's projection, -1
        the model's final output, i.e. the last transformer layer after the
        closing layer norm where the model has one) or "all" for the mean over
        all of them.
    sampling_rate : int or None, default=None
        Rate of waveform arrays in ``X``; files carry their own rate.
    device, dtype, batch_size, revision, verbose, cache_dir
        As in :class:`ALMZeroShotScorer`. Clips are sorted by length before
        batching to cut padding. The cache holds every layer's pooled states,
        so changing ``layer`` encodes nothing.

    Attributes
    ----------
    n_features_out_ : int
        The embedding size (the model's hidden size).
    n_layers_ : int
        Number of hidden states the model returns (transformer layers + 1).
    """

    _parameter_constraints = {
        "model": [str, os.PathLike],
        "layer": [Integral, StrOptions({"all"})],
        **COMMON_CONSTRAINTS,
    }

    def __init__(
        self,
        model="microsoft/wavlm-large",
        *,
        layer=-1,
        sampling_rate=None,
        device="auto",
        dtype="float32",
        batch_size=8,
        revision=None,
        verbose=0,
        cache_dir=None,
    ):
        self.model = model
        self.layer = layer
        self.sampling_rate = sampling_rate
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size
        self.revision = revision
        self.verbose = verbose
        self.cache_dir = cache_dir

    def _encoder(self):
        return get_speech_encoder(self.model, revision=self.revision, device=self.device, dtype=self.dtype)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X=None, y=None):
        """Read the model's configuration (not its weights) and check ``layer``.

        Nothing is learned from ``X``: the model is frozen.
        """
        from transformers import AutoConfig

        if X is not None:  # fail on a bad corpus before any model loads
            prepare_clips(X, self.sampling_rate)
        try:
            config = AutoConfig.from_pretrained(self.model, revision=self.revision)
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
        return self

    def layer_embeddings(self, X) -> np.ndarray:
        """(n_clips, n_layers, hidden_size) pooled hidden states of every layer."""
        return np.stack(self._pooled_layers(X))

    def _pooled_layers(self, X) -> list[np.ndarray]:
        clips = prepare_clips(X, self.sampling_rate)
        encoder = self._encoder()

        def prepare(batch):  # CPU work, run on a thread one batch ahead of the model
            return [decode(clip, encoder.sampling_rate) for clip in batch]

        # Around the whole run, not each batch: warning filters are process-global, and
        # the prefetch thread's decoding may enter (and must leave) its own block meanwhile.
        with warnings.catch_warnings():
            # torch deprecates the mask types transformers passes to attention.
            warnings.filterwarnings("ignore", message=".*mismatched key_padding_mask.*")
            return cached_encode(
                clips,
                (encoder.fingerprint, "fm-pooled-layers"),
                encoder.encode,
                self.batch_size,
                prepare=prepare,
                order=_by_duration,
                disk=disk_cache(self.cache_dir),
                desc="FM embedding",
                verbose=self.verbose,
            )

    def transform(self, X):
        """Pooled embeddings of shape (n_clips, hidden_size)."""
        check_is_fitted(self)
        per_clip = self._pooled_layers(X)
        # Pick the layer clip by clip: an (n_clips, n_layers, hidden) array is never built.
        if self.layer == "all":
            return np.stack([p.mean(axis=0) for p in per_clip])
        return np.stack([p[self.layer] for p in per_clip])

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self)
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
