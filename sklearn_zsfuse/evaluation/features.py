"""Running the frozen models once over a corpus: the arrays the protocol learns and selects from.

Nothing here sees a label (the models are frozen and zero-shot), so computing
the features on all clips leaks nothing; audio is encoded once per N_a thanks
to the embedding cache.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone

from ..prompts import DEFAULT_TEMPLATES, SINGLE_TEMPLATE
from .grid import Grid

__all__ = ["Features", "compute_features"]


@dataclass
class Features:
    """Model outputs on every clip: what the protocol learns and selects from."""

    embeddings: np.ndarray | None  # (n, D) specialist embedding, or None without a specialist
    zero_shot: np.ndarray | None  # (n, C) logits, single template, N_a = N_t = 1
    ensemble: dict = field(default_factory=dict)  # (N_a, N_t) -> (n, C) logits of the ensemble


def compute_features(
    paths: Sequence[str],
    classes: Sequence,
    *,
    alm=None,
    fm=None,
    grid: Grid = Grid(),
    templates=DEFAULT_TEMPLATES,
    single_template=SINGLE_TEMPLATE,
    class_prompts=None,
    device="auto",
    batch_size=8,
    verbose=0,
    estimator_params=None,
    concurrent=True,
    log: Callable[[str], None] | None = None,
) -> Features:
    """Run the frozen models once over ``paths`` (no labels are used).

    ``estimator_params`` are passed to both estimators (e.g. ``{"cache_dir": ...}``
    where the installed version has a disk cache). With ``concurrent=True`` the
    specialist runs on a second thread while the ALM encodes.
    """
    from ..embedding import FMEmbedder
    from ..zero_shot import ALMZeroShotScorer

    if alm is None and fm is None:
        raise ValueError("Nothing to evaluate: give an audio-language model (alm), a specialist (fm), or both.")
    log = log or (lambda message: None)
    common = dict(device=device, batch_size=batch_size, verbose=verbose, **(estimator_params or {}))
    embeddings = zero_shot = None
    ensemble = {}
    # Fit both first: a bad model id or a missing file fails here, before any long run.
    embedder = FMEmbedder(fm, **common).fit(paths) if fm is not None else None
    scorer = None
    if alm is not None:
        scorer = ALMZeroShotScorer(alm, classes=list(classes), class_prompts=class_prompts, **common)
        single = clone(scorer).set_params(templates=single_template).fit(paths)

    def embed():
        log(f"specialist {fm}: embedding {len(paths)} clips")
        return embedder.transform(paths)

    pending = None
    if embedder is not None and scorer is not None and concurrent:
        # The branches are independent: the specialist runs on a second thread while the
        # ALM encodes (on CPU, the mel front end and openSMILE are single-threaded).
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zsfuse-fm")
        pending = pool.submit(embed)
        pool.shutdown(wait=False)
    elif embedder is not None:
        embeddings = embed()
    if scorer is not None:
        log(f"zero-shot {alm}: single prompt, N_a = N_t = 1")
        zero_shot = single.transform(paths)
        configs = [(1, 1)] + [c for c in grid.amplifications if c != (1, 1)]
        for n_a, n_t in configs:
            log(f"zero-shot {alm}: prompt ensemble, N_a = {n_a}, N_t = {n_t}")
            est = clone(scorer).set_params(templates=templates, audio_repeats=n_a, text_repeats=n_t)
            ensemble[(n_a, n_t)] = est.fit(paths).transform(paths)
    if pending is not None:
        embeddings = pending.result()
    return Features(embeddings=embeddings, zero_shot=zero_shot, ensemble=ensemble)
