"""The load stage: input workers prepare batches ahead of the model, in order, with bounded memory."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator


def batches_ahead(n_workers: int) -> int:
    """Batches loading while the model encodes one: one for a single worker (it never
    idles), two for a pool (its workers do not wait for a batch's last clip)."""
    return 1 if n_workers <= 1 else 2


def feed(batches: list[list[int]], load_one: Callable, pool=None, ahead: int = 1) -> Iterator[tuple[list[int], list]]:
    """``(batch, [load_one(i) for i in batch])`` for each batch in turn.

    With a ``pool``, every item is loaded on it and the next ``ahead`` batches are
    loading while the caller works on the current one: at most ``1 + ahead``
    batches are alive at a time, never the corpus. An unexpected error of a load
    is raised here, for its batch.
    """
    if pool is None:
        for batch in batches:
            yield batch, [load_one(i) for i in batch]
        return
    queue: deque = deque()
    upcoming = iter(batches)

    def submit() -> None:
        batch = next(upcoming, None)
        if batch is not None:
            queue.append((batch, [pool.submit(load_one, i) for i in batch]))

    for _ in range(ahead):
        submit()
    try:
        while queue:
            batch, futures = queue.popleft()
            loaded = [f.result() for f in futures]
            del futures
            submit()  # keep `ahead` batches loading while this one is encoded
            yield batch, loaded
            del loaded
    finally:  # the caller stopped (an error in its forward pass): drop what is queued
        for _, futures in queue:
            for f in futures:
                f.cancel()
