"""The embed stage on several replicas of a model: one thread per device, batches dealt in turn.

With ``device="cuda:0,cuda:1"`` (or ``"cuda:all"``) an estimator holds one copy of
its model per device (:mod:`sklearn_zsfuse.encoders.devices`) and one adapter per
copy (``adapter.on(record)``). The batches, prepared by the input workers in plan
order, go one by one to the first replica that is idle; each replica runs
``embed`` on a thread of its own (a CUDA forward pass releases the GIL, so the
devices compute at the same time). Results come back to the caller's thread as
they complete and are stored there by item index, so what a run returns is in
input order and the same as on one device. At most one batch per replica is being
encoded at a time; the feed keeps a few more loading (:func:`.feed.feed`).

One device never comes here: the caller runs ``adapter.embed`` itself, exactly as
before there were replicas.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

__all__ = ["check_replicas", "on_replicas"]


def check_replicas(adapters: list, desc: str) -> None:
    """Every replica must make the same cache keys: the same weights, preprocessing and dtype."""
    first = adapters[0].key_prefix
    for other in adapters[1:]:
        if other.key_prefix != first:
            raise ValueError(
                f"{desc}: the model's replicas on {[a.record.key[3] for a in adapters]} are not the same model "
                f"(their fingerprints differ: {first[0]!r} and {other.key_prefix[0]!r}); give devices of one kind, "
                "or an explicit dtype instead of 'auto'."
            )


def on_replicas(adapters: list, batches: Iterable[tuple[list, list, list]]) -> Iterator[tuple[list, list, object]]:
    """``(batch, good, adapters[k].embed(inputs))`` for each ``(batch, good, inputs)``, k the first idle replica.

    Yields in completion order (the caller stores by index). A batch with no good
    input is yielded at once with no output. An error of any replica is raised here
    after the other replicas' running batches have ended.
    """
    pools = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"zsfuse-replica{k}") for k in range(len(adapters))]
    idle = deque(range(len(adapters)))
    running: dict = {}  # future -> (replica, batch, good)

    def collect() -> Iterator[tuple[list, list, object]]:
        done, _ = wait(list(running), return_when=FIRST_COMPLETED)
        for future in [f for f in running if f in done]:  # in dealing order
            k, batch, good = running.pop(future)
            idle.append(k)
            yield batch, good, future.result()

    try:
        for batch, good, inputs in batches:
            if not good:
                yield batch, good, None
                continue
            while not idle:
                yield from collect()
            k = idle.popleft()
            running[pools[k].submit(adapters[k].embed, inputs)] = (k, batch, good)
            del inputs
        while running:
            yield from collect()
    finally:
        for future in running:
            future.cancel()
        for pool in pools:
            pool.shutdown(wait=True)  # a failed run leaves no replica computing behind it
