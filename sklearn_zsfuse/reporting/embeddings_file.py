"""Writing an embeddings matrix to the file the user named, whole or not at all.

``zsfuse embed --out X.npy`` writes the matrix and ``X.paths.txt`` (its rows' clips);
``--out X.parquet`` one table. Each file is written to a temporary file beside its
target and renamed over it once complete, so a failed write (a full disk, an
interrupt) leaves the earlier files as they were. The ``.npy`` file is written
through an open file, so it has exactly the name given (``np.save`` appends ``.npy``
to a name spelled otherwise, ``X.NPY`` included).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

import numpy as np

__all__ = ["listing_path", "write_embeddings"]


def listing_path(out: Path) -> Path:
    """Where the rows' clip paths go beside an ``.npy`` file: ``X.paths.txt``."""
    return out.with_suffix(".paths.txt")


@contextlib.contextmanager
def _replacing(path: Path):
    """A new temporary file beside ``path`` (the block renames it over ``path``); removed if the block fails.

    Created with the user's umask, as the file it replaces would be (``mkstemp`` makes 0600).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    open(tmp, "xb").close()
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_embeddings(out, X: np.ndarray, paths: list[str], names: list[str], columns: dict | None = None) -> str:
    """Write ``X`` (rows in the order of ``paths``) to ``out`` (.npy + .paths.txt, or .parquet).

    Returns what was written, in words. ``columns`` (label, speaker, fold, ...) go
    into a parquet table beside the path.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".npy":
        listing = listing_path(out)
        with _replacing(out) as tmp_matrix, _replacing(listing) as tmp_listing:
            with open(tmp_matrix, "wb") as f:
                np.save(f, X)
            tmp_listing.write_text("".join(f"{p}\n" for p in paths), encoding="utf-8")
            # Both are complete: only now does either replace an earlier file.
            os.replace(tmp_matrix, out)
            os.replace(tmp_listing, listing)
        return f"{X.shape[0]} x {X.shape[1]} embeddings: {out} (rows in the order of {listing})"
    import pandas as pd

    frame = pd.DataFrame(X, columns=names)
    frame.insert(0, "path", paths)
    for i, (name, values) in enumerate((columns or {}).items(), start=1):
        frame.insert(i, name, values)
    with _replacing(out) as tmp:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, out)
    return f"{X.shape[0]} x {X.shape[1]} embeddings: {out}"
