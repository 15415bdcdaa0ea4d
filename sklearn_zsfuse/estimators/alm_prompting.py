"""What the two zero-shot estimators share: prompts encoded once, clips through the audio tower.

:class:`~sklearn_zsfuse.ALMZeroShotScorer` (one prompt group per class) and
:class:`~sklearn_zsfuse.ALMAttributeScorer` (one per pole of each dimension) both
turn groups of prompts into text embeddings (the prompt ensemble: every template
x every word, amplified N_t times), run clips through the audio tower (amplified
N_a times, windowed) and compare the two by cosine similarity. Both encode
through the same adapters and caches, so the two estimators on the same model,
N_a and clips encode the audio once.
"""

from __future__ import annotations

from numbers import Integral, Real
from types import MappingProxyType

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from .. import engine
from ..arrays import l2_normalize
from ..audio import prepare_clips
from ..engine.adapters import ALMAudio, PromptText, alm_probe
from ..engine.cache import caches, disk_cache
from .params import COMMON_CONSTRAINTS
from .persistence import AudioModelMixin, check_same_behaviour, weights_id
from .prompts import warn_long_prompts

__all__ = ["PROMPT_AUDIO_CONSTRAINTS", "ALMPromptMixin"]

# The parameters of prompts and audio both scorers take (each adds its own labels' parameters).
PROMPT_AUDIO_CONSTRAINTS = MappingProxyType({
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
})


class ALMPromptMixin(AudioModelMixin):
    """Prompt groups to text embeddings, clips to audio embeddings, and their similarities.

    The estimator sets ``prompts_`` (a list of prompt lists, one per group) in
    ``fit`` and keeps ``text_embeddings_`` from :meth:`_text_embeddings`.
    ``_prompts_are`` names the groups' prompts in a mismatch error.
    """

    _kind = "alm"
    _prompts_are = "prompt embeddings"

    def _encoder(self):
        return self._record().encoder

    def _warn_long_prompts(self, record, table) -> dict:
        """Warn about prompts the text tower cuts; returns {"limit", "longest": {template: ...}}.

        ``table`` is :func:`~.prompts.prompt_table`'s output for the groups.
        """
        limit = record.abilities.max_text_tokens
        if limit is None:
            return {}
        counts = [record.encoder.count_tokens([prompt for _, _, prompt in rows]) for rows in table]
        longest = warn_long_prompts(table, counts, limit, self.text_repeats, stacklevel=4, warn=record.warn_once)
        return {"limit": limit, "longest": longest}

    def _text_embeddings(self, record):
        """(n_groups, dim) ensemble embeddings, or (n_groups, n_prompts, dim) with ``ensemble="score"``."""
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
        per_group = np.split(encoded, ends[:-1])
        if self.ensemble == "embedding":
            return np.stack([l2_normalize(e.mean(axis=0)) for e in per_group])
        width = max(len(p) for p in self.prompts_)
        # Groups may have different numbers of words; pad with NaN and average with nanmean.
        emb = np.full((len(per_group), width, per_group[0].shape[1]), np.nan, dtype=np.float32)
        for c, e in enumerate(per_group):
            emb[c, : len(e)] = e
        return emb

    def _similarities(self, audio) -> np.ndarray:
        """(n_clips, n_groups) cosine similarities of normalised audio embeddings with each group's prompts."""
        if self.ensemble == "embedding":
            return audio @ self.text_embeddings_.T
        return np.nanmean(np.einsum("nd,ckd->nck", audio, self.text_embeddings_), axis=2)

    def _check_model(self, record):
        """Fail loudly if ``model`` now names other weights than at fit (moved dirs are fine)."""
        fitted = getattr(self, "weights_id_", None)  # None: pickled by an older version
        if fitted is None or fitted == weights_id(record.encoder):
            return
        reference = np.nan_to_num(self.text_embeddings_)  # NaN pads of ensemble="score"
        current = np.nan_to_num(self._text_embeddings(record))
        check_same_behaviour(self, self._prompts_are, reference, current)
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
