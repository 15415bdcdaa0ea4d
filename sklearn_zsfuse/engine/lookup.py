"""Cache keys, lookup and store: which items need encoding, and where the others come from.

Results go to a *sink*, ``sink(index, value)``, as soon as they are known: at
lookup for those in a cache, at store for those encoded. The engine's default
sink fills a list; a caller that streams (a layer sweep writing a feature store,
a worker filling a shared cache) passes its own, and no list of every result is
ever held. Items with the same key share their first item's result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .cache import CacheTiers

# Keys looked up together: disk reads of a window run on the input workers at the same time
# (on a network filesystem each read waits for a round trip), and at most a window of values
# is held between the reads and the sink.
WINDOW = 256


@dataclass
class Lookup:
    """What is left to encode, and what was found where."""

    pending: list[int]  # first index of every distinct key still to encode
    twins: dict  # index of a key's first item -> the later items with the same key
    counts: dict = field(default_factory=lambda: {"memory": 0, "disk": 0, "duplicate": 0})
    silent: set = field(default_factory=set)  # keys whose clip is digital silence (this run's knowledge)


def item_keys(items, key_prefix: tuple, key, pool=None) -> list[tuple]:
    """``key_prefix + (key(item),)`` per item, computed on ``pool`` when given (file digests)."""
    parts = list(pool.map(key, items)) if pool is not None else [key(i) for i in items]
    return [key_prefix + (p,) for p in parts]


def lookup(keys: list[tuple], tiers: CacheTiers, shape: tuple | None, sink: Callable, pool=None) -> Lookup:
    """Look each distinct key up once: memory first, then disk (whose entries must have ``shape``).

    Found values go to ``sink`` in input order; disk reads run on ``pool`` when given.
    """
    found = Lookup(pending=[], twins={})
    first: dict = {}
    order = []  # the first item of each distinct key
    for i, k in enumerate(keys):
        j = first.setdefault(k, i)
        if j == i:
            order.append(i)
        else:
            found.twins.setdefault(j, []).append(i)
            found.counts["duplicate"] += 1
    for start in range(0, len(order), WINDOW):
        part = order[start : start + WINDOW]
        hits = [tiers.from_memory(keys[i]) for i in part]
        missing = [n for n, hit in enumerate(hits) if hit is None]
        if missing and tiers.disk is not None:

            def from_disk(n, part=part):
                return tiers.from_disk(keys[part[n]], shape)

            for n, hit in zip(missing, pool.map(from_disk, missing) if pool is not None else map(from_disk, missing)):
                hits[n] = hit
        for i, hit in zip(part, hits):
            if hit is None:
                found.pending.append(i)
                continue
            value, tier, silent = hit
            found.counts[tier] += 1
            if silent:
                found.silent.add(keys[i])
            deliver(found, sink, i, value)
        del hits
    return found


def deliver(found: Lookup, sink: Callable, i: int, value) -> None:
    """``value`` to item ``i`` and to every later item with its key."""
    sink(i, value)
    for j in found.twins.get(i, ()):
        sink(j, value)


def store(tiers: CacheTiers, found: Lookup, keys, indices, outputs, sink: Callable) -> None:
    for i, value in zip(indices, outputs):
        tiers.put(keys[i], value, silent=keys[i] in found.silent)
        deliver(found, sink, i, value)
