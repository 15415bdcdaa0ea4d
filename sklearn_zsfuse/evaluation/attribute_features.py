"""Running the frozen models once over a corpus for a dimensional evaluation.

Each ALM gives its zero-shot attribute scores (:class:`~sklearn_zsfuse.ALMAttributeScorer`)
of every clip: the single template, and the prompt ensemble per (N_a, N_t) of the
grid; each specialist its embeddings. The categorical evaluation's
:func:`~sklearn_zsfuse.evaluation.compute_feature_set` runs them, with a
:class:`~.zero_shot_targets.Dimensions` target. Nothing here sees a rating, so
computing it on all clips leaks nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .features import compute_feature_set
from .zero_shot_targets import Dimensions

__all__ = ["AttributeFeatureSet", "AttributeFeatures", "compute_attribute_features"]

@dataclass
class AttributeFeatures:
    """One ALM's zero-shot scores (in [0, 1]) of every clip, one column per dimension."""

    single: np.ndarray  # (n, d): the single template, N_a = N_t = 1
    ensemble: dict  # (N_a, N_t) -> (n, d): the prompt ensemble


@dataclass
class AttributeFeatureSet:
    """Every model's outputs on every clip: ``alms`` (name -> :class:`AttributeFeatures`), ``fms`` as in
    :class:`~sklearn_zsfuse.evaluation.FeatureSet`, the scores' ``dimensions`` in column order."""

    dimensions: tuple
    alms: dict = field(default_factory=dict)
    fms: dict = field(default_factory=dict)
    fm_layers: dict = field(default_factory=dict)

    @classmethod
    def from_feature_set(cls, feature_set, dimensions) -> "AttributeFeatureSet":
        """The scores of a :class:`~sklearn_zsfuse.evaluation.FeatureSet` computed for ``dimensions``, as float64."""
        alms = {name: AttributeFeatures(np.asarray(f.single, dtype=np.float64),
                                        {k: np.asarray(v, dtype=np.float64) for k, v in f.ensemble.items()})
                for name, f in feature_set.alms.items()}
        return cls(tuple(dimensions), alms=alms, fms=feature_set.fms, fm_layers=feature_set.fm_layers)


def compute_attribute_features(paths: Sequence[str], dimensions: Sequence[str], *, pole_prompts=None, middle=False,
                               **options) -> AttributeFeatureSet:
    """Run every ALM and every specialist once over ``paths`` (no ratings are used).

    ``dimensions``: the attributes each ALM scores (one column each, in order).
    ``pole_prompts``, ``middle``: the scorer's words for the poles. ``options`` are
    :func:`~sklearn_zsfuse.evaluation.compute_feature_set`'s (``alms``, ``fms``,
    ``layers``, ``grid``, ...), which does the work with a
    :class:`~.zero_shot_targets.Dimensions` target.
    """
    target = Dimensions(tuple(dimensions), pole_prompts, middle)
    return AttributeFeatureSet.from_feature_set(compute_feature_set(paths, target, **options), target.dimensions)
