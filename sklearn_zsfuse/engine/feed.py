"""The load stage: input workers prepare batches ahead of the model, in order, with bounded memory."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator


def batches_ahead(n_workers: int) -> int:
    """Batches loading while the model encodes one: one for a single worker (it never
    idles), two for a pool (its workers do not wait for a batch's last clip)."""
    return 1 if n_workers <= 1 else 2


def feed(
    batches: list[list[int]], load_one: Callable, pool=None, ahead: int = 1, n_workers: int = 1
) -> Iterator[tuple[list[int], list]]:
    """``(batch, [load_one(i) for i in batch])`` for each batch in turn.

    With a ``pool``, each batch is loaded on it in ``n_workers`` slices (one task
    per worker, not per clip: fewer hand-offs between threads) and the next
    ``ahead`` batches are loading while the caller works on the current one: at
    most ``1 + ahead`` batches are alive at a time, never the corpus. An
    unexpected error of a load is raised here, for its batch.
    """
    if pool is None:
        for batch in batches:
            yield batch, [load_one(i) for i in batch]
        return
    queue: deque = deque()
    upcoming = iter(batches)

    def load_slice(items):
        return [load_one(i) for i in items]

    def submit() -> None:
        batch = next(upcoming, None)
        if batch is not None:
            k = max(1, min(n_workers, len(batch)))
            slices = [batch[j::k] for j in range(k)]  # interleaved: similar work per slice
            queue.append((batch, slices, [pool.submit(load_slice, part) for part in slices]))

    for _ in range(ahead):
        submit()
    try:
        while queue:
            batch, slices, futures = queue.popleft()
            loaded_by_item = {}
            for part, future in zip(slices, futures):
                loaded_by_item.update(zip(part, future.result()))
            del futures
            loaded = [loaded_by_item.pop(i) for i in batch]
            submit()  # keep `ahead` batches loading while this one is encoded
            yield batch, loaded
            del loaded
    finally:  # the caller stopped (an error in its forward pass): drop what is queued
        for _, _, futures in queue:
            for f in futures:
                f.cancel()
