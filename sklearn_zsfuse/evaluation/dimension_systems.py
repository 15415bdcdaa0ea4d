"""The systems of a dimensional evaluation: a second table with the categorical table's shape.

Each entry is a :class:`~sklearn_zsfuse.evaluation.systems.System`, as in
:data:`~sklearn_zsfuse.evaluation.systems.TABLE`, and is read the same way: a row
is made from ``scores(choice)`` (a zero-shot row, from a fold's
:class:`~sklearn_zsfuse.evaluation.attribute_select.AttributeChoice`), from
``candidates(grid)`` (a fusion row: :class:`~sklearn_zsfuse.LateFusionRegressor`
parameters chosen by inner CV on CCC), or neither (the specialist's regressor).
Adding a dimensional system is adding one entry to :data:`DIMENSION_TABLE`.

Why a second table rather than a kind of row in the first: a dimensional row has
no classes, so none of the categorical table's machinery applies to it (argmax
labels, UA, confusion matrices, the temperature, McNemar); its zero-shot rows
read attribute scores, not logits, and its fusion candidates are another
estimator's parameters. Keeping the tables apart leaves the categorical run, and
everything that reads :data:`~sklearn_zsfuse.evaluation.systems.TABLE`
(``--save-model``, :func:`~sklearn_zsfuse.evaluation.final_model`), exactly as it was.

Standard library only, as :mod:`.systems`.
"""

from __future__ import annotations

from . import systems
from .systems import System

__all__ = ["DIMENSION_TABLE", "NOT_SAVED", "dimension_fusions", "dimension_made"]

NOT_SAVED = ("zsfuse evaluate does not save dimensional systems (--save-model with --target); build the pipeline "
             "(ALMAttributeScorer + FMEmbedder + LateFusionRegressor) with the chosen settings from results.json.")


def _rescaled(choice):
    # The amplified ensemble's score through a line fitted on the training clips: what the
    # weighted fusion's zero-shot branch is at weight 1.
    return choice.rescaled, {**choice.params, "line": list(choice.line)}


def _weighted(grid):
    from ..estimators.fusion_regression_selection import regression_fusion_candidates

    return regression_fusion_candidates(("weighted",), grid.weights)


def _concat(grid):
    from ..estimators.fusion_regression_selection import regression_fusion_candidates

    return regression_fusion_candidates(("concat",))


# The rows the categorical table has too carry its names and, for the zero-shot rows, its ``scores``:
# they read an AttributeChoice as they read a ZeroShotChoice (single, ensemble, amplified, params),
# here scores on the corpus's scale. The same systems, scored on ratings.
SPECIALIST = System(systems.SPECIALIST.name, needs_alm=False, needs_fm=True, not_deployable=NOT_SAVED)
ZERO_SHOT = System(systems.ZERO_SHOT.name, needs_alm=True, needs_fm=False, scores=systems.ZERO_SHOT.scores,
                   not_deployable=NOT_SAVED)
ENSEMBLE = System(systems.ENSEMBLE.name, needs_alm=True, needs_fm=False, scores=systems.ENSEMBLE.scores,
                  not_deployable=NOT_SAVED)
AMPLIFIED = System(systems.AMPLIFIED.name, needs_alm=True, needs_fm=False, scores=systems.AMPLIFIED.scores,
                   not_deployable=NOT_SAVED)
RESCALED = System("zero_shot+rescaled", needs_alm=True, needs_fm=False, scores=_rescaled, not_deployable=NOT_SAVED)
ZS_FUSE = System(systems.ZS_FUSE.name, needs_alm=True, needs_fm=True, candidates=_weighted, not_deployable=NOT_SAVED)
ZS_FUSE_CONCAT = System(systems.ZS_FUSE_CONCAT.name, needs_alm=True, needs_fm=True, candidates=_concat,
                        not_deployable=NOT_SAVED)

# In table order: the categorical table's rows, with the line fitted on the training clips where
# the categorical table has its temperature.
DIMENSION_TABLE: tuple[System, ...] = (SPECIALIST, ZERO_SHOT, ENSEMBLE, AMPLIFIED, RESCALED, ZS_FUSE, ZS_FUSE_CONCAT)


def dimension_made(has_alm: bool, has_fm: bool) -> list[System]:
    """The dimensional systems a run with these models makes, in table order."""
    return [s for s in DIMENSION_TABLE if (has_alm or not s.needs_alm) and (has_fm or not s.needs_fm)]


def dimension_fusions() -> list[System]:
    """The dimensional fusion rows, in table order."""
    return [s for s in DIMENSION_TABLE if s.candidates is not None]
