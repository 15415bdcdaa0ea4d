"""One encoding run: the stages of :mod:`sklearn_zsfuse.engine` in order, for any adapter."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from ..audio import AudioInputError
from ..reporting.progress import note, progress_bar
from .cache import CacheTiers, DiskCache, EmbeddingCache
from .feed import batches_ahead, feed
from .lookup import item_keys, lookup, store
from .notices import LoadFailure, raise_failures, summary, warn_silent
from .plan import plan_batches
from .replicas import check_replicas, on_replicas
from .workers import input_pool, resolve_workers

__all__ = ["RunSettings", "run"]


@dataclass(frozen=True)
class RunSettings:
    """How to run: batching, input workers, the caches, and what to call the run in messages.

    ``memory`` is the memory tier the results go to (:data:`~.cache.caches`' ``audio``
    or ``text``; None: hold nothing in memory), ``disk`` the on-disk tier or None.
    ``max_batch_seconds`` caps the padded seconds of a batch where the adapter says
    what an item costs. ``workers``: whether the items need the input worker pool at
    all (prompts do not). ``replicas``: further records of the model (other devices,
    :mod:`sklearn_zsfuse.encoders.devices`) that encode batches beside the adapter's own.
    """

    desc: str
    batch_size: int
    memory: EmbeddingCache | None
    disk: DiskCache | None = None
    max_batch_seconds: float | None = None
    n_workers: int | None = None
    verbose: int = 0
    workers: bool = True
    replicas: tuple = ()


def run(items: list, adapter, settings: RunSettings, into=None):
    """Per-item results of ``adapter`` (see :mod:`.adapters`), from the caches where present, else encoded.

    With ``into`` (a callable ``into(index, value)``) each result goes there as soon as
    it is known and no list of them is kept; the run then returns its counts
    (``encoded``, and reused from ``memory``, ``disk``, ``duplicate``).

    A clip that fails to load does not stop the run: every failure is collected
    and raised together at the end (the good clips are cached by then, so the run
    after the fix only encodes the repaired ones). Clips that are digital
    silence give one warning per call.
    """
    tiers = CacheTiers(settings.memory, settings.disk)
    adapters = [adapter, *(adapter.on(record) for record in settings.replicas)]
    check_replicas(adapters, settings.desc)
    n_workers = resolve_workers(settings.n_workers)
    failed: dict[tuple, str] = {}  # key -> why it could not be loaded
    results = [None] * len(items) if into is None else None
    sink = results.__setitem__ if into is None else into
    with contextlib.ExitStack() as stack:
        pool = stack.enter_context(input_pool(n_workers)) if settings.workers else None
        keys = item_keys(items, adapter.key_prefix, adapter.key, pool)
        found = lookup(keys, tiers, adapter.shape, sink, pool)
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

        # one batch more loading per further replica, so that none waits for its next batch
        fed = feed(batches, prepare, pool, batches_ahead(n_workers) + len(adapters) - 1, n_workers)
        if len(adapters) == 1:  # the model's own thread: this one
            for batch, loaded in fed:
                good, inputs = _usable(batch, loaded, keys, failed)
                if good:
                    _store(settings.desc, tiers, found, keys, good, adapter.embed(inputs), sink)
                del loaded, inputs
                progress.update(len(batch))
        else:
            usable = ((batch, *_usable(batch, loaded, keys, failed)) for batch, loaded in fed)
            for batch, good, outputs in on_replicas(adapters, usable):
                if good:
                    _store(settings.desc, tiers, found, keys, good, outputs, sink)
                del outputs
                progress.update(len(batch))
        progress.close()
    raise_failures(items, keys, failed)
    warn_silent(settings.desc, items, keys, found.silent)
    if settings.verbose:
        # through the run's display when one is open, so it cannot run into its status line
        note(summary(settings.desc, len(items), adapter.unit, len(found.pending), found.counts, settings.disk))
    return results if into is None else {"encoded": len(found.pending), **found.counts}


def _usable(batch: list, loaded: list, keys, failed: dict) -> tuple[list, list]:
    """The batch's items that loaded, and their inputs; the others' reasons go to ``failed``."""
    good, inputs = [], []
    for i, x in zip(batch, loaded):
        if isinstance(x, LoadFailure):
            failed[keys[i]] = x.reason
        else:
            good.append(i)
            inputs.append(x)
    return good, inputs


def _store(desc: str, tiers, found, keys, good: list, outputs, sink) -> None:
    if len(outputs) != len(good):
        raise ValueError(f"{desc}: the encoder returned {len(outputs)} results for {len(good)} inputs.")
    store(tiers, found, keys, good, outputs, sink)


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
