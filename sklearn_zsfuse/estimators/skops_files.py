"""Loading a ``.skops`` file from someone else: bounded, and only the types this package trusts.

``skops.io.load`` builds only trusted types, but it inflates every zip entry it
reads: a 2 MB file can hold a 2 GB deflated entry of zeros, which would be held in
memory and unpacked to ``$TMPDIR`` before anything failed. :func:`load_skops` first
reads the zip's directory and refuses a file whose entries inflate to more than its
contents can honestly hold (model weights hardly compress), then applies the
trusted-types check the README describes, then loads.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from ..encoders.hub import ModelLoadError

__all__ = ["MAX_INFLATION", "load_skops"]

# A fitted pipeline's arrays and embedded weights compress a little (weights about 1.1x);
# a zero-filled bomb by a factor of 1000. Entries may inflate to this many times the file's
# size, plus a fixed allowance for small files.
MAX_INFLATION = 16
_ALLOWANCE = 64 << 20


def _check_archive(path: Path) -> None:
    size = path.stat().st_size
    try:
        with zipfile.ZipFile(path) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ModelLoadError(f"{str(path)!r} is not a readable .skops file ({type(exc).__name__}: {exc}).") from None
    limit = _ALLOWANCE + MAX_INFLATION * size
    if total > limit:
        raise ModelLoadError(
            f"{str(path)!r} ({size:,} bytes) inflates to {total:,} bytes, more than a model file of its size "
            f"can hold (at most {limit:,}); refusing to read it (the file may be crafted)."
        )


def load_skops(path, trusted=()):
    """The estimator in the ``.skops`` file ``path``; nothing from the file runs.

    The file is refused (:class:`~sklearn_zsfuse.ModelLoadError`, naming it) if its
    entries inflate to far more than its size, or if it holds a type that is neither
    scikit-learn's, numpy's, this package's (``SKOPS_TRUSTED_TYPES``) nor in
    ``trusted`` (type names you have reviewed). What ``zsfuse predict MODEL.skops`` uses.
    """
    import skops.io as sio

    from .persistence import SKOPS_TRUSTED_TYPES

    path = Path(os.fspath(path))
    _check_archive(path)
    allowed = [*SKOPS_TRUSTED_TYPES, *trusted]
    try:
        untrusted = sorted(set(sio.get_untrusted_types(file=path)) - set(allowed))
        if untrusted:
            raise ModelLoadError(
                f"{str(path)!r} holds types that are not trusted, so it was not loaded: {untrusted}. If you trust "
                "the file, load it in Python with skops.io.load(path, trusted=[...])."
            )
        return sio.load(path, trusted=allowed)
    except ModelLoadError as exc:
        if str(path) in str(exc):
            raise
        raise ModelLoadError(f"{str(path)!r}: {exc}") from exc
    except Exception as exc:  # skops raises many types for a damaged or foreign file
        raise ModelLoadError(
            f"{str(path)!r} is not a readable .skops file ({type(exc).__name__}: {exc})."
        ) from exc
