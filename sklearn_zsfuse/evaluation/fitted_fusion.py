"""A fusion fitted on a fold's training clips with the settings inner CV chose, as both targets record it.

The categorical protocol (UA, :class:`~.fusion_select.FittedFusion`) and the
dimensional one (CCC, :class:`~.attribute_select.FittedRegression`) keep the same
record and report the same diagnostics; only how a weight is scored on the test
clips differs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["FittedSelection"]


@dataclass
class FittedSelection:
    """``model`` fitted with ``params``, chosen among ``candidates`` by ``inner`` (mean over inner splits, each)."""

    model: object
    params: dict
    candidates: list = field(default_factory=list)
    inner: list = field(default_factory=list)

    metric = "score"  # names the diagnostics: inner_<metric>, test_<metric>

    def test_scores(self, weights: list, *test) -> list:
        """The test score of the weighted fusion at each of ``weights``."""
        raise NotImplementedError

    def diagnostics(self, *test) -> dict:
        """What chose the settings (the inner score of each candidate) and, for weighted fusion, each weight's
        test score.

        The test score is a diagnostic only (it is plotted, never used to choose).
        """
        m = self.metric
        out = {"candidates": self.candidates, f"inner_{m}_all": self.inner, "chosen_params": self.params}
        if self.params["method"] != "weighted":
            return out
        weights = [c["weight"] for c in self.candidates]
        return {**out, "weights": weights, f"inner_{m}": self.inner, f"test_{m}": self.test_scores(weights, *test),
                "chosen": self.params["weight"]}
