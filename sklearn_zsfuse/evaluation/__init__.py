"""The paper's evaluation table on a corpus: specialist, zero-shot, the ablations and ZS-Fuse.

Two stages:

1. :func:`compute_feature_set` runs every model once: each specialist's embedding
   of every clip (every requested layer from one pass), and each ALM's zero-shot
   logits of the single-prompt system and of the prompt ensemble for every
   (N_a, N_t) of the grid. Nothing here sees a label (the models are frozen and
   zero-shot), so computing it on all clips leaks nothing; audio is encoded once
   per N_a thanks to the embedding cache.
2. :func:`run_study` does all the learning and selection on those arrays, fold
   by fold, for every ALM alone, every specialist alone and every (ALM,
   specialist) pair. For each test fold, every choice ((N_a, N_t), the fusion
   weight, temperature and normalisation) is made by an inner cross-validation on
   the *training* clips only; the test fold is then predicted once per system.

The systems of a pair's table, in the order of the paper's ablation (one table,
:data:`.systems.TABLE`, that the protocol, the command and :func:`final_model`
read; adding a system is adding an entry there):

- ``specialist``: the classifier on the specialist's embedding alone;
- ``zero_shot``: one prompt template, N_a = N_t = 1;
- ``zero_shot+ensemble``: the prompt ensemble, N_a = N_t = 1;
- ``zero_shot+ensemble+amplification``: the ensemble with the (N_a, N_t) chosen
  by inner CV;
- ``zero_shot+calibrated``: the same logits over a temperature fitted on the
  training clips (same labels; its ECE is in ``Evaluation.calibration``);
- ``zs_fuse``: weighted late fusion of that zero-shot system with the specialist,
  the weight chosen by inner CV;
- ``zs_fuse+calibrated``: the same with temperature-scaled zero-shot probabilities;
- ``zs_fuse+concat``: scores concatenated with the embedding, the normalisation
  chosen by inner CV.

Each fusion row is compared with the specialist on the same clips
(:func:`paired_comparison`); :class:`Study` gathers the tables of a run.

Dimensional ratings (arousal, valence, dominance) have the same two stages and
table shapes, with CCC for UA: :func:`evaluate` with ``target=`` (or
:func:`evaluate_dimensions`; :func:`compute_attribute_features`, :func:`run_dimensional_study`, the systems of
:data:`.dimension_systems.DIMENSION_TABLE`, :class:`DimensionalStudy`).
"""

from types import MappingProxyType

from .. import lazy_exports

# Names load their module on first use: the command checks its arguments before scikit-learn loads.
_EXPORTS = MappingProxyType({
    "paired_comparison": ".compare",
    "AttributeFeatureSet": ".attribute_features",
    "AttributeFeatures": ".attribute_features",
    "compute_attribute_features": ".attribute_features",
    "DimensionalEvaluation": ".dimension_results",
    "DimensionalStudy": ".dimension_results",
    "run_dimensional_study": ".dimension_protocol",
    "evaluate_dimensions": ".runner",
    "paired_ccc_comparison": ".regression_compare",
    "concordance_cc": ".regression_metrics",
    "regression_scorers": ".regression_metrics",
    "final_model": ".deploy",
    "FeatureSet": ".features",
    "Features": ".features",
    "ZeroShotFeatures": ".features",
    "compute_feature_set": ".features",
    "Grid": ".grid",
    "Fold": ".protocol",
    "inner_splits": ".protocol",
    "plan_folds": ".protocol",
    "run_study": ".protocol",
    "select_final": ".protocol",
    "FUSIONS": ".systems",
    "SYSTEMS": ".systems",
    "Evaluation": ".results",
    "Study": ".results",
    "SystemResult": ".results",
    "evaluate": ".runner",
})

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS)
