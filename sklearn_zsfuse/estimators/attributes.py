"""ALMAttributeScorer: zero-shot arousal, valence and dominance from a CLAP-family audio-language model."""

from __future__ import annotations

import math
import os

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import check_is_fitted

from .. import engine
from ..arrays import softmax
from ..audio import prepare_clips
from ..engine.adapters import alm_probe
from .alm_prompting import PROMPT_AUDIO_CONSTRAINTS, ALMPromptMixin
from .attribute_prompts import POSITIONS, attribute_prompt_table, check_pole_prompts, pole_groups
from .params import DEFAULT_MAX_BATCH_SECONDS
from .persistence import weights_id
from .prompts import DEFAULT_TEMPLATES
from .zero_shot_columns import ZeroShotColumns

__all__ = ["DEFAULT_DIMENSIONS", "ALMAttributeScorer"]

DEFAULT_DIMENSIONS = ("arousal", "valence", "dominance")


class ALMAttributeScorer(ALMPromptMixin, RegressorMixin, TransformerMixin, BaseEstimator):
    """Zero-shot scores of continuous emotion attributes (arousal, valence, dominance) from an audio-language model.

    Each dimension is scored from prompts for its poles: every template filled
    with each pole's words (:data:`~sklearn_zsfuse.estimators.attribute_prompts.POLE_WORDS`,
    e.g. "a calm voice." / "an excited voice." for arousal), averaged into one text
    embedding per pole (the prompt ensemble), amplified as for categories. A clip's
    scaled cosine similarity to each pole of a dimension, softmaxed over that
    dimension's poles, gives the pole probabilities ``p``; its score is their
    expected position on the dimension::

        score = sum_k p_k * position_k,   position = 0 (low), 0.5 (middle), 1 (high)

    in [0, 1]; with two poles ``score = sigmoid(logit_scale * (cos_high - cos_low))``.
    ``transform`` returns the scores, one column per dimension (columns that carry
    their dimension names to :class:`~sklearn_zsfuse.LateFusionRegressor`);
    ``predict`` maps them linearly onto ``scale`` (no learning: ``low + score *
    (high - low)``).

    Parameters
    ----------
    model : str, path or spec, default="laion/clap-htsat-unfused"
        The audio-language model, as :class:`~sklearn_zsfuse.ALMZeroShotScorer` takes it.
    dimensions : str or sequence of str, default=("arousal", "valence", "dominance")
        The attributes to score, in column order. One name (a str) makes
        ``predict`` return a 1-D array, as a single-target regressor.
    pole_prompts : dict or None, default=None
        Words for the poles, ``{dimension: {"low": words, "high": words, "middle":
        words}}``, replacing the built-in ones pole by pole; a dimension without
        built-in words needs its ``"low"`` and ``"high"`` (and ``"middle"`` with
        ``middle=True``).
    middle : bool, default=False
        Also prompt for a middle pole (position 0.5).
    scale : tuple, dict or None, default=None
        What ``predict`` maps the scores onto: ``(low, high)`` for every dimension,
        ``{dimension: (low, high)}`` per dimension (e.g. ``(1, 7)`` for MSP-Podcast's
        ratings), or None for the scores themselves ([0, 1]).
    templates, audio_repeats, text_repeats, text_separator, ensemble, logit_scale, crop, max_duration, \
random_state, sampling_rate, device, dtype, batch_size, max_batch_seconds, n_workers, revision, \
store_weights_in_pickle, verbose, cache_dir :
        As in :class:`~sklearn_zsfuse.ALMZeroShotScorer` (the prompt ensemble and its
        templates, N_a, N_t, the window, the device and the caches). With the same
        model, ``audio_repeats``, ``crop`` and clips, the two scorers share the audio
        embeddings: the audio is encoded once.

    Attributes
    ----------
    dimensions_ : tuple of str
    poles_ : tuple of str
        The poles prompted for each dimension (``("low", "high")``, or with ``"middle"``).
    prompts_ : list of list of str
        The (amplified) prompts of each (dimension, pole), dimensions in order, poles low to high.
    text_embeddings_ : ndarray
        One normalised embedding per (dimension, pole), or per prompt with ``ensemble="score"``.
    scales_ : dict
        ``{dimension: (low, high)}`` that ``predict`` maps onto.
    logit_scale_, weights_id_, probe_embedding_ :
        As in :class:`~sklearn_zsfuse.ALMZeroShotScorer`.

    Notes
    -----
    ``score`` is scikit-learn's R² of ``predict``; the attribute track scores by
    CCC: pass ``scoring=regression_scorers()["ccc"]``
    (:func:`sklearn_zsfuse.evaluation.regression_metrics.regression_scorers`) to a search.
    """

    _parameter_constraints = {
        "model": [str, os.PathLike, HasMethods(["load"])],
        "dimensions": [str, tuple, list],
        "pole_prompts": [dict, None],
        "middle": ["boolean"],
        "scale": [tuple, list, dict, None],
        **PROMPT_AUDIO_CONSTRAINTS,
    }
    _prompts_are = "pole prompt embeddings"

    def __init__(
        self,
        model="laion/clap-htsat-unfused",
        *,
        dimensions=DEFAULT_DIMENSIONS,
        pole_prompts=None,
        middle=False,
        scale=None,
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
        self.dimensions = dimensions
        self.pole_prompts = pole_prompts
        self.middle = middle
        self.scale = scale
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

    def _dimensions(self) -> tuple:
        dims = (self.dimensions,) if isinstance(self.dimensions, str) else tuple(self.dimensions)
        if not dims or any(not isinstance(d, str) or not d.strip() for d in dims):
            raise ValueError(f"dimensions must be one or more non-empty names, got {self.dimensions!r}.")
        if len(set(dims)) != len(dims):
            raise ValueError(f"dimensions names a dimension twice: {list(dims)}.")
        return dims

    def _scales(self, dims) -> dict:
        scale = self.scale
        if scale is None:
            return {d: (0.0, 1.0) for d in dims}
        if isinstance(scale, dict):
            missing, extra = sorted(set(dims) - set(scale)), sorted(set(scale) - set(dims), key=str)
            if missing or extra:
                raise ValueError(f"scale must give (low, high) for exactly the dimensions {list(dims)}; "
                                 f"missing {missing}, not scored {extra}.")
            return {d: _low_high(scale[d], f"scale[{d!r}]") for d in dims}
        pair = _low_high(scale, "scale")
        return {d: pair for d in dims}

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X=None, y=None):
        """Encode the pole prompts once. Zero-shot: ``X`` and ``y`` are only checked, never learned from."""
        if X is not None:
            n_clips = len(prepare_clips(X, self.sampling_rate))  # a bad corpus fails before a model loads
            if y is not None and n_clips != len(y):
                raise ValueError(f"X has {n_clips} clips but y has {len(y)} targets.")
        self._crop_seed()
        dims = self._dimensions()
        check_pole_prompts(self.pole_prompts, dims, self.middle, stacklevel=3)
        self.scales_ = self._scales(dims)
        self.dimensions_ = dims
        self.poles_ = tuple(p for d, p in pole_groups(dims[:1], self.middle))
        table = attribute_prompt_table(dims, self.middle, self.templates, self.pole_prompts, self.text_repeats,
                                       self.text_separator)
        self.prompts_ = [[prompt for _, _, prompt in rows] for rows in table]
        record = self._record()
        self._check_weights_can_travel(record)
        long_prompts = self._warn_long_prompts(record, table)
        self.text_embeddings_ = self._text_embeddings(record)
        self._check_poles_differ(long_prompts)
        self.logit_scale_ = float(self.logit_scale if self.logit_scale is not None else record.encoder.logit_scale)
        self.weights_id_ = weights_id(record.encoder)
        self.probe_embedding_ = alm_probe(record).copy()
        self.n_features_out_ = len(dims)
        return self

    def _check_poles_differ(self, long_prompts: dict) -> None:
        """The poles of a dimension with one text embedding give every clip the same score: an error."""
        k = len(self.poles_)
        emb = np.nan_to_num(self.text_embeddings_).reshape(len(self.prompts_), -1)
        for i, dim in enumerate(self.dimensions_):
            poles = emb[i * k:(i + 1) * k]
            if np.allclose(poles, poles[0], rtol=0, atol=1e-5):
                cause = (f"the text model reads at most {long_prompts['limit']} tokens and the prompts are longer, "
                         "so the pole words are cut off" if long_prompts.get("longest")
                         else "the text model reads its poles' prompts as the same text")
                raise ValueError(f"ALMAttributeScorer: the poles {list(self.poles_)} of {dim!r} have the same text "
                                 f"embedding, so every clip would score the same: {cause}. Give the poles distinct "
                                 "words in pole_prompts, or shorter templates.")

    def transform(self, X):
        """Zero-shot scores in [0, 1], shape (n_clips, n_dimensions): the expected pole position.

        A :class:`~sklearn_zsfuse.estimators.zero_shot_columns.ZeroShotColumns` that
        records ``dimensions_`` as its columns' names, for :class:`LateFusionRegressor`.
        """
        check_is_fitted(self)
        clips = prepare_clips(X, self.sampling_rate)  # bad input fails before a model loads
        record = self._record()
        self._check_model(record)
        audio = np.stack(engine.run(clips, self._audio(record), self._settings()))
        logits = self.logit_scale_ * self._similarities(audio).astype(np.float64)
        positions = np.asarray([POSITIONS[p] for p in self.poles_])
        k = len(self.poles_)
        scores = np.column_stack([softmax(logits[:, i * k:(i + 1) * k]) @ positions
                                  for i in range(len(self.dimensions_))])
        return ZeroShotColumns(scores, self.dimensions_)

    def predict(self, X):
        """The scores mapped onto ``scale``: ``low + score * (high - low)`` per dimension.

        1-D when ``dimensions`` is one name (a str), else (n_clips, n_dimensions).
        """
        scores = np.asarray(self.transform(X), dtype=np.float64)
        low = np.asarray([self.scales_[d][0] for d in self.dimensions_])
        high = np.asarray([self.scales_[d][1] for d in self.dimensions_])
        mapped = low + scores * (high - low)
        return mapped[:, 0] if isinstance(self.dimensions, str) else mapped

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self)
        return np.asarray(self.dimensions_, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.target_tags.required = False
        return tags


def _low_high(value, name) -> tuple:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be (low, high), got {value!r}.") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"{name} must be finite with low < high, got {value!r}.")
    return (low, high)
