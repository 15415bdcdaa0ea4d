"""An ALM's passes over a corpus for the tables: the single prompt, and the prompt ensemble per (N_a, N_t).

Categories (:func:`~sklearn_zsfuse.evaluation.compute_feature_set`) and dimensions
(:func:`~sklearn_zsfuse.evaluation.attribute_features.compute_attribute_features`)
score the same way; only the scorer differs. Each N_a is one pass over the audio
(N_t only changes the text side, and the audio embeddings come from the cache).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sklearn.base import clone

from .grid import Grid

__all__ = ["zero_shot_passes"]


def zero_shot_passes(scorer, single, paths: Sequence, grid: Grid, templates, log: Callable[[str], None],
                     what: str) -> tuple[np.ndarray, dict]:
    """``(single prompt scores, {(N_a, N_t): ensemble scores})`` of a fitted ``single`` and an unfitted ``scorer``.

    ``what`` names the run in the log lines (``"clap"``, ``"clap: arousal, valence"``).
    """
    log(f"zero-shot {what}: single prompt, N_a = N_t = 1")
    first = single.transform(paths)
    ensemble = {}
    for n_a, n_t in [(1, 1)] + [c for c in grid.amplifications if c != (1, 1)]:
        log(f"zero-shot {what}: prompt ensemble, N_a = {n_a}, N_t = {n_t}")
        est = clone(scorer).set_params(templates=templates, audio_repeats=n_a, text_repeats=n_t)
        ensemble[(n_a, n_t)] = est.fit(paths).transform(paths)
    return first, ensemble
