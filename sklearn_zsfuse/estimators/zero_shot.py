"""ALMZeroShotScorer: zero-shot emotion scores from a CLAP-family audio-language model."""

from __future__ import annotations

import os
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .. import engine
from ..arrays import has_str as _has_str
from ..arrays import l2_normalize, softmax
from ..audio import prepare_clips
from ..engine.adapters import ALMAudio, PromptText, alm_probe
from ..engine.cache import caches, disk_cache
from .label_checks import check_labels, warn_unseen_labels
from .params import COMMON_CONSTRAINTS, DEFAULT_MAX_BATCH_SECONDS
from .persistence import AudioModelMixin, check_same_behaviour, weights_id
from .prompts import (
    DEFAULT_TEMPLATES,
    build_prompts,
    check_class_prompts,
    check_classes_differ,
    prompt_table,
    warn_long_prompts,
    warn_same_wording,
    warn_unused_class_prompts,
)
from .zero_shot_columns import ZeroShotColumns

__all__ = ["ALMZeroShotScorer"]


class ALMZeroShotScorer(AudioModelMixin, ClassifierMixin, TransformerMixin, BaseEstimator):
    """Zero-shot speech emotion scores from a dual-encoder audio-language model.

    Each clip is embedded by the model's audio tower and compared with one text
    embedding per class, the prompt ensemble's average of every template filled
    with the class's word(s). ``transform`` returns the scaled cosine
    similarities (logits, one column per class); ``predict_proba`` their softmax.

    Parameters
    ----------
    model : str, path or spec, default="laion/clap-htsat-unfused"
        The audio-language model: a CLAP checkpoint in Hugging Face format (hub id
        or directory); ``"msclap-2022"``/``"msclap-2023"`` or a local msclap
        ``.pth``; ``"laion-clap:<id or name>"`` or a local laion_clap ``.pt``;
        ``"yfyeung/CLSP"`` or ``"clsp:<id or dir>"``; a name registered with
        :func:`sklearn_zsfuse.encoders.register_alm`; or a spec object with a
        ``load`` method (:class:`~sklearn_zsfuse.encoders.MSClap`,
        :class:`~sklearn_zsfuse.encoders.LaionClap`,
        :class:`~sklearn_zsfuse.encoders.CLSP`) to give local files for every
        part. The README lists rates, windows and extras.
    classes : array-like or None, default=None
        The labels to score. ``None`` learns them from ``y`` in ``fit``.
    class_prompts : dict or None, default=None
        Word(s) standing for each label in the templates, e.g.
        ``{"fearful": ["fearful", "scared"]}``. Labels not given use a built-in
        emotion vocabulary, else the label itself.
    templates : tuple of str, "ensemble" or "single", default=DEFAULT_TEMPLATES
        The prompt ensemble; each template has one ``{}`` for the class word.
        The names stand for :data:`~sklearn_zsfuse.DEFAULT_TEMPLATES` and
        :data:`~sklearn_zsfuse.SINGLE_TEMPLATE` (``TEMPLATE_SETS``), and read
        better in a grid's ``cv_results_``.
    audio_repeats : int, default=1
        N_a: the clip is tiled this many times before the model's window is applied.
    text_repeats : int, default=1
        N_t: each prompt is repeated this many times, joined by ``text_separator``.
    text_separator : str, default=" "
    ensemble : {"embedding", "score"}, default="embedding"
        Average prompts in embedding space (normalize, mean, normalize) or
        average the per-prompt scores.
    logit_scale : float or None, default=None
        Multiplier of cosine similarities; ``None`` uses the model's learned one.
    crop : {"center", "random"}, default="center"
        Where clips longer than the window are cut. "random" draws the offset
        from ``random_state`` and the clip's content, so results are repeatable.
    max_duration : float or None, default=60.0
        Clips longer than this many seconds are first cut to their centre
        ``max_duration`` seconds (files are read from the centre only), so an
        hour-long recording costs what a minute costs. The model then sees one
        window (7-10 s) of the tiled clip, gathered without building the tiled
        clip. With ``audio_repeats=1`` and ``crop="center"`` the window is the
        clip's centre either way. ``None`` decodes whole clips (about 0.7 GB of
        float32 per hour at 48 kHz, one clip at a time).
    random_state : int or None, default=None
        Seed of the random crops; required when ``crop="random"``.
    sampling_rate : int or None, default=None
        Rate of waveform arrays in ``X``; files carry their own rate.
    device : str, default="auto"
        "auto" picks CUDA when available, else CPU. Several devices, one replica
        of the model on each, batches dealt to them in turn and results in input
        order: a comma list (``"cuda:0,cuda:1"``) or ``"cuda:all"``; the first
        device's model computes the prompts and the probe.
    dtype : {"float32", "float16", "bfloat16", "auto"}, default="float32"
        The models' precision. "bfloat16" about halves the time where the
        hardware computes in bf16 natively: CUDA devices of compute capability
        >= 8.0, and CPUs with AVX512-BF16 or AMX (on such a CPU the full-size
        CLAP ran 2.0-2.3x faster, zero-shot argmax unchanged; see
        benchmarks/README.md). Elsewhere bf16 is emulated and slower. "auto" is
        bfloat16 exactly on that hardware, float32 elsewhere.
    batch_size : int, default=8
        Clips per forward pass of the audio tower.
    max_batch_seconds : float or None, default=120.0
        For models that take whole clips (``window=None``, e.g. CLSP): cap on
        the padded seconds of a batch (clips x the longest amplified clip);
        their clips are sorted by duration, longest first, so a batch holds
        little padding and fewer clips when they are long. Models with a fixed
        window batch ``batch_size`` clips in input order.
    n_workers : int or None, default=None
        Input worker threads that decode, resample, tile and window clips ahead
        of the model (results keep the input order; at most three batches are
        alive). ``None`` uses every core this process may run on.
    revision : str or None, default=None
        Hub revision (branch, tag or commit) of ``model``.
    store_weights_in_pickle : bool, default=False
        Embed the model's files in pickles of this estimator, so that they load
        where the model is not available. Off, a pickle holds parameters and
        learned state only and loads the model by name on first use.
    verbose : int, default=0
        Progress bars and a cache summary when > 0.
    cache_dir : str, path, joblib.Memory or None, default=None
        Directory of an on-disk embedding cache shared across processes and
        runs (a ``joblib.Memory`` gives its location). Entries are keyed by the
        model's fingerprint (path or hub commit, weight files, dtype), the
        preprocessing settings (``audio_repeats``, ``crop``, ``random_state``)
        and each clip's content, so renamed files hit and edited files miss.
        ``None`` caches in memory only (per process).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    prompts_ : list of list of str
        The (amplified) prompt texts of each class.
    text_embeddings_ : ndarray
        (n_classes, dim) normalised class embeddings, or (n_classes, n_prompts,
        dim) per-prompt embeddings when ``ensemble="score"``.
    logit_scale_ : float
    weights_id_ : str
        A digest of which weights (path or hub commit, file stamps, dtype) ``fit`` used. If
        ``model`` is later pointed elsewhere (``set_params(model=new_dir)``), the
        first ``transform`` re-encodes the prompts and a fixed probe clip and raises
        :class:`ModelMismatchError` unless they match ``text_embeddings_`` and
        ``probe_embedding_``.
    probe_embedding_ : ndarray of shape (dim,)
        The audio tower's (normalised) embedding of a fixed synthetic probe signal,
        the one :class:`FMEmbedder` uses, so that other audio weights behind the
        same text tower are caught too.
    """

    _parameter_constraints = {
        "model": [str, os.PathLike, HasMethods(["load"])],
        "classes": ["array-like", None],
        "class_prompts": [dict, None],
        "templates": [tuple, list, str],
        "audio_repeats": [Interval(Integral, 1, None, closed="left")],
        "text_repeats": [Interval(Integral, 1, None, closed="left")],
        "text_separator": [str],
        "ensemble": [StrOptions({"embedding", "score"})],
        "logit_scale": [Interval(Real, 0, None, closed="neither"), None],
        "crop": [StrOptions({"center", "random"})],
        "max_duration": [Interval(Real, 0, None, closed="neither"), None],
        "random_state": [Interval(Integral, 0, None, closed="left"), None],
        **COMMON_CONSTRAINTS,
    }

    def __init__(
        self,
        model="laion/clap-htsat-unfused",
        *,
        classes=None,
        class_prompts=None,
        templates=DEFAULT_TEMPLATES,
        audio_repeats=1,
        text_repeats=1,
        text_separator=" ",
        ensemble="embedding",
        logit_scale=None,
        crop="center",
        max_duration=60.0,
        random_state=None,
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
        self.classes = classes
        self.class_prompts = class_prompts
        self.templates = templates
        self.audio_repeats = audio_repeats
        self.text_repeats = text_repeats
        self.text_separator = text_separator
        self.ensemble = ensemble
        self.logit_scale = logit_scale
        self.crop = crop
        self.max_duration = max_duration
        self.random_state = random_state
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

    _kind = "alm"

    def _encoder(self):
        return self._record().encoder

    def _resolve_classes(self, y):
        check_labels(y)
        if self.classes is not None:
            check_labels(self.classes, "classes")
            classes = np.unique(np.asarray(self.classes, dtype=object if _has_str(self.classes) else None))
            if len(classes) < 1:
                raise ValueError("classes must hold at least one label.")
            if y is not None:
                unknown = sorted(set(np.unique(y).tolist()) - set(classes.tolist()), key=str)
                if unknown:
                    raise ValueError(
                        f"y holds labels {unknown} that are not in classes={list(classes)}."
                    )
            return classes
        if y is None:
            raise ValueError(
                "ALMZeroShotScorer needs the labels to score: pass y to fit, or set classes=[...]."
            )
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D, got shape {y.shape}.")
        return np.unique(y)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X=None, y=None):
        """Learn the classes (from ``y`` or ``classes``) and encode the class prompts once.

        ``X`` is not needed (zero-shot); it is accepted for pipeline use and
        only its length is checked against ``y``.
        """
        if X is not None:
            # Fail on a bad corpus (missing files, wrong types) before any model loads.
            n_clips = len(prepare_clips(X, self.sampling_rate))
            if y is not None and n_clips != len(y):
                raise ValueError(f"X has {n_clips} clips but y has {len(y)} labels.")
        self._crop_seed()  # parameter errors before any model loads
        check_class_prompts(self.class_prompts)
        self.classes_ = self._resolve_classes(y)
        self.prompts_ = build_prompts(
            self.classes_, self.templates, self.class_prompts, self.text_repeats, self.text_separator
        )
        warn_unused_class_prompts(self.class_prompts, self.classes_, stacklevel=3)
        warn_same_wording(self.classes_.tolist(), self.class_prompts, stacklevel=3)
        record = self._record()
        self._check_weights_can_travel(record)  # before anything is saved
        long_prompts = self._warn_long_prompts(record)
        self.text_embeddings_ = self._text_embeddings(record)
        check_classes_differ(self.text_embeddings_, self.classes_, long_prompts)
        self.logit_scale_ = float(self.logit_scale if self.logit_scale is not None else record.encoder.logit_scale)
        self.weights_id_ = weights_id(record.encoder)
        self.probe_embedding_ = alm_probe(record).copy()
        self.n_features_out_ = len(self.classes_)
        return self

    def _warn_long_prompts(self, record) -> dict:
        """Warn about prompts the text tower cuts; returns {template: (tokens, class, prompt)}."""
        limit = record.abilities.max_text_tokens
        if limit is None:
            return {}
        table = prompt_table(
            self.classes_, self.templates, self.class_prompts, self.text_repeats, self.text_separator
        )
        counts = [record.encoder.count_tokens([prompt for _, _, prompt in rows]) for rows in table]
        longest = warn_long_prompts(table, counts, limit, self.text_repeats, stacklevel=4)
        return {"limit": limit, "longest": longest}

    def _text_embeddings(self, record):
        flat = [t for prompts in self.prompts_ for t in prompts]
        settings = engine.RunSettings(
            desc=f"{type(self).__name__} prompts",
            batch_size=64,
            memory=caches.text,
            disk=disk_cache(self.cache_dir),
            workers=False,  # quiet and in place: prompts are cheap, a summary per grid candidate is noise
        )
        encoded = np.stack(engine.run(flat, PromptText(record), settings)).astype(np.float32)
        ends = np.cumsum([len(p) for p in self.prompts_])
        per_class = np.split(encoded, ends[:-1])
        if self.ensemble == "embedding":
            return np.stack([l2_normalize(e.mean(axis=0)) for e in per_class])
        width = max(len(p) for p in self.prompts_)
        # Classes may have different numbers of words; pad with NaN and average with nanmean.
        emb = np.full((len(per_class), width, per_class[0].shape[1]), np.nan, dtype=np.float32)
        for c, e in enumerate(per_class):
            emb[c, : len(e)] = e
        return emb

    def _check_model(self, record):
        """Fail loudly if ``model`` now names other weights than at fit (moved dirs are fine)."""
        fitted = getattr(self, "weights_id_", None)  # None: pickled by an older version
        if fitted is None or fitted == weights_id(record.encoder):
            return
        reference = np.nan_to_num(self.text_embeddings_)  # NaN pads of ensemble="score"
        current = np.nan_to_num(self._text_embeddings(record))
        check_same_behaviour(self, "class prompt embeddings", reference, current)
        super()._check_model(record, "audio embeddings of a probe signal", lambda: alm_probe(record))

    def audio_embeddings(self, X) -> np.ndarray:
        """(n_clips, dim) normalised audio embeddings after amplification and windowing."""
        clips = prepare_clips(X, self.sampling_rate)
        return np.stack(engine.run(clips, self._audio(self._record()), self._settings()))

    def _audio(self, record) -> ALMAudio:
        """What this scorer makes of a clip for the model's audio tower (amplification, window, crop)."""
        return ALMAudio(record, audio_repeats=self.audio_repeats, crop=self.crop, seed=self._crop_seed(),
                        max_duration=self.max_duration)

    _adapter = _audio

    def _crop_seed(self):
        if self.crop != "random":
            return None
        if self.random_state is None:
            raise ValueError(
                "crop='random' needs an integer random_state, so that crops (and cached "
                "embeddings) are repeatable; or use crop='center'."
            )
        return int(self.random_state)

    def transform(self, X):
        """Zero-shot scores (scaled cosine similarities), shape (n_clips, n_classes).

        A float32 :class:`~sklearn_zsfuse.estimators.zero_shot_columns.ZeroShotColumns`:
        an ndarray that also records ``classes_`` as its columns' classes, through a
        numpy ``FeatureUnion``, for :class:`LateFusionClassifier`.
        """
        check_is_fitted(self)
        clips = prepare_clips(X, self.sampling_rate)  # bad input fails before a model loads
        record = self._record()
        self._check_model(record)
        audio = np.stack(engine.run(clips, self._audio(record), self._settings()))
        if self.ensemble == "embedding":
            scores = audio @ self.text_embeddings_.T
        else:
            scores = np.nanmean(np.einsum("nd,ckd->nck", audio, self.text_embeddings_), axis=2)
        # Columns that know their classes, so a fusion reads them by class, however the pipeline is built.
        return ZeroShotColumns((self.logit_scale_ * scores).astype(np.float32), self.classes_)

    def decision_function(self, X):
        return self.transform(X)

    def predict_proba(self, X):
        return softmax(self.transform(X))

    def predict(self, X):
        return self.classes_[np.argmax(self.transform(X), axis=1)]

    def score(self, X, y, sample_weight=None):
        """Accuracy on ``(X, y)``; labels not in ``classes_`` count as errors, with a warning."""
        check_is_fitted(self)
        warn_unseen_labels(
            self, y, "A zero-shot scorer can score any label: include them in classes=[...] and refit."
        )
        return super().score(X, y, sample_weight=sample_weight)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self)
        return np.asarray([str(c) for c in self.classes_], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.target_tags.required = False
        return tags
