"""Shared machinery of the audio estimators: parameter constraints, cached batched encoding."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from .audio import (
    MAX_SAMPLING_RATE,
    MIN_SAMPLING_RATE,
    AudioInputError,
    Clip,
    SilentAudioWarning,
    as_clip_list,
    check_clips,
    raise_for_problems,
)
from .cache import CacheTiers, DiskCache, audio_cache, silent_keys
from .progress import note, progress_bar

COMMON_CONSTRAINTS = {
    "sampling_rate": [Interval(Integral, MIN_SAMPLING_RATE, MAX_SAMPLING_RATE, closed="both"), None],
    "device": [str],
    "dtype": [StrOptions({"float32", "float16", "bfloat16", "auto"})],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "revision": [str, None],
    "store_weights_in_pickle": ["boolean"],
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
    load: Callable[[Clip], np.ndarray],
    encode: Callable,
    batch_size: int,
    *,
    prepare: Callable[[Clip, np.ndarray], np.ndarray] | None = None,
    featurize: Callable[[list[np.ndarray]], object] | None = None,
    order: Callable[[list[Clip]], list[int]] | None = None,
    disk: DiskCache | None = None,
    desc: str = "encoding",
    verbose: int = 0,
) -> list[np.ndarray]:
    """Per-clip results, from the memory or disk cache where present, else encoded batch by batch.

    ``load`` decodes a clip (raising :class:`AudioInputError`), ``prepare`` turns
    the decoded waveform into the model's input, ``featurize`` (optional) does
    the CPU part of the model's input pipeline for a whole batch (spectrograms),
    and ``encode`` runs the model. Loading, preparing and featurizing run on a
    background thread one batch ahead, so they overlap the model's forward pass:
    at most two batches of decoded audio are alive at a time, never the corpus.
    Duplicate clips (same content) are encoded once; results go to both caches.

    A clip that fails to decode does not stop the loop: every failure is
    collected and raised together at the end (the good clips are cached by
    then, so the run after the fix only encodes the repaired ones). Clips that
    are digital silence give one :class:`SilentAudioWarning` per call.
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

    def load_batch(batch):  # CPU work, on the prefetch thread
        good, waves, failures = [], [], {}
        for i in batch:
            try:
                wave = load(clips[i])
            except AudioInputError as exc:
                failures[keys[i]] = _reason(exc, clips[i])
                continue
            if not wave.any():
                silent_keys.add(keys[i])
            good.append(i)
            waves.append(wave if prepare is None else prepare(clips[i], wave))
        inputs = featurize(waves) if featurize is not None and waves else waves
        return good, inputs, failures

    progress = progress_bar(len(pending), desc, unit="clip", verbose=verbose)
    failed: dict[tuple, str] = {}  # key -> reason
    for good, inputs, failures in _prefetched(batches, load_batch):
        failed.update(failures)
        if good:
            for i, value in zip(good, encode(inputs)):
                cache.put(keys[i], value)
                results[i] = value
        del inputs
        progress.update(len(good) + len(failures))
    progress.close()
    if failed:  # duplicates of a bad clip are named too
        raise_for_problems(
            [f"{c.describe()}: {failed[k]}" for c, k in zip(clips, keys) if k in failed], len(clips)
        )
    for i, (k, r) in enumerate(zip(keys, results)):
        if r is None:
            results[i] = results[todo[k]]
    silent = [c for c, k in zip(clips, keys) if k in silent_keys]
    if silent:
        shown = ", ".join(c.describe() for c in silent[:20])
        more = f" and {len(silent) - 20} more" if len(silent) > 20 else ""
        warnings.warn(
            f"{desc}: {len(silent)} of {len(clips)} clip(s) are digital silence (every sample is "
            f"0): {shown}{more}. Their outputs carry no information about the speech; check "
            "these recordings.",
            SilentAudioWarning,
            stacklevel=2,
        )
    if verbose:
        from_disk = (disk.hits - disk_hits_before) if disk is not None else 0
        note(  # through the run's display when one is open, so it cannot run into its status line
            f"[{desc}] {len(clips)} clips: {len(pending)} encoded, "
            f"{len(clips) - len(pending) - from_disk} reused from memory, {from_disk} from disk"
            + (f" ({disk.directory})" if disk is not None else "")
        )
    return results


def _reason(exc: AudioInputError, clip: Clip) -> str:
    message = str(exc)
    prefix = f"{clip.describe()}: "
    return (message[len(prefix) :] if message.startswith(prefix) else message).rstrip(".")


def _prefetched(batches, load_batch):
    """``load_batch`` of each batch in turn, the next one computed on a thread meanwhile."""
    if len(batches) <= 1 or not PREFETCH:  # nothing to overlap with
        for batch in batches:
            yield load_batch(batch)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="zsfuse-prefetch") as pool:
        ahead = pool.submit(load_batch, batches[0])
        for k in range(len(batches)):
            loaded = ahead.result()  # re-raises an unexpected error of this batch here
            if k + 1 < len(batches):
                ahead = pool.submit(load_batch, batches[k + 1])
            yield loaded
            del loaded
