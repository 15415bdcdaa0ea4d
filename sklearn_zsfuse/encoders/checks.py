"""Cheap checks that a model name can be loaded, made before any clip is read.

Loading a speech model takes seconds to minutes and the first clip is read
before that; a typo in a path should not wait for either. Each check asks the
spec the name resolves to (:class:`~.specs.ModelSpec`: ``precheck``,
``layer_count``), which looks only at the file system and the local Hugging Face
cache (never the network) and raises the same
:class:`~sklearn_zsfuse.encoders.ModelLoadError` that loading would. What a spec
cannot see (a hub id while online, the rest of a registered loader's work) is
left to the load itself.
"""

from __future__ import annotations

from .registry import resolve_alm, resolve_fm

__all__ = ["check_alm", "check_fm", "check_fm_layers"]


def check_alm(model, parameter: str = "model") -> None:
    """Raise if the audio-language model ``model`` surely cannot load."""
    resolve_alm(model).precheck(parameter)


def check_fm(model, parameter: str = "model") -> None:
    """Raise if the speech model ``model`` (hub id, directory or a registered name) surely cannot load."""
    resolve_fm(model).precheck(parameter)


def check_fm_layers(model, layers, parameter: str = "layer") -> None:
    """Raise if a layer index is out of range for ``model``, where its layer count is known up front.

    The count is that of :class:`~sklearn_zsfuse.FMEmbedder`: transformer layers + 1
    (the front end's projection); ``"all"`` always fits.
    """
    n_layers = resolve_fm(model).layer_count()
    if n_layers is None:
        return  # a hub id not in the cache: FMEmbedder.fit checks it after loading the config
    bad = [k for k in layers if k != "all" and not -n_layers <= k < n_layers]
    if bad:
        raise ValueError(
            f"{parameter} {bad[0]} is out of range for {str(model)!r}, which has {n_layers} hidden "
            f"states (valid: {-n_layers}..{n_layers - 1} or 'all')."
        )
