"""Where model files come from: the Hugging Face hub, its cache, or a local path.

One set of rules for every backend: when the hub is offline
(``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE``), when a model string names a local
path rather than a hub id, and what a failed load tells the user.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

__all__ = [
    "LOAD_ERRORS",
    "ModelLoadError",
    "check_hf_checkpoint",
    "hf_config_file",
    "hf_offline",
    "hub_file",
    "load_error",
    "looks_local",
    "pretrained",
]

# What from_pretrained raises for a checkpoint it cannot use (pickle: a .bin refused by
# torch's weights_only loader).
LOAD_ERRORS = (OSError, ValueError, pickle.UnpicklingError)


class ModelLoadError(ValueError):
    """A model id or path could not be resolved or loaded."""


def hf_offline() -> bool:
    """Whether the user has switched the hub off (either variable, any truthy spelling)."""
    return any(
        os.environ.get(var, "0").strip().lower() not in {"0", "", "false", "no", "off"}
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def looks_local(source) -> bool:
    """Whether ``source`` names a local path rather than a hub id.

    It does if it exists, starts like a path (``/``, ``.``, ``~``) or has more than
    one ``/`` (hub ids are ``owner/name``).
    """
    text = os.fspath(source)
    return Path(text).expanduser().exists() or text.startswith(("/", ".", "~")) or text.count("/") > 1


def _caused_by(exc: BaseException, kind: type) -> bool:
    """Whether ``kind`` is in the chain (transformers 4 wraps the unpickling error in an OSError)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def load_error(model, parameter: str, exc: Exception, *, what: str = "", hint: str = "") -> ModelLoadError:
    """One message for an unknown id, a missing directory, an offline hub or a refused pickle.

    ``what`` names the part that failed ("tokenizer", ...) when it is not the model
    itself; ``hint`` says what to pass instead.
    """
    text = os.fspath(model)
    path = Path(text).expanduser()
    part = f"the {what} " if what else "the "
    if _caused_by(exc, pickle.UnpicklingError):
        reason = (
            "its pickled weights file holds more than tensors, and checkpoints are loaded with "
            "torch's weights_only loader, which refuses to run code from a file. Use a "
            "safetensors copy of the checkpoint (or convert the trusted original to safetensors)."
        )
    elif looks_local(text) and not path.exists():
        reason = f"{part}directory {str(path)!r} does not exist."
    elif looks_local(text):
        reason = f"{str(path)!r} is not a loadable {what or 'checkpoint'} directory."
    elif hf_offline():
        reason = (
            f"{part if what else ''}{text!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set; "
            "download it once online or pass a local directory."
        )
    else:
        reason = (
            f"{part if what else ''}{text!r} is neither a local directory nor a model id that could be fetched from "
            "the Hugging Face Hub (check the spelling, your network, or pass a local directory)."
        )
    return ModelLoadError(
        f"Cannot load {parameter}={text!r}: {reason}{' ' + hint if hint else ''} "
        f"[{type(exc).__name__}: {exc}]"
    )


def pretrained(cls, source: str, *, what: str, model, hint: str, **kwargs):
    """``cls.from_pretrained(source)`` with one clear error when it cannot be had.

    A local path is loaded from disk only; a hub id from the cache only when offline.
    Code from the model's files never runs (``trust_remote_code=False``; see
    :mod:`.remote_code` for the models the user allows).
    """
    kwargs.setdefault("trust_remote_code", False)
    local = Path(os.path.expanduser(str(source)))
    is_local = local.is_dir()
    if not is_local and looks_local(str(source)):
        raise ModelLoadError(
            f"Cannot load model={model!r}: the {what} directory {str(local)!r} does not exist."
        )
    try:
        return cls.from_pretrained(
            str(local) if is_local else str(source),
            local_files_only=is_local or hf_offline(),
            **kwargs,
        )
    except (OSError, ValueError, EnvironmentError) as exc:
        if is_local:
            reason = f"{str(local)!r} does not hold a loadable {what}"
        elif hf_offline():
            reason = (
                f"the {what} {source!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE "
                "is set"
            )
        else:
            reason = f"the {what} {source!r} could not be fetched from the Hugging Face Hub"
        raise ModelLoadError(
            f"Cannot load model={model!r}: {reason}. {hint} [{type(exc).__name__}: {exc}]"
        ) from exc


def hub_file(repo: str, filename: str, *, revision, model, hint: str) -> str:
    """A file of a hub repository from the standard cache (downloaded there when online)."""
    from huggingface_hub import hf_hub_download

    try:
        return hf_hub_download(repo, filename, revision=revision, local_files_only=hf_offline())
    except Exception as exc:  # hub errors have many types; all mean "not available here"
        where = (
            "it is not in the local Hugging Face cache and HF_HUB_OFFLINE is set"
            if hf_offline()
            else "it could not be downloaded"
        )
        raise ModelLoadError(
            f"Cannot load model={model!r}: needs {filename!r} from the hub repository {repo!r}, but "
            f"{where}. {hint} [{type(exc).__name__}: {exc}]"
        ) from exc


def check_hf_checkpoint(model, parameter: str) -> None:
    """Raise unless ``model`` is a directory with a config.json, or a valid hub id (cached when offline).

    The file system and the local Hugging Face cache only: never the network. A name
    that can only be a path (no ``owner/``, or starting like one) and is not there is
    refused with the near names (:mod:`.names`).
    """
    from .names import near_hint, unknown_local_name

    text = os.fspath(model)
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise load_error(model, parameter, FileNotFoundError(f"no config.json in {str(path)!r}"))
        return
    unknown = unknown_local_name(model, parameter)  # 'tiny-clpa': never asked of the hub
    if unknown is not None:
        raise ModelLoadError(unknown)
    if looks_local(text):
        reason = "not a directory" if path.exists() else "no such directory"
        hint = "" if path.exists() else near_hint(text)
        raise load_error(model, parameter, FileNotFoundError(f"{reason}: {str(path)!r}"), hint=hint)
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(text)
    except HFValidationError as exc:
        raise ModelLoadError(
            f"Cannot load {parameter}={text!r}: it is neither an existing directory nor a valid "
            f"Hugging Face model id ({exc})."
        ) from None
    if hf_offline() and hf_config_file(text) is None:
        raise load_error(model, parameter, OSError(f"{text!r} is not in the local Hugging Face cache"))


def hf_config_file(model) -> Path | None:
    """The config.json of a model directory, or of a hub id in the local cache; None if neither."""
    path = Path(os.fspath(model)).expanduser()
    if path.is_dir():
        config = path / "config.json"
        return config if config.is_file() else None
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(os.fspath(model), "config.json")
    except Exception:  # not a valid repo id: nothing cached under it
        return None
    return Path(cached) if isinstance(cached, str) else None
