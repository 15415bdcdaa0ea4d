"""One encoding run: the stages of :mod:`sklearn_zsfuse.engine` in order, for any adapter."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from ..audio import AudioInputError
from ..reporting.progress import note, progress_bar
from .cache import CacheTiers, DiskCache, EmbeddingCache
from .feed import batches_ahead, feed
from .lookup import fill_duplicates, item_keys, lookup, store
from .notices import LoadFailure, raise_failures, summary, warn_silent
from .plan import plan_batches
from .workers import input_pool, resolve_workers

__all__ = ["RunSettings", "run"]


@dataclass(frozen=True)
class RunSettings:
    """How to run: batching, input workers, the caches, and what to call the run in messages.

    ``memory`` is the memory tier the results go to (:data:`~.cache.caches`' ``audio``
    or ``text``), ``disk`` the on-disk tier or None. ``max_batch_seconds`` caps the
    padded seconds of a batch where the adapter says what an item costs. ``workers``:
    whether the items need the input worker pool at all (prompts do not).
    """

    desc: str
    batch_size: int
    memory: EmbeddingCache
    disk: DiskCache | None = None
    max_batch_seconds: float | None = None
    n_workers: int | None = None
    verbose: int = 0
    workers: bool = True


def run(items: list, adapter, settings: RunSettings) -> list[np.ndarray]:
    """Per-item results of ``adapter`` (see :mod:`.adapters`), from the caches where present, else encoded.

    A clip that fails to load does not stop the run: every failure is collected
    and raised together at the end (the good clips are cached by then, so the run
    after the fix only encodes the repaired ones). Clips that are digital
    silence give one warning per call.
    """
    tiers = CacheTiers(settings.memory, settings.disk)
    n_workers = resolve_workers(settings.n_workers)
    failed: dict[tuple, str] = {}  # key -> why it could not be loaded
    with contextlib.ExitStack() as stack:
        pool = stack.enter_context(input_pool(n_workers)) if settings.workers else None
        keys = item_keys(items, adapter.key_prefix, adapter.key, pool)
        found = lookup(keys, tiers, adapter.shape)
        seconds = _seconds(items, found.pending, adapter, pool)
        batches = plan_batches(found.pending, settings.batch_size, seconds, settings.max_batch_seconds)
        progress = progress_bar(len(found.pending), settings.desc, unit=adapter.unit, verbose=settings.verbose)

        def prepare(i):  # on an input worker
            try:
                prepared, silent = adapter.prepare(items[i])
            except AudioInputError as exc:
                return LoadFailure(exc, items[i])
            if silent:
                found.silent.add(keys[i])
            return prepared

        for batch, loaded in feed(batches, prepare, pool, batches_ahead(n_workers), n_workers):
            good = [i for i, x in zip(batch, loaded) if not isinstance(x, LoadFailure)]
            failed.update((keys[i], x.reason) for i, x in zip(batch, loaded) if isinstance(x, LoadFailure))
            if good:
                outputs = adapter.embed([x for x in loaded if not isinstance(x, LoadFailure)])
                if len(outputs) != len(good):
                    raise ValueError(f"{settings.desc}: the encoder returned {len(outputs)} results for "
                                     f"{len(good)} inputs.")
                store(tiers, found, keys, good, outputs)
            del loaded
            progress.update(len(batch))
        progress.close()
    raise_failures(items, keys, failed)
    results = fill_duplicates(found, keys)
    warn_silent(settings.desc, items, keys, found.silent)
    if settings.verbose:
        # through the run's display when one is open, so it cannot run into its status line
        note(summary(settings.desc, len(items), adapter.unit, len(found.pending), found.counts, settings.disk))
    return results


def _seconds(items, pending, adapter, pool) -> list[float] | None:
    """What each pending item costs the model, or None where the adapter batches in input order."""
    if not pending or adapter.seconds(items[pending[0]]) is None:
        return None
    costs = list(pool.map(lambda i: adapter.seconds(items[i]), pending)) if pool is not None else [
        adapter.seconds(items[i]) for i in pending
    ]
    out = [0.0] * len(items)
    for i, s in zip(pending, costs):
        out[i] = s
    return out
