"""One encoding run: the stages of :mod:`sklearn_zsfuse.engine` in order."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..audio import AudioInputError, Clip
from ..reporting.progress import note, progress_bar
from .cache import CacheTiers, DiskCache, EmbeddingCache, silent_keys
from .feed import batches_ahead, feed
from .lookup import fill_duplicates, item_keys, lookup, store
from .notices import LoadFailure, raise_failures, summary, warn_silent
from .plan import plan_batches
from .workers import input_pool, resolve_workers


def _content_key(clip: Clip) -> str:
    return clip.content_key()


@dataclass
class Job:
    """What to encode and how; :func:`run` does the rest.

    ``load(item)`` (on the input workers) turns an item into the model's input
    (decode, resample, tile, window), raising :class:`AudioInputError` for a bad
    clip; ``None`` passes items as they are (texts). ``forward(inputs)`` (on the
    caller's thread) featurizes and runs the model on one batch, returning one
    result per input. ``seconds(item)``, where given, is what the item costs the
    model: batches are then sorted longest first and capped at
    ``max_batch_seconds`` padded seconds. ``shape``, where known, is each
    result's shape: a disk entry of another shape is corrupt, not a result.
    ``featurize(wave)``, where given, turns a loaded item into the model's input
    on the input workers too (spectrograms when the model runs on the host CPU),
    after the silence check has seen the waveform.
    """

    desc: str
    key_prefix: tuple
    forward: Callable[[list], Sequence[np.ndarray]]
    memory: EmbeddingCache
    batch_size: int
    load: Callable | None = None
    key: Callable = _content_key
    seconds: Callable | None = None
    max_batch_seconds: float | None = None
    shape: tuple | None = None
    featurize: Callable | None = None
    disk: DiskCache | None = None
    n_workers: int | None = None
    verbose: int = 0
    unit: str = "clips"


def run(items: list, job: Job) -> list[np.ndarray]:
    """Per-item results, from the memory or disk cache where present, else encoded batch by batch.

    A clip that fails to load does not stop the run: every failure is collected
    and raised together at the end (the good clips are cached by then, so the run
    after the fix only encodes the repaired ones). Clips that are digital
    silence give one warning per call.
    """
    tiers = CacheTiers(job.memory, job.disk)
    n_workers = resolve_workers(job.n_workers)
    failed: dict[tuple, str] = {}  # key -> why it could not be loaded
    with contextlib.ExitStack() as stack:
        pool = stack.enter_context(input_pool(n_workers)) if job.load is not None else None
        keys = item_keys(items, job.key_prefix, job.key, pool)
        found = lookup(keys, tiers, job.shape)
        seconds = _seconds(items, found.pending, job.seconds, pool)
        batches = plan_batches(found.pending, job.batch_size, seconds, job.max_batch_seconds)
        progress = progress_bar(len(found.pending), job.desc, unit=job.unit, verbose=job.verbose)
        load_one = _loader(job, items, keys)
        for batch, loaded in feed(batches, load_one, pool, batches_ahead(n_workers), n_workers):
            _encode_batch(job, tiers, found, keys, batch, loaded, failed)
            del loaded
            progress.update(len(batch))
        progress.close()
    raise_failures(items, keys, failed)
    results = fill_duplicates(found, keys)
    if job.load is not None:
        warn_silent(job.desc, items, keys, silent_keys)
    if job.verbose:
        # through the run's display when one is open, so it cannot run into its status line
        note(summary(job.desc, len(items), job.unit, len(found.pending), found.counts, job.disk))
    return results


def _loader(job: Job, items, keys) -> Callable:
    """The load stage of one item, as the input workers run it."""

    def load_one(i):
        if job.load is None:
            return items[i]
        try:
            wave = job.load(items[i])
        except AudioInputError as exc:
            return LoadFailure(exc, items[i])
        if not wave.any():
            silent_keys.add(keys[i])
        return wave if job.featurize is None else job.featurize(wave)

    return load_one


def _encode_batch(job: Job, tiers, found, keys, batch, loaded, failed) -> None:
    """Forward (featurize + model, on this thread) and store one loaded batch; note its failures."""
    good = [i for i, x in zip(batch, loaded) if not isinstance(x, LoadFailure)]
    failed.update((keys[i], x.reason) for i, x in zip(batch, loaded) if isinstance(x, LoadFailure))
    if not good:
        return
    outputs = job.forward([x for x in loaded if not isinstance(x, LoadFailure)])
    if len(outputs) != len(good):
        raise ValueError(f"{job.desc}: the encoder returned {len(outputs)} results for {len(good)} inputs.")
    store(tiers, found, keys, good, outputs)


def _seconds(items, pending, seconds, pool) -> list[float] | None:
    if seconds is None or not pending:
        return None
    costs = list(pool.map(lambda i: seconds(items[i]), pending)) if pool is not None else [seconds(items[i]) for i in pending]
    out = [0.0] * len(items)
    for i, s in zip(pending, costs):
        out[i] = s
    return out
