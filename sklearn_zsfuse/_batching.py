"""Shared machinery of the audio estimators: parameter constraints, cached batched encoding."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

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
from .cache import audio_cache, silent_keys

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
    load: Callable[[Clip], np.ndarray],
    encode: Callable[[list[np.ndarray]], np.ndarray],
    batch_size: int,
    *,
    prepare: Callable[[Clip, np.ndarray], np.ndarray] | None = None,
    order: Callable[[list[Clip]], list[int]] | None = None,
    desc: str = "encoding",
    verbose: int = 0,
) -> list[np.ndarray]:
    """Per-clip results, from the cache where present, else encoded batch by batch.

    ``load`` decodes a clip (raising :class:`AudioInputError`), ``prepare`` turns
    the decoded waveform into the model's input, ``encode`` runs the model on a
    batch. Only one batch of decoded audio is alive at a time. Duplicate clips
    (same content) are encoded once.

    A clip that fails to decode does not stop the loop: every failure is
    collected and raised together at the end (the good clips are cached by
    then, so the run after the fix only encodes the repaired ones). Clips that
    are digital silence give one :class:`SilentAudioWarning` per call.
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
    failed: dict[tuple, str] = {}  # key -> reason
    for batch in batches:
        good, waves = [], []
        for i in batch:
            try:
                wave = load(clips[i])
            except AudioInputError as exc:
                failed[keys[i]] = _reason(exc, clips[i])
                continue
            if not wave.any():
                silent_keys.add(keys[i])
            good.append(i)
            waves.append(wave if prepare is None else prepare(clips[i], wave))
        if not good:
            continue
        for i, value in zip(good, encode(waves)):
            audio_cache.put(keys[i], value)
            results[i] = value
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
    return results


def _reason(exc: AudioInputError, clip: Clip) -> str:
    message = str(exc)
    prefix = f"{clip.describe()}: "
    return (message[len(prefix) :] if message.startswith(prefix) else message).rstrip(".")
