"""Shared machinery of the audio estimators: parameter constraints, cached batched encoding."""

from __future__ import annotations

import os
from collections.abc import Callable
from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from .audio import MAX_SAMPLING_RATE, MIN_SAMPLING_RATE, Clip, as_clip_list, check_clips
from .cache import CacheTiers, DiskCache, audio_cache

COMMON_CONSTRAINTS = {
    "sampling_rate": [Interval(Integral, MIN_SAMPLING_RATE, MAX_SAMPLING_RATE, closed="both"), None],
    "device": [str],
    "dtype": [StrOptions({"float32", "float16", "bfloat16", "auto"})],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "revision": [str, None],
    "verbose": ["verbose"],
    "cache_dir": [str, os.PathLike, HasMethods(["cache"]), None],
}


# Prepare the next batch on a thread while the model runs (benchmarks/prefetch.py turns it off).
PREFETCH = True


def prepare_clips(X, sampling_rate) -> list[Clip]:
    clips = as_clip_list(X, sampling_rate)
    check_clips(clips)
    return clips


def cached_encode(
    clips: list[Clip],
    key_prefix: tuple,
    encode_batch: Callable,
    batch_size: int,
    *,
    prepare: Callable[[list[Clip]], object] | None = None,
    order: Callable[[list[Clip]], list[int]] | None = None,
    disk: DiskCache | None = None,
    desc: str = "encoding",
    verbose: int = 0,
) -> list[np.ndarray]:
    """Per-clip results, from the memory or disk cache where present, else encoded batch by batch.

    ``encode_batch`` gets ``prepare(clips)`` of each batch (the clips themselves
    without ``prepare``). ``prepare`` (decoding, resampling, spectrograms) runs
    on a background thread one batch ahead, so it overlaps the model's forward
    pass: at most two batches of decoded audio are alive at a time, never the
    corpus. Duplicate clips (same content) are encoded once. Encoded results go
    to both caches.
    """
    cache = CacheTiers(audio_cache, disk)
    disk_hits_before = disk.hits if disk is not None else 0
    keys = [key_prefix + (c.content_key(),) for c in clips]
    results: list[np.ndarray | None] = []
    todo: dict[tuple, int] = {}
    for i, k in enumerate(keys):
        # A duplicate of a clip still to encode is not looked up again (it would count a miss).
        results.append(None if k in todo else cache.get(k))
        if results[-1] is None and k not in todo:
            todo[k] = i
    pending = list(todo.values())
    if order is not None and pending:
        ranks = order([clips[i] for i in pending])
        pending = [pending[r] for r in ranks]
    batches = [pending[s : s + batch_size] for s in range(0, len(pending), batch_size)]
    progress = None
    if verbose and batches:
        from tqdm.auto import tqdm

        progress = tqdm(total=len(batches), desc=desc, unit="batch")
    for batch, out in zip(batches, _encoded(batches, clips, prepare, encode_batch)):
        for i, value in zip(batch, out):
            cache.put(keys[i], value)
            results[i] = value
        if progress is not None:
            progress.update()
    if progress is not None:
        progress.close()
    for i, (k, r) in enumerate(zip(keys, results)):
        if r is None:
            results[i] = results[todo[k]]
    if verbose:
        from_disk = (disk.hits - disk_hits_before) if disk is not None else 0
        print(
            f"[{desc}] {len(clips)} clips: {len(pending)} encoded, "
            f"{len(clips) - len(pending) - from_disk} reused from memory, {from_disk} from disk"
            + (f" ({disk.directory})" if disk is not None else "")
        )
    return results


def _encoded(batches, clips, prepare, encode_batch):
    """``encode_batch`` of each batch in turn, preparing the next batch on a thread meanwhile."""
    if prepare is None:
        prepare = list
    if len(batches) <= 1 or not PREFETCH:  # nothing to overlap with
        for batch in batches:
            yield encode_batch(prepare([clips[i] for i in batch]))
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="zsfuse-prefetch") as pool:
        ahead = pool.submit(prepare, [clips[i] for i in batches[0]])
        for k in range(len(batches)):
            inputs = ahead.result()  # re-raises a decoding error of this batch here
            if k + 1 < len(batches):
                ahead = pool.submit(prepare, [clips[i] for i in batches[k + 1]])
            yield encode_batch(inputs)
            del inputs
