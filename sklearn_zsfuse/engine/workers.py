"""The input worker pool: threads that decode, resample, tile and window clips.

Threads, not processes: soundfile's decoder and soxr's resampler release the GIL,
so two threads load clips about twice as fast as one on two cores
(benchmarks/feed_rate.py), and no clip has to be pickled to reach a worker.
"""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor


def default_workers() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS and Windows have no sched_getaffinity
        return max(1, os.cpu_count() or 1)


def resolve_workers(n_workers: int | None) -> int:
    return default_workers() if n_workers is None else int(n_workers)


# How much lower the workers' priority is than the caller's (Linux nice steps: at +10
# a worker gets about a tenth of a core the model's thread also wants).
WORKER_NICENESS = 10


def input_pool(n_workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="zsfuse-input", initializer=_yield_to_model)


def _yield_to_model() -> None:
    """Run this worker below the caller's priority, so the model's thread keeps its core.

    On a CPU model, the forward pass on the caller's thread is the slowest stage; at
    equal priority, two workers and it share two cores and it loses a third of its
    own. Lower, the workers take what the model leaves (all of it while it waits
    for a batch, as on a GPU). Linux gives each thread its own priority; elsewhere
    the call would apply to the whole process, so it is not made there. Only this
    pool's threads change, and they end with the run.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + WORKER_NICENESS)
    except OSError:  # a sandbox that forbids it: the workers run at the caller's priority
        pass
