"""The systems ``zsfuse evaluate`` reports: one table that the protocol, the command and deployment read.

Each :class:`System` says which models it needs, how the protocol makes its row
and how its deployed estimator is built. The protocol's rows
(:func:`~sklearn_zsfuse.evaluation.run_study`), the command's ``--save-model``
choices and checks, and :func:`~sklearn_zsfuse.evaluation.final_model` all read
:data:`TABLE` when they run, so adding a system is adding one entry; e.g. a
weighted fusion in log space::

    fusion("zs_fuse+log", lambda grid: [{**c, "space": "log"} for c in
                                        fusion_candidates(("weighted",), grid.weights, (None,))])

A module with no imports beyond the standard library, so that the command can
check a ``--save-model`` name before the evaluation machinery is imported.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["FUSIONS", "SYSTEMS", "TABLE", "System", "did_you_mean", "find", "fusion", "fusions", "made"]


@dataclass(frozen=True)
class System:
    """One row of the table: what it needs, how the protocol makes it, how it is deployed.

    A row is made one way, by whichever of these the entry holds:

    - ``scores(choice) -> (logits, params)``: an ALM's zero-shot row, read from
      the logits of a fold's :class:`~sklearn_zsfuse.evaluation.protocol.ZeroShotChoice`
      (the labels are their argmax; ``params`` are recorded per fold);
    - ``candidates(grid) -> [LateFusionClassifier parameters]``: a fusion row,
      the candidate inner CV chooses on each fold's training clips;
    - neither: the classifier on the specialist's embedding.

    ``build(deployment, params) -> estimator`` is the unfitted estimator that
    ``--save-model`` fits on all clips (``deployment``: a
    :class:`~sklearn_zsfuse.evaluation.deploy.Deployment`; ``params``: the
    settings :func:`~sklearn_zsfuse.evaluation.select_final` chose); None where
    the system has no estimator of its own, ``not_deployable`` saying why.
    """

    name: str
    needs_alm: bool
    needs_fm: bool
    scores: Callable | None = None
    candidates: Callable | None = None
    build: Callable | None = None
    not_deployable: str = ""

    def __post_init__(self):
        # what each way of making the row reads: the ALM's logits, both models', the embedding
        needs = (True, False) if self.scores is not None else (True, True) if self.candidates is not None \
            else (False, True)
        if self.scores is not None and self.candidates is not None or (self.needs_alm, self.needs_fm) != needs:
            raise ValueError(
                f"system {self.name!r}: a row is made one way: scores= (needs the ALM alone), candidates= "
                "(needs both models) or neither (the specialist alone)."
            )
        if self.build is None and not self.not_deployable:
            raise ValueError(f"system {self.name!r} has no build=; say why in not_deployable=.")


def fusion(name: str, candidates: Callable, **fixed) -> System:
    """A fusion row: ``candidates(grid)`` chosen by inner CV, deployed as a ZS-Fuse pipeline.

    ``fixed`` are fusion parameters the deployed pipeline takes as they are
    rather than as chosen (``temperature="fit"``: refitted on its own clips).
    """
    return System(name, needs_alm=True, needs_fm=True, candidates=candidates,
                  build=lambda deployment, params: deployment.fusion(params, **fixed))


# The zero-shot rows' logits and settings in one fold (``choice``: a ZeroShotChoice).
def _single(choice):
    return choice.single, {"templates": "single", "audio_repeats": 1, "text_repeats": 1}


def _ensemble(choice):
    return choice.ensemble, {"templates": "ensemble", "audio_repeats": 1, "text_repeats": 1}


def _amplified(choice):
    return choice.amplified, choice.params


def _calibrated(choice):
    # The temperature changes confidence, never the ranking: the row's labels are the
    # amplified ensemble's, its probabilities (ECE) are what calibration improves.
    return choice.amplified, {**choice.params, "temperature": choice.temperature}


def _weighted(temperature):
    def candidates(grid):
        from ..estimators.fusion_cv import fusion_candidates

        return fusion_candidates(("weighted",), grid.weights, (temperature,))

    return candidates


def _concat(grid):
    from ..estimators.fusion_cv import fusion_candidates

    return fusion_candidates(("concat",), normalizations=("standard", "layer"))


SPECIALIST = System("specialist", needs_alm=False, needs_fm=True, build=lambda d, params: d.specialist())
ZERO_SHOT = System("zero_shot", needs_alm=True, needs_fm=False, scores=_single,
                   build=lambda d, params: d.scorer(templates=d.single_template))
ENSEMBLE = System("zero_shot+ensemble", needs_alm=True, needs_fm=False, scores=_ensemble,
                  build=lambda d, params: d.scorer(templates=d.templates))
AMPLIFIED = System("zero_shot+ensemble+amplification", needs_alm=True, needs_fm=False, scores=_amplified,
                   build=lambda d, params: d.scorer(templates=d.templates, audio_repeats=params["audio_repeats"],
                                                    text_repeats=params["text_repeats"]))
ZS_FUSE = fusion("zs_fuse", _weighted(None))  # the paper's summary row
ZS_FUSE_CALIBRATED = fusion("zs_fuse+calibrated", _weighted("fit"), temperature="fit")
ZS_FUSE_CONCAT = fusion("zs_fuse+concat", _concat)
CALIBRATED = System(
    "zero_shot+calibrated", needs_alm=True, needs_fm=False, scores=_calibrated,
    not_deployable="zero_shot+calibrated has no deployable estimator of its own (ALMZeroShotScorer has no "
    f"temperature); it predicts the labels of {AMPLIFIED.name}: save that one, or {ZS_FUSE_CALIBRATED.name}.",
)

# The paper's ablation rows, in table order; the two rows after zs_fuse are the variants the issue asked for.
TABLE: tuple[System, ...] = (SPECIALIST, ZERO_SHOT, ENSEMBLE, AMPLIFIED, CALIBRATED, ZS_FUSE, ZS_FUSE_CALIBRATED,
                             ZS_FUSE_CONCAT)


def made(has_alm: bool, has_fm: bool) -> list[System]:
    """The systems a run with these models makes, in table order."""
    return [s for s in TABLE if (has_alm or not s.needs_alm) and (has_fm or not s.needs_fm)]


def fusions() -> list[System]:
    """The fusion rows, in table order."""
    return [s for s in TABLE if s.candidates is not None]


def find(name: str) -> System:
    """The system called ``name``; a ValueError naming the closest one and every system otherwise."""
    for system in TABLE:
        if system.name == name:
            return system
    raise ValueError(f"{name!r} is not a system{did_you_mean(name)}; choose one of {[s.name for s in TABLE]}.")


def did_you_mean(name: str) -> str:
    """` (did you mean 'NAME'?)` with the system closest to a misspelt ``name``, else an empty string."""
    close = difflib.get_close_matches(name, [s.name for s in TABLE], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# The names of the table as shipped (code reads the table itself, through the functions above).
SYSTEMS = tuple(s.name for s in TABLE)
FUSIONS = tuple(s.name for s in fusions())
