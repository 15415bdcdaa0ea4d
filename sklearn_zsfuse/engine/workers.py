"""The input worker pool: threads that decode, resample, tile and window clips.

Threads, not processes: soundfile's decoder and soxr's resampler release the GIL,
so two threads load clips about twice as fast as one on two cores
(benchmarks/feed_rate.py), and no clip has to be pickled to reach a worker.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor


def default_workers() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS and Windows have no sched_getaffinity
        return max(1, os.cpu_count() or 1)


def resolve_workers(n_workers: int | None) -> int:
    return default_workers() if n_workers is None else int(n_workers)


def input_pool(n_workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="zsfuse-input")
