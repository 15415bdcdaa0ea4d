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


def prepare_clips(X, sampling_rate) -> list[Clip]:
    clips = as_clip_list(X, sampling_rate)
    check_clips(clips)
    return clips


def cached_encode(
    clips: list[Clip],
    key_prefix: tuple,
    encode_batch: Callable[[list[Clip]], np.ndarray],
    batch_size: int,
    *,
    order: Callable[[list[Clip]], list[int]] | None = None,
    disk: DiskCache | None = None,
    desc: str = "encoding",
    verbose: int = 0,
) -> list[np.ndarray]:
    """Per-clip results, from the memory or disk cache where present, else encoded batch by batch.

    Only one batch of decoded audio is alive at a time. Duplicate clips (same
    content) are encoded once. Encoded results go to both caches.
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
    if verbose and batches:
        from tqdm.auto import tqdm

        batches = tqdm(batches, desc=desc, unit="batch")
    for batch in batches:
        out = encode_batch([clips[i] for i in batch])
        for i, value in zip(batch, out):
            cache.put(keys[i], value)
            results[i] = value
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
