"""FMEmbedder: pooled utterance embeddings from a frozen speech foundation model."""

from __future__ import annotations

import os
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .. import engine
from ..audio import prepare_clips
from ..engine.adapters import SpeechLayers, fm_probe
from .params import COMMON_CONSTRAINTS, DEFAULT_MAX_BATCH_SECONDS, ParameterError
from .persistence import AudioModelMixin, weights_id

__all__ = ["FMEmbedder"]


class FMEmbedder(AudioModelMixin, TransformerMixin, BaseEstimator):
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

    Examples
    --------
    A tiny WavLM with random weights stands for a real one (``"microsoft/wavlm-large"``):

    >>> import tempfile
    >>> import numpy as np
    >>> from sklearn_zsfuse import FMEmbedder
    >>> from sklearn_zsfuse.testing import make_tiny_wavlm
    >>> tmp = tempfile.TemporaryDirectory()
    >>> wavlm = make_tiny_wavlm(tmp.name)
    >>> waves = [0.1 * np.random.default_rng(i).standard_normal(16000 + 800 * i).astype(np.float32) for i in range(3)]
    >>> embedder = FMEmbedder(wavlm, layer=2, sampling_rate=16000, device="cpu").fit()
    >>> embedder.transform(waves).shape, embedder.n_layers_
    ((3, 32), 3)
    >>> embedder.layer_embeddings(waves).shape  # every layer, from the same pass
    (3, 3, 32)
    >>> tmp.cleanup()
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

    _kind = "fm"

    def _encoder(self):
        return self._record().encoder

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X=None, y=None):
        """Check ``layer`` against the model's configuration, then record the model's signature.

        Nothing is learned from ``X``: the model is frozen. The model is loaded
        (once per process) to embed a fixed probe signal, see ``probe_embedding_``.
        """
        if X is not None:  # fail on a bad corpus before any model loads
            prepare_clips(X, self.sampling_rate)
        record = self._record()
        self.n_layers_ = int(record.encoder.n_layers)
        self.n_features_out_ = int(record.encoder.hidden_size)
        if self.layer != "all" and not -self.n_layers_ <= self.layer < self.n_layers_:
            raise ParameterError(
                f"layer={self.layer} is out of range for {self.model!r}, which has "
                f"{self.n_layers_} hidden states (valid: {-self.n_layers_}..{self.n_layers_ - 1} "
                "or 'all')."
            )
        self._check_weights_can_travel(record)  # before anything is saved
        self.weights_id_ = weights_id(record.encoder)
        self.weights_provenance_ = record.abilities.provenance
        self.probe_embedding_ = fm_probe(record).copy()
        return self

    def layer_embeddings(self, X, layers=None) -> np.ndarray:
        """(n_clips, n_layers, hidden_size) pooled hidden states of every layer.

        ``layers``: only these hidden states (indices, or ``"all"`` for their mean), in
        this order: (n_clips, len(layers), hidden_size). Clips are written into the
        result as they are encoded: nothing else of that size is held.
        """
        clips = prepare_clips(X, self.sampling_rate)
        record = self._record()
        picks = None if layers is None else list(layers)
        n_out = record.encoder.n_layers if picks is None else len(picks)
        out = np.empty((len(clips), n_out, record.encoder.hidden_size), np.float32)

        def put(i, value):
            out[i] = value if picks is None else [value.mean(axis=0) if k == "all" else value[k] for k in picks]

        self._encode_into(clips, put)
        return out

    def _layers(self, record) -> SpeechLayers:
        """What this embedder makes of a clip: every layer pooled, long clips in chunks."""
        return SpeechLayers(record, max_duration=self.max_duration, chunk_seconds=self.chunk_seconds,
                            batch_size=self.batch_size, max_batch_seconds=self.max_batch_seconds)

    _adapter = _layers

    def transform(self, X):
        """Pooled embeddings of shape (n_clips, hidden_size)."""
        check_is_fitted(self)
        clips = prepare_clips(X, self.sampling_rate)  # bad input fails before a model loads
        record = self._record()
        self._check_model(record, "embeddings of a probe signal", lambda: fm_probe(record))
        out = np.empty((len(clips), record.encoder.hidden_size), dtype=np.float32)
        layer = self.layer

        def put(i, value):  # the layer of each clip as it comes: no clip's other layers are kept
            out[i] = value.mean(axis=0) if layer == "all" else value[layer]

        engine.run(clips, self._layers(record), self._settings(), into=put)
        return out

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self)
        names = self._record().abilities.feature_names
        if names is not None:
            return np.asarray(names, dtype=object)
        return np.asarray([f"fm{i}" for i in range(self.n_features_out_)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
