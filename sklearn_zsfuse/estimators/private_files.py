"""Files a pickle carries out of a model directory, and the private directory they are unpacked to.

``store_weights_in_pickle=True`` copies a local model directory into the pickle.
Only what is in the directory goes: a link that leads out of it
(``notes.txt -> ~/secret.txt``) is refused, not followed. The one exception is the
Hugging Face cache's own layout, where ``snapshots/<rev>/<file>`` links to
``../../blobs/<hash>`` of the same repository.

Embedded files are unpacked into a private temporary directory, removed when the
process exits normally and when it is ended by SIGTERM (a job scheduler's stop, a
``kill``), where ``atexit`` handlers do not run.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path

__all__ = ["model_paths", "outside_model_directory", "private_directory"]


def outside_model_directory(directory: Path, path: Path) -> str | None:
    """Where ``path`` really is, if that is outside ``directory`` (and its hub cache blobs), else None."""
    real = Path(os.path.realpath(path))
    root = Path(os.path.realpath(directory))
    allowed = [root]
    if root.parent.name == "snapshots":  # <repo>/snapshots/<rev> -> <repo>/blobs
        allowed.append(root.parent.parent / "blobs")
    if any(real == a or a in real.parents for a in allowed):
        return None
    return str(real)


def model_paths(directory: Path) -> dict[str, Path]:
    """The files of ``directory`` to embed, by relative name (hidden ones left out).

    Raises ``ValueError`` naming a link that leads out of the directory.
    """
    paths = {}
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            outside = outside_model_directory(directory, path)
            if outside is not None:
                raise ValueError(
                    f"store_weights_in_pickle=True: the model directory {str(directory)!r} holds "
                    f"{rel.as_posix()!r}, a link to {outside!r} outside it; refusing to put that file into "
                    "the pickle. Remove the link, or copy the file into the directory."
                )
            paths[rel.as_posix()] = path
    return paths


_on_sigterm: list[Path] = []
_sigterm_lock = threading.Lock()


def _remove_and_terminate(signum, frame):
    for path in _on_sigterm:
        shutil.rmtree(path, ignore_errors=True)
    # Then end as SIGTERM would have ended the process without us.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def private_directory(prefix: str) -> Path:
    """A fresh directory (mode 0700) removed at exit and on SIGTERM.

    The SIGTERM handler is installed only where SIGTERM still has its default action
    (a handler of the user's own is left alone: it decides how the process ends, and
    ``atexit`` runs if it exits) and only from the main thread, where Python allows it.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    with _sigterm_lock:
        _on_sigterm.append(path)
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGTERM"):
            if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
                signal.signal(signal.SIGTERM, _remove_and_terminate)
    return path
