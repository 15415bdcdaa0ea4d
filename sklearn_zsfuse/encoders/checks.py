"""Cheap checks that a model name can be loaded, made before any clip is read.

Loading a speech model takes seconds to minutes and the first clip is read
before that; a typo in a path should not wait for either. These checks look
only at the file system and the local Hugging Face cache (never the network)
and raise the same :class:`~sklearn_zsfuse.encoders.ModelLoadError` that
loading would, through the encoders' own helpers (:func:`load_error`,
:func:`model_source`, :func:`resolve_alm`). A registered name is checked for
what its registration declares (the packages its loader imports, its layer
count); what they cannot see (a hub id while online, the rest of a registered
loader's work) is left to the load itself.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import MissingExtraError, ModelLoadError, model_source, resolve_alm
from .hub import hf_offline, load_error, looks_local
from .registry import Registered, resolve_fm

__all__ = ["check_alm", "check_fm", "check_fm_layers"]


def check_fm(model, parameter: str = "model") -> None:
    """Raise if the speech model ``model`` (hub id, directory or a registered name) surely cannot load."""
    from .hf_speech import HFSpeech

    spec = resolve_fm(model)
    if isinstance(spec, Registered):  # what its registration declares; the rest is its loader's
        _check_requires(spec, model, parameter)
    elif isinstance(spec, HFSpeech):
        _check_hf_checkpoint(spec.model, parameter)


def _check_requires(spec: Registered, model, parameter: str) -> None:
    missing = spec.missing()
    if missing:
        module, hint = missing[0]
        raise MissingExtraError(f"{parameter}={os.fspath(model)!r} needs the {module} package: {hint}.")


def check_alm(model, parameter: str = "model") -> None:
    """Raise if the audio-language model ``model`` surely cannot load."""
    from .hf_clap import HFClap

    spec = resolve_alm(model)  # .pt/.pth files resolve only when they exist
    if isinstance(spec, Registered):
        _check_requires(spec, model, parameter)
        return
    if not isinstance(spec, HFClap):
        return
    file = Path(os.fspath(spec.model)).expanduser()
    if file.suffix in _CHECKPOINT_SUFFIXES and not file.exists():  # meant as a file, not a hub id
        raise ModelLoadError(
            f"Cannot load {parameter}={os.fspath(model)!r}: the checkpoint file "
            f"{os.fspath(spec.model)!r} does not exist."
        )
    _check_hf_checkpoint(spec.model, parameter)


# Files of the msclap (.pth) and laion_clap (.pt) backends, and what training scripts write.
_CHECKPOINT_SUFFIXES = {".pt", ".pth", ".ckpt", ".bin", ".safetensors"}


def _check_hf_checkpoint(model, parameter: str) -> None:
    """A directory with a config.json, or a valid hub id (in the local cache when offline)."""
    source, _ = model_source(model, None)  # weights unpacked from a pickle load from their copy
    path = Path(os.fspath(source)).expanduser()
    text = os.fspath(source)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise load_error(model, parameter, FileNotFoundError(f"no config.json in {str(path)!r}"))
        return
    if looks_local(source):
        reason = "not a directory" if path.exists() else "no such directory"
        raise load_error(model, parameter, FileNotFoundError(f"{reason}: {str(path)!r}"))
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(text)
    except HFValidationError as exc:
        raise ModelLoadError(
            f"Cannot load {parameter}={text!r}: it is neither an existing directory nor a valid "
            f"Hugging Face model id ({exc})."
        ) from None
    if hf_offline():
        from huggingface_hub import try_to_load_from_cache

        if not isinstance(try_to_load_from_cache(text, "config.json"), str):
            raise load_error(model, parameter, OSError(f"{text!r} is not in the local Hugging Face cache"))


def check_fm_layers(model, layers, parameter: str = "layer") -> None:
    """Raise if a layer index is out of range for ``model``, where its configuration is at hand.

    The count is that of :class:`~sklearn_zsfuse.FMEmbedder`: transformer layers + 1
    (the front end's projection); ``"all"`` always fits.
    """
    n_layers = _layer_count(model)
    if n_layers is None:
        return  # a hub id not in the cache: FMEmbedder.fit checks it after loading the config
    bad = [k for k in layers if k != "all" and not -n_layers <= k < n_layers]
    if bad:
        raise ValueError(
            f"{parameter} {bad[0]} is out of range for {str(model)!r}, which has {n_layers} hidden "
            f"states (valid: {-n_layers}..{n_layers - 1} or 'all')."
        )


def _layer_count(model) -> int | None:
    import json

    spec = resolve_fm(model)
    if isinstance(spec, Registered):
        return spec.n_layers  # None where its registration does not say: the load checks it
    source, _ = model_source(model, None)
    path = Path(os.fspath(source)).expanduser()
    config = path / "config.json" if path.is_dir() else None
    if config is None:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(os.fspath(source), "config.json")
        config = Path(cached) if isinstance(cached, str) else None
    try:
        return int(json.loads(config.read_text(encoding="utf-8"))["num_hidden_layers"]) + 1
    except (AttributeError, OSError, ValueError, KeyError, TypeError):
        return None  # unreadable here: the load reports it
