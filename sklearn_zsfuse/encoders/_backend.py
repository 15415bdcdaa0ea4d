"""What the wrappers of third-party packages (msclap, laion_clap) share.

Optional packages are imported here, lazily, with the user's process state
(warnings filters, logging levels, ``sys.path``, torch's RNG) put back as it
was. Hub files, offline mode and load errors follow :mod:`.hub`, as for the
Hugging Face backends.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import sys
import threading
import warnings

# Hub and offline rules are shared with the Hugging Face backends (.hub).
from .hub import ModelLoadError, hf_offline, hub_file, pretrained  # noqa: F401

__all__ = [
    "BACKEND_MANIFEST",
    "MissingExtraError",
    "file_stamp",
    "hf_offline",
    "hub_file",
    "import_optional",
    "pretrained",
    "restored_process_state",
    "swapped_attribute",
]


# Written by the backends whose files are not a Hugging Face directory (msclap, laion_clap)
# when their files are embedded in a pickle: which backend, and which file is what.
BACKEND_MANIFEST = "zsfuse-backend.json"


class MissingExtraError(ImportError):
    """An optional backend package is not installed; the message names the extra."""


@contextlib.contextmanager
def restored_process_state():
    """Undo what a third-party import or constructor changes in the user's process.

    msclap calls ``warnings.filterwarnings("ignore")`` and silences transformers'
    logging at import; laion_clap appends to ``sys.path``; model constructors
    draw their random initial weights from torch's global RNG.
    """
    import torch

    loggers = {name: logging.getLogger(name).level for name in ("transformers", "root")}
    path = list(sys.path)
    with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
        try:
            yield
        finally:
            sys.path[:] = path
            for name, level in loggers.items():
                logging.getLogger(None if name == "root" else name).setLevel(level)


_import_lock = threading.RLock()


def import_optional(module: str, *, package: str, extra: str, model, search_path: str | None = None):
    """Import ``module`` of an optional package, or say which extra installs it."""
    with _import_lock:
        if sys.modules.get(module) is not None:
            return sys.modules[module]
        try:
            with restored_process_state():
                if search_path is not None:
                    sys.path.insert(0, search_path)
                return importlib.import_module(module)
        except ImportError as exc:
            raise MissingExtraError(
                f"model={model!r} needs the {package} package, which cannot be imported "
                f"({type(exc).__name__}: {exc}). Install it with: pip install "
                f"'sklearn-zsfuse[{extra}]' (it pins numpy<2 and transformers<5: use a separate "
                "virtual environment; see the README's table of models)."
            ) from exc


_swap_lock = threading.RLock()


@contextlib.contextmanager
def swapped_attribute(owner, name: str, value):
    """Replace ``owner.name`` for the duration of a block, then put the original back.

    The packages hard-code hub ids ('roberta-base', 'gpt2') in their constructors;
    this points those loads at the files the user gave, only while we construct.
    """
    with _swap_lock:
        original = getattr(owner, name)
        setattr(owner, name, value)
        try:
            yield
        finally:
            setattr(owner, name, original)


def file_stamp(path: str) -> str:
    """A checkpoint file's or text model directory's path with the digest of its bytes (see .file_digest)."""
    from .file_digest import content_stamp

    return content_stamp(path)
