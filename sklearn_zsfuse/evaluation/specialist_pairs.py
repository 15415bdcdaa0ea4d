"""Two specialists as one: their embeddings side by side, evaluated as a specialist of its own.

The paper fuses a zero-shot ALM with one specialist; a table with two real
specialists (eGeMAPS and GE2E, say) also asks whether they complement each other.
Early fusion answers it the way the concatenating fusion does: each clip's two
embeddings joined into one vector (the default classifier standardises every
column, so neither model's scale dominates), which then runs through the same
protocol as any specialist: alone, and fused with every ALM.

Which entries are joined, for each two specialist models in the order given:
a model evaluated at one layer (eGeMAPS, or any model without a layer sweep) is
joined with each of the other's entries; two models swept over the same layers
are joined layer by layer (``"egemaps & ge2e [layer 1]"`` is eGeMAPS beside GE2E's
layer 1). Nothing here sees a label.

A joined entry is :class:`JoinedFeatures`, read when used like a sweep's stored
layers (:mod:`~sklearn_zsfuse.evaluation.feature_store`): the protocol works on one
specialist at a time, so a sweep joined layer by layer never holds every joined
array at once.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from .features import FeatureSet

__all__ = ["JOIN", "JoinedFeatures", "with_specialist_pairs"]

JOIN = " & "  # in a joined specialist's name: "egemaps & ge2e"


def with_specialist_pairs(feature_set: FeatureSet) -> FeatureSet:
    """``feature_set`` with one more specialist per two specialist models: their embeddings side by side.

    The ALMs and the specialists already there are kept as they are; the joined
    ones come after them, named ``"<first> & <second>"`` (with ``" [layer k]"``
    where a sweep gives the layer). Fewer than two specialist models: returned as it is.
    """
    by_model: dict = {}
    for name in feature_set.fms:
        model, layer = feature_set.fm_layers.get(name, (name, None))
        by_model.setdefault(model, []).append((layer, name))
    fms, fm_layers = dict(feature_set.fms), dict(feature_set.fm_layers)
    for first, second in combinations(by_model, 2):
        model = f"{first}{JOIN}{second}"
        for layer, a, b in _matched(by_model[first], by_model[second]):
            name = model if layer is None else f"{model} [layer {layer}]"
            fms[name] = JoinedFeatures((feature_set.fms[a], feature_set.fms[b]))
            fm_layers[name] = (model, layer)
    return FeatureSet(alms=dict(feature_set.alms), fms=fms, fm_layers=fm_layers)


class JoinedFeatures:
    """Arrays of the same clips side by side, ``(n, d1 + d2 + ...)``, joined whenever used (``np.asarray``)."""

    ndim = 2

    def __init__(self, parts):
        self.parts = tuple(parts)
        if len({len(p) for p in self.parts}) != 1:
            raise ValueError(f"joined arrays must have the same clips, got lengths {[len(p) for p in self.parts]}.")

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.parts[0]), sum(int(p.shape[1]) for p in self.parts))

    @property
    def dtype(self) -> np.dtype:
        return np.result_type(*(p.dtype for p in self.parts))

    def __len__(self) -> int:
        return len(self.parts[0])

    def __array__(self, dtype=None, copy=None):
        out = np.hstack([np.asarray(p) for p in self.parts])
        return out if dtype is None else out.astype(dtype, copy=False)

    def __getitem__(self, index):
        return np.asarray(self)[index]

    def __reduce__(self):
        return np.asarray, (np.asarray(self),)

    def __repr__(self) -> str:
        return f"JoinedFeatures(shape={self.shape})"


def _matched(first: list, second: list) -> list:
    """``(layer or None, first's entry, second's entry)`` to join: see the module's docstring."""
    if len(second) == 1:
        ((_, b),) = second
        return [(layer if len(first) > 1 else None, a, b) for layer, a in first]
    if len(first) == 1:
        ((_, a),) = first
        return [(layer, a, b) for layer, b in second]
    theirs = dict(second)
    return [(layer, a, theirs[layer]) for layer, a in first if layer in theirs]
