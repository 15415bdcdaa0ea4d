"""The inner splits of a self-tuning fusion (classifier or regressor), and how its metadata is routed.

Both CV estimators split their training clips the same way: ``cv`` through
``check_cv``, ``groups`` (speakers) to the splitter, by metadata routing when it
is enabled, and a warning when groups are given to a splitter that ignores them
(clips of one speaker on both sides of an inner split inflate the inner score).
"""

from __future__ import annotations

import warnings

from sklearn.model_selection import check_cv
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, _routing_enabled, process_routing

__all__ = ["inner_splits", "splitter_and_model_router"]


def _uses_groups(splitter) -> bool:
    return splitter.get_metadata_routing().split.requests.get("groups") is True


def inner_splits(owner, X, y, groups, sample_weight, *, classifier: bool) -> list:
    """``[(train, validation), ...]`` of ``owner.cv`` on ``(X, y)``, ``groups`` routed to the splitter."""
    splitter = check_cv(owner.cv, y, classifier=classifier)
    if _routing_enabled():
        split_params = process_routing(owner, "fit", groups=groups, sample_weight=sample_weight).splitter.split
    else:
        split_params = {"groups": groups}
    if groups is not None and not _uses_groups(splitter):
        aware = "GroupKFold(5) or StratifiedGroupKFold(5)" if classifier else "GroupKFold(5)"
        warnings.warn(
            f"groups were given but cv={owner.cv!r} ({type(splitter).__name__}) does not use them, so clips of "
            f"one group (speaker) can fall on both sides of an inner split. Pass a group-aware splitter, "
            f"e.g. cv={aware}.",
            UserWarning,
            stacklevel=3,
        )
    return list(splitter.split(X, y, **split_params))


def splitter_and_model_router(owner, name: str, model) -> MetadataRouter:
    """``groups`` to the splitter's ``split``; ``sample_weight`` used by ``owner`` and by ``model`` (``name``)."""
    return (
        MetadataRouter(owner=owner)
        .add_self_request(owner)
        .add(splitter=check_cv(owner.cv), method_mapping=MethodMapping().add(caller="fit", callee="split"))
        .add(**{name: model}, method_mapping=MethodMapping().add(caller="fit", callee="fit"))
    )
