"""What an ALM scores in an evaluation: a corpus's categories, or its rated dimensions.

:func:`~sklearn_zsfuse.evaluation.compute_feature_set` runs every model the same
way for both; a target only says which scorer an ALM gets
(:class:`~sklearn_zsfuse.ALMZeroShotScorer` or :class:`~sklearn_zsfuse.ALMAttributeScorer`)
and how its passes are named in the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["Categories", "Dimensions", "ZeroShotTarget", "as_target"]


@runtime_checkable
class ZeroShotTarget(Protocol):
    """What each ALM of an evaluation scores."""

    def scorer(self, alm, params: dict):
        """An unfitted scorer of ``alm`` (a model id, directory or loaded model) with ``params``."""

    def describe(self, alm_name: str) -> str:
        """How the log names this ALM's passes."""


@dataclass(frozen=True)
class Categories:
    """The corpus's classes: one logit per class (:class:`~sklearn_zsfuse.ALMZeroShotScorer`)."""

    classes: tuple
    class_prompts: dict | None = None

    def scorer(self, alm, params: dict):
        from ..estimators.zero_shot import ALMZeroShotScorer

        return ALMZeroShotScorer(alm, classes=list(self.classes), class_prompts=self.class_prompts, **params)

    def describe(self, alm_name: str) -> str:
        return alm_name


@dataclass(frozen=True)
class Dimensions:
    """Rated dimensions: one score in [0, 1] per dimension (:class:`~sklearn_zsfuse.ALMAttributeScorer`)."""

    dimensions: tuple
    pole_prompts: dict | None = None
    middle: bool = False

    def scorer(self, alm, params: dict):
        from ..estimators.attributes import ALMAttributeScorer

        given = sorted(set(params) & {"classes", "class_prompts"})
        if given:
            raise ValueError(f"estimator_params {given} are the category scorer's; a dimensional evaluation scores "
                             "dimensions (give pole_prompts= for the wording).")
        return ALMAttributeScorer(alm, dimensions=tuple(self.dimensions), pole_prompts=self.pole_prompts,
                                  middle=self.middle, **params)

    def describe(self, alm_name: str) -> str:
        return f"{alm_name}: {', '.join(self.dimensions)}"


def as_target(target, class_prompts=None) -> ZeroShotTarget:
    """``target`` itself, or the :class:`Categories` of a sequence of classes (with ``class_prompts``)."""
    if isinstance(target, ZeroShotTarget):
        if class_prompts is not None:
            raise ValueError("class_prompts goes with a list of classes; give it to Categories(...) instead.")
        return target
    return Categories(tuple(target), class_prompts)
