"""Which models may run Python code from their own repository (``trust_remote_code``).

Some models (CLSP) ship their code with their weights: loading them runs that code.
The model name comes from an estimator's ``model`` parameter, which a loaded
``.skops`` or pickle file sets, so the parameter alone must not be able to run code.
Only the user can allow it, per model, in one of two ways a file cannot reach:

- in Python: ``allow_remote_code("yfyeung/CLSP")`` (for this process; used as a
  context manager, only inside the ``with`` block);
- in the environment (inherited by worker processes and by the ``zsfuse``
  command): ``ZSFUSE_TRUST_REMOTE_CODE=yfyeung/CLSP,/models/my-clsp``.

An entry is a hub id or a local directory. A hub id allows its default branch only
(``revision`` None or ``"main"``); ``id@rev`` allows the revision ``rev`` (a pull
request's ``refs/pr/N`` can be pushed by anyone, so it is never implied). A
directory is compared by its real path. Every other Hugging Face load passes
``trust_remote_code=False``, so transformers never asks at a terminal either.
"""

from __future__ import annotations

import contextlib
import os

from .declarations import declared as _declared
from .hub import ModelLoadError, looks_local

__all__ = ["ENV_VAR", "RemoteCodeRefused", "allow_remote_code", "check_remote_code", "remote_code_allowed"]

ENV_VAR = "ZSFUSE_TRUST_REMOTE_CODE"



class RemoteCodeRefused(ModelLoadError):
    """A model needs to run code from its repository and the user has not allowed it."""


def _key(model, revision=None) -> str:
    """One spelling per (repository, revision): a directory's real path, or ``id@revision``."""
    text = os.fspath(model).strip()
    if looks_local(text):
        return "dir:" + os.path.realpath(os.path.expanduser(text))
    repo, _, pinned = text.partition("@")
    return f"hub:{repo}@{pinned or revision or 'main'}"


def _env_entries() -> list[str]:
    return [e.strip() for e in os.environ.get(ENV_VAR, "").split(",") if e.strip()]


def remote_code_allowed(model, revision=None) -> bool:
    """Whether the user allowed ``model`` (at ``revision``) to run its own code in this process."""
    key = _key(model, revision)
    with _declared.lock:
        entries = list(_declared.remote_code)
    return any(_key(e) == key for e in entries + _env_entries())


class _Allowance(contextlib.AbstractContextManager):
    def __init__(self, entries):
        self._entries = entries

    def __exit__(self, *exc):
        with _declared.lock:
            for e in self._entries:
                _declared.remote_code.remove(e)
        return None


def allow_remote_code(*models: str) -> _Allowance:
    """Allow each of ``models`` (hub id, ``id@revision`` or directory) to run its own code.

    Effective at once, for this process; as a context manager, only until the block ends::

        allow_remote_code("yfyeung/CLSP")              # from now on
        with allow_remote_code("/models/my-clsp"):     # inside the block only
            scorer.fit(paths, labels)

    Worker processes (``GridSearchCV(n_jobs=...)``) do not inherit it: set
    ``ZSFUSE_TRUST_REMOTE_CODE`` before they start instead.
    """
    entries = []
    for model in models:
        if not isinstance(model, (str, os.PathLike)) or not os.fspath(model).strip():
            raise TypeError(f"allow_remote_code takes hub ids or directories, got {model!r}")
        entries.append(os.fspath(model))
    with _declared.lock:
        _declared.remote_code.extend(entries)
    return _Allowance(entries)


def check_remote_code(source, revision=None, *, model=None, parameter: str = "model") -> None:
    """Raise :class:`RemoteCodeRefused` unless the user allowed ``source`` to run its code."""
    if remote_code_allowed(source, revision):
        return
    shown = os.fspath(model if model is not None else source)
    at = f" at revision {revision!r}" if revision not in (None, "main") and not looks_local(os.fspath(source)) else ""
    entry = os.fspath(source) + (f"@{revision}" if at else "")
    raise RemoteCodeRefused(
        f"Cannot load {parameter}={shown!r}: it runs Python code from its own repository "
        f"({os.fspath(source)!r}{at}, trust_remote_code), and a model name alone never allows that (a "
        f"loaded .skops or pickle file sets it). If you trust that code, allow it yourself: in Python "
        f"sklearn_zsfuse.encoders.allow_remote_code({entry!r}), or in the environment (also for the "
        f"zsfuse command) {ENV_VAR}={entry}."
    )
