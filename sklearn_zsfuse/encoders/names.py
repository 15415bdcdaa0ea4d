"""Model names that can only mean a local path: refused at once when nothing is there, with near names.

A Hugging Face model id reads ``owner/name``. A model name without an owner
(``tiny-clap``, ``egemap``) or one that starts like a path (``./x``, ``/x``, ``~``,
``a/b/c``) can only be a file or directory here, or a registered name: when it is
neither, asking the hub for it costs tens of seconds of retries offline and ends
in a message that does not say what was meant. :func:`unknown_local_name` answers
from the file system and the registry alone, and names what is near: entries of
the directory the name points into, and registered model names.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from .declarations import declared

__all__ = ["near_hint", "near_names", "unknown_local_name"]


def near_names(text: str, limit: int = 3) -> list[str]:
    """Names close to ``text``: entries of the directory it points into (as they would be typed), registered names."""
    head, tail = os.path.split(text)
    folder = Path(head or ".").expanduser()
    candidates = []
    try:
        entries = [e for e in os.listdir(folder) if not e.startswith(".")] if folder.is_dir() else []
    except OSError:  # unreadable: nothing to suggest from it
        entries = []
    by_entry = {e: os.path.join(head, e) if head else e for e in entries}
    with declared.lock:
        registered = sorted({name for _, name in declared.encoders})
    candidates = list(by_entry) + [r for r in registered if r not in by_entry]
    close = difflib.get_close_matches(tail or text, candidates, n=limit, cutoff=0.75)
    return [by_entry.get(c, c) for c in close]


def near_hint(text: str) -> str:
    """``Did you mean 'a' or 'b'?`` with the names near ``text``, or an empty string."""
    near = near_names(text)
    return f"Did you mean {' or '.join(repr(n) for n in near)}?" if near else ""


def unknown_local_name(model, parameter: str) -> str | None:
    """Why a name with no owner (so not a hub id) cannot load, when it is no path here; else None.

    The message of the :class:`~.hub.ModelLoadError` its caller raises. ``parameter``
    says where the name came from (``--alm``, ``model``, a saved file's parameter).
    Callers ask this only for names no registration claimed; names that start like a
    path get the path's own message (:func:`~.hub.check_hf_checkpoint`).
    """
    text = os.fspath(model)
    if "/" in text or text.startswith(("~", ".")) or Path(text).expanduser().exists():
        return None
    hint = near_hint(text)
    return (f"Cannot load {parameter}={text!r}: there is no directory {text!r} in {os.getcwd()!r}, no model is "
            f"registered under that name, and it is not a Hugging Face model id (those read 'owner/name')."
            + (f" {hint}" if hint else ""))
