"""Cache keys, lookup and store: which items need encoding, and where the others come from."""

from __future__ import annotations

from dataclasses import dataclass, field

from .cache import CacheTiers


@dataclass
class Lookup:
    """Results found in the caches, and what is left to encode."""

    results: list  # per item: an array, or None until encoded
    pending: list[int]  # first index of every distinct key still to encode
    first: dict  # key -> index of the item that will be encoded for it
    counts: dict = field(default_factory=lambda: {"memory": 0, "disk": 0, "duplicate": 0})
    silent: set = field(default_factory=set)  # keys whose clip is digital silence (this run's knowledge)


def item_keys(items, key_prefix: tuple, key, pool=None) -> list[tuple]:
    """``key_prefix + (key(item),)`` per item, computed on ``pool`` when given (file digests)."""
    parts = list(pool.map(key, items)) if pool is not None else [key(i) for i in items]
    return [key_prefix + (p,) for p in parts]


def lookup(keys: list[tuple], tiers: CacheTiers, shape: tuple | None = None) -> Lookup:
    """Look each distinct key up once: memory first, then disk (whose entries must have ``shape``)."""
    found = Lookup(results=[], pending=[], first={})
    for i, k in enumerate(keys):
        if k in found.first:  # a duplicate of an item still to encode: not looked up again
            found.results.append(None)
            found.counts["duplicate"] += 1
            continue
        value, tier, silent = tiers.lookup(k, shape)
        if silent:
            found.silent.add(k)
        found.results.append(value)
        if value is None:
            found.first[k] = i
            found.pending.append(i)
        else:
            found.counts[tier] += 1
    return found


def store(tiers: CacheTiers, found: Lookup, keys, indices, outputs) -> None:
    for i, value in zip(indices, outputs):
        tiers.put(keys[i], value, silent=keys[i] in found.silent)
        found.results[i] = value


def fill_duplicates(found: Lookup, keys) -> list:
    """Duplicates of an encoded item share its result."""
    return [r if r is not None else found.results[found.first[k]] for k, r in zip(keys, found.results)]
