"""ALMZeroShotScorer: zero-shot emotion scores from a CLAP-family audio-language model."""

from __future__ import annotations

import os

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import check_is_fitted

from .. import engine
from ..arrays import softmax
from ..audio import prepare_clips
from ..engine.adapters import alm_probe
from .alm_prompting import PROMPT_AUDIO_CONSTRAINTS, ALMPromptMixin
from .label_checks import scored_classes, warn_unseen_labels
from .params import DEFAULT_MAX_BATCH_SECONDS
from .persistence import weights_id
from .prompts import (
    DEFAULT_TEMPLATES,
    build_prompts,
    check_class_prompts,
    check_classes_differ,
    prompt_table,
    warn_same_wording,
    warn_unused_class_prompts,
)
from .zero_shot_columns import ZeroShotColumns

__all__ = ["ALMZeroShotScorer"]


class ALMZeroShotScorer(ALMPromptMixin, ClassifierMixin, TransformerMixin, BaseEstimator):
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

    Examples
    --------
    A tiny CLAP with random weights stands for a real one (``"laion/clap-htsat-unfused"``):

    >>> import tempfile
    >>> import numpy as np
    >>> from sklearn_zsfuse import ALMZeroShotScorer
    >>> from sklearn_zsfuse.testing import make_tiny_clap
    >>> tmp = tempfile.TemporaryDirectory()
    >>> clap = make_tiny_clap(tmp.name)
    >>> waves = [0.1 * np.random.default_rng(i).standard_normal(16000).astype(np.float32) for i in range(3)]
    >>> scorer = ALMZeroShotScorer(clap, classes=["angry", "happy", "sad"], sampling_rate=16000, device="cpu")
    >>> scorer.fit().transform(waves).shape
    (3, 3)
    >>> bool(np.allclose(scorer.predict_proba(waves).sum(axis=1), 1.0))
    True
    >>> tmp.cleanup()
    """

    _parameter_constraints = {
        "model": [str, os.PathLike, HasMethods(["load"])],
        "classes": ["array-like", None],
        "class_prompts": [dict, None],
        **PROMPT_AUDIO_CONSTRAINTS,
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

    _prompts_are = "class prompt embeddings"

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
        self.classes_ = scored_classes(self.classes, y)
        self.prompts_ = build_prompts(
            self.classes_, self.templates, self.class_prompts, self.text_repeats, self.text_separator
        )
        record = self._record()
        # once per model and process, not once per clone of a grid search
        warn_unused_class_prompts(self.class_prompts, self.classes_, stacklevel=3, warn=record.warn_once)
        warn_same_wording(self.classes_.tolist(), self.class_prompts, stacklevel=3, warn=record.warn_once)
        self._check_weights_can_travel(record)  # before anything is saved
        long_prompts = self._warn_long_prompts(record, prompt_table(
            self.classes_, self.templates, self.class_prompts, self.text_repeats, self.text_separator))
        self.text_embeddings_ = self._text_embeddings(record)
        check_classes_differ(self.text_embeddings_, self.classes_, long_prompts)
        self.logit_scale_ = float(self.logit_scale if self.logit_scale is not None else record.encoder.logit_scale)
        self.weights_id_ = weights_id(record.encoder)
        self.probe_embedding_ = alm_probe(record).copy()
        self.n_features_out_ = len(self.classes_)
        return self

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
        scores = self._similarities(audio)
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
