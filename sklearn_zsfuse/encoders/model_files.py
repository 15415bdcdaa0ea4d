"""The files of a model directory that may go into a pickle: what is in it, never what a link leads to.

``store_weights_in_pickle=True`` copies a local model directory into the pickle.
Only what is in the directory goes: a link that leads out of it
(``notes.txt -> ~/secret.txt``) is refused, not followed. The one exception is the
Hugging Face cache's own layout, where ``snapshots/<rev>/<file>`` links to
``../../blobs/<hash>`` of the same repository.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["model_paths", "outside_model_directory"]


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
