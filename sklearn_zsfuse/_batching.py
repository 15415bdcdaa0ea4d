"""Shared machinery of the audio estimators: parameter constraints, cached batched encoding."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions
from numbers import Integral

from .audio import MAX_SAMPLING_RATE, MIN_SAMPLING_RATE, Clip, as_clip_list, check_clips
from .cache import audio_cache

COMMON_CONSTRAINTS = {
    "sampling_rate": [Interval(Integral, MIN_SAMPLING_RATE, MAX_SAMPLING_RATE, closed="both"), None],
    "device": [str],
    "dtype": [StrOptions({"float32", "float16", "bfloat16", "auto"})],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "revision": [str, None],
    "store_weights_in_pickle": ["boolean"],
    "verbose": ["verbose"],
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
    desc: str = "encoding",
    verbose: int = 0,
) -> list[np.ndarray]:
    """Per-clip results, from the cache where present, else encoded batch by batch.

    Only one batch of decoded audio is alive at a time. Duplicate clips (same
    content) are encoded once.
    """
    keys = [key_prefix + (c.content_key(),) for c in clips]
    results: list[np.ndarray | None] = [audio_cache.get(k) for k in keys]
    todo: dict[tuple, int] = {}
    for i, (k, r) in enumerate(zip(keys, results)):
        if r is None and k not in todo:
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
            audio_cache.put(keys[i], value)
            results[i] = value
    for i, (k, r) in enumerate(zip(keys, results)):
        if r is None:
            results[i] = results[todo[k]]
    return results
