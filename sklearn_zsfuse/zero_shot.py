"""ALMZeroShotScorer: zero-shot emotion scores from a CLAP-family audio-language model."""

from __future__ import annotations

import os
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._batching import COMMON_CONSTRAINTS, cached_encode, prepare_clips
from .audio import decode, fit_to_window, tile
from .cache import CacheTiers, disk_cache, text_cache
from .encoders import get_alm_encoder
from .prompts import DEFAULT_TEMPLATES, build_prompts

__all__ = ["ALMZeroShotScorer", "softmax"]


def softmax(scores: np.ndarray) -> np.ndarray:
    z = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _normalize(v: np.ndarray, axis=-1) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=axis, keepdims=True), 1e-12)


class ALMZeroShotScorer(ClassifierMixin, TransformerMixin, BaseEstimator):
    """Zero-shot speech emotion scores from a dual-encoder audio-language model.

    Each clip is embedded by the model's audio tower and compared with one text
    embedding per class, the prompt ensemble's average of every template filled
    with the class's word(s). ``transform`` returns the scaled cosine
    similarities (logits, one column per class); ``predict_proba`` their softmax.

    Parameters
    ----------
    model : str, default="laion/clap-htsat-unfused"
        A CLAP checkpoint in Hugging Face format: hub id or local directory.
    classes : array-like or None, default=None
        The labels to score. ``None`` learns them from ``y`` in ``fit``.
    class_prompts : dict or None, default=None
        Word(s) standing for each label in the templates, e.g.
        ``{"fearful": ["fearful", "scared"]}``. Labels not given use a built-in
        emotion vocabulary, else the label itself.
    templates : tuple of str, default=DEFAULT_TEMPLATES
        The prompt ensemble; each template has one ``{}`` for the class word.
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
    random_state : int or None, default=None
        Seed of the random crops; required when ``crop="random"``.
    sampling_rate : int or None, default=None
        Rate of waveform arrays in ``X``; files carry their own rate.
    device : str, default="auto"
        "auto" picks CUDA when available, else CPU.
    dtype : {"float32", "float16", "bfloat16", "auto"}, default="float32"
    batch_size : int, default=8
    revision : str or None, default=None
        Hub revision (branch, tag or commit) of ``model``.
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
    """

    _parameter_constraints = {
        "model": [str, os.PathLike],
        "classes": ["array-like", None],
        "class_prompts": [dict, None],
        "templates": [tuple, list, str],
        "audio_repeats": [Interval(Integral, 1, None, closed="left")],
        "text_repeats": [Interval(Integral, 1, None, closed="left")],
        "text_separator": [str],
        "ensemble": [StrOptions({"embedding", "score"})],
        "logit_scale": [Interval(Real, 0, None, closed="neither"), None],
        "crop": [StrOptions({"center", "random"})],
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
        random_state=None,
        sampling_rate=None,
        device="auto",
        dtype="float32",
        batch_size=8,
        revision=None,
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
        self.random_state = random_state
        self.sampling_rate = sampling_rate
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size
        self.revision = revision
        self.verbose = verbose
        self.cache_dir = cache_dir

    def _encoder(self):
        return get_alm_encoder(self.model, revision=self.revision, device=self.device, dtype=self.dtype)

    def _resolve_classes(self, y):
        if self.classes is not None:
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
        self.classes_ = self._resolve_classes(y)
        self.prompts_ = build_prompts(
            self.classes_, self.templates, self.class_prompts, self.text_repeats, self.text_separator
        )
        encoder = self._encoder()
        per_class = [self._encode_texts(encoder, prompts) for prompts in self.prompts_]
        if self.ensemble == "embedding":
            self.text_embeddings_ = np.stack([_normalize(e.mean(axis=0)) for e in per_class])
        else:
            width = max(len(p) for p in self.prompts_)
            # Classes may have different numbers of words; pad with NaN and average with nanmean.
            emb = np.full((len(per_class), width, per_class[0].shape[1]), np.nan, dtype=np.float32)
            for c, e in enumerate(per_class):
                emb[c, : len(e)] = e
            self.text_embeddings_ = emb
        self.logit_scale_ = float(self.logit_scale if self.logit_scale is not None else encoder.logit_scale)
        self.n_features_out_ = len(self.classes_)
        return self

    def _encode_texts(self, encoder, texts):
        cache = CacheTiers(text_cache, disk_cache(self.cache_dir))
        keys = {t: (encoder.fingerprint, "text", t) for t in texts}
        found = {t: cache.get(k) for t, k in keys.items()}
        missing = [t for t, e in found.items() if e is None]
        for start in range(0, len(missing), 64):
            chunk = missing[start : start + 64]
            for t, e in zip(chunk, encoder.encode_text(chunk)):
                cache.put(keys[t], e)
                found[t] = e
        return np.stack([found[t] for t in texts]).astype(np.float32)

    def audio_embeddings(self, X) -> np.ndarray:
        """(n_clips, dim) normalised audio embeddings after amplification and windowing."""
        clips = prepare_clips(X, self.sampling_rate)
        encoder = self._encoder()
        seed = None
        if self.crop == "random":
            if self.random_state is None:
                raise ValueError(
                    "crop='random' needs an integer random_state, so that crops (and cached "
                    "embeddings) are repeatable; or use crop='center'."
                )
            seed = int(self.random_state)
        key = (encoder.fingerprint, "alm", self.audio_repeats, self.crop, seed)

        def prepare(batch):  # CPU work, run on a thread one batch ahead of the model
            waves = []
            for clip in batch:
                wave = tile(decode(clip, encoder.sampling_rate), self.audio_repeats)
                rng = None
                if self.crop == "random":
                    rng = np.random.default_rng([seed, int(clip.content_key()[:8], 16)])
                waves.append(fit_to_window(wave, encoder.window, crop=self.crop, rng=rng))
            return encoder.audio_features(waves)

        out = cached_encode(
            clips,
            key,
            encoder.encode_features,
            self.batch_size,
            prepare=prepare,
            disk=disk_cache(self.cache_dir),
            desc="ALM audio",
            verbose=self.verbose,
        )
        return np.stack(out)

    def transform(self, X):
        """Zero-shot scores (scaled cosine similarities), shape (n_clips, n_classes)."""
        check_is_fitted(self)
        audio = self.audio_embeddings(X)
        if self.ensemble == "embedding":
            scores = audio @ self.text_embeddings_.T
        else:
            scores = np.nanmean(np.einsum("nd,ckd->nck", audio, self.text_embeddings_), axis=2)
        return (self.logit_scale_ * scores).astype(np.float32)

    def decision_function(self, X):
        return self.transform(X)

    def predict_proba(self, X):
        return softmax(self.transform(X))

    def predict(self, X):
        return self.classes_[np.argmax(self.transform(X), axis=1)]

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self)
        return np.asarray([str(c) for c in self.classes_], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.target_tags.required = False
        return tags


def _has_str(values) -> bool:
    return any(isinstance(v, str) for v in values)
