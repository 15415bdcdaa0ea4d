"""The dimensional side of :func:`~sklearn_zsfuse.evaluation.evaluate`: which ratings, the protocol, its own facts."""

from __future__ import annotations

from collections.abc import Callable

from ..estimators.fusion_regression import default_regressor
from .dimension_protocol import run_dimensional_study
from .dimension_results import DimensionalStudy
from .grid import Grid

__all__ = ["ALL_DIMENSIONS", "dimensional_study", "dimensions_of"]

# The one string target that is not a dimension's name.
ALL_DIMENSIONS = "dimensions"


def dimensions_of(corpus, target) -> tuple:
    """The dimensions ``target`` names (``"dimensions"``: every one ``corpus`` rates), in table order."""
    have = list(corpus.dimensions)
    if not have:
        raise ValueError(f"the {corpus.name} corpus has no dimensional ratings (its targets: {list(corpus.targets)}); "
                         "load one that does (msp_podcast, iemocap, or csv with dimensions=[...]).")
    wanted = have if target == ALL_DIMENSIONS else [target] if isinstance(target, str) else list(target)
    missing = [d for d in wanted if d not in have]
    if missing or not wanted or len(set(wanted)) != len(wanted):
        raise ValueError(f"dimensions {wanted}: the {corpus.name} corpus rates {have}; name each of those at most "
                         "once.")
    return tuple(wanted)


def dimensional_study(corpus, feature_set, *, grid: Grid, regressor, pole_prompts, middle, dataset: str,
                      log: Callable[[str], None] | None, threads) -> tuple[DimensionalStudy, dict]:
    """The dimensional protocol on ``feature_set`` (an :class:`~.attribute_features.AttributeFeatureSet` of
    ``corpus``'s clips), and the facts of the run that are this target's own."""
    dims = feature_set.dimensions
    scales = {d: (corpus.scales[d].low, corpus.scales[d].high, corpus.scales[d].source) for d in dims}
    study = run_dimensional_study(
        feature_set, {d: corpus.dimensions[d] for d in dims}, scales, corpus.labels, corpus.folds, corpus.speakers,
        grid=grid, development=corpus.development, regressor=regressor, dataset=dataset, log=log,
        threads=threads,
    )
    facts = {
        "target": "dimensions",
        "dimensions": list(dims),
        "scales": {d: {"low": s[0], "high": s[1], "source": s[2]} for d, s in scales.items()},
        "pole_prompts": pole_prompts,
        "middle": middle,
        "score": "expected pole position under the pole probabilities, in [0, 1]; zero-shot rows place it on "
                 "the corpus's scale (low + score * (high - low)), zero_shot+rescaled through a line fitted on the "
                 "training clips",
        "regressor": repr(default_regressor() if regressor is None else regressor),
        "selection": "inner cross-validation on the training clips of each test fold (official development set, "
                     "else leave one training fold out, else speaker groups), by CCC; test folds are never used to "
                     "choose",
        "metrics": "CCC (Lin 1989, population moments), Pearson's r, MAE in the corpus's units",
    }
    return study, facts
