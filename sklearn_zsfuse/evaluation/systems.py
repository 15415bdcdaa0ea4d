"""The names of the systems ``zsfuse evaluate`` reports, in table order.

A module of its own, with no imports, so that the command can check a
``--save-model`` name before the evaluation machinery is imported.
"""

__all__ = ["FUSIONS", "SYSTEMS"]

# The paper's ablation rows, in table order. ``zs_fuse`` is the weighted fusion of the
# paper's summary; the two rows after it are the variants the issue asked for.
SYSTEMS = (
    "specialist",
    "zero_shot",
    "zero_shot+ensemble",
    "zero_shot+ensemble+amplification",
    "zero_shot+calibrated",
    "zs_fuse",
    "zs_fuse+calibrated",
    "zs_fuse+concat",
)
FUSIONS = ("zs_fuse", "zs_fuse+calibrated", "zs_fuse+concat")
