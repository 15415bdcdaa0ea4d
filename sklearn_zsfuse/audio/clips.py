"""Clips: what an item of ``X`` is, and the errors that name one.

Every estimator takes ``X`` as a sequence of clips: file paths (anything soundfile
or librosa can decode) or 1-D waveforms at a known ``sampling_rate``.
:func:`as_clip_list` checks types and shapes only; :mod:`.decode` reads them.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

__all__ = [
    "AudioInputError",
    "Clip",
    "MAX_SAMPLING_RATE",
    "MIN_SAMPLING_RATE",
    "SilentAudioWarning",
    "as_clip_list",
    "raise_for_problems",
]

MIN_SAMPLING_RATE = 1000
MAX_SAMPLING_RATE = 384_000
# A 2-D item is read as multichannel audio only if one axis is this small.
_MAX_CHANNELS = 32
# "http://", "s3://", "file://": a scheme, not a folder (a drive letter has no "//").
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")


class AudioInputError(ValueError):
    """A clip in ``X`` cannot be used; the message names its index and source."""


class SilentAudioWarning(UserWarning):
    """Some clips are digital silence (every sample 0): their outputs say nothing about them."""


@dataclass(frozen=True)
class Clip:
    """One item of ``X``: where it came from and how to hash and decode it."""

    index: int
    source: object  # a Path, or a numpy array
    sampling_rate: int | None = None

    @property
    def is_path(self) -> bool:
        return isinstance(self.source, Path)

    def describe(self) -> str:
        if self.is_path:
            return f"X[{self.index}] ({str(self.source)!r})"
        return f"X[{self.index}] (array of shape {np.shape(self.source)})"

    def content_key(self) -> str:
        """A digest of the clip's content, not its name: renamed files hit, edited files miss."""
        h = hashlib.blake2b(digest_size=16)
        if self.is_path:
            h.update(b"file:")
            with _open(self) as f:  # in chunks: an hour of audio is never all in memory
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
        else:
            arr = np.ascontiguousarray(self.source)
            h.update(f"array:{arr.dtype.str}:{arr.shape}:{self.sampling_rate}:".encode())
            h.update(memoryview(arr).cast("B"))  # the same bytes as arr.tobytes(), without a copy
        return h.hexdigest()


_NOT_REGULAR = MappingProxyType({
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
})


def _refuse_special(clip: Clip, mode: int) -> None:
    """Only regular files are read: opening or reading a FIFO or device can wait forever."""
    if stat.S_ISDIR(mode):
        raise AudioInputError(f"{clip.describe()}: is a directory, not an audio file.")
    if not stat.S_ISREG(mode):
        kind = _NOT_REGULAR.get(stat.S_IFMT(mode), "a special file")
        raise AudioInputError(f"{clip.describe()}: is {kind}, not a regular file; only audio files are read.")


def _open(clip: Clip):
    """The clip's file, opened for reading, or an AudioInputError naming it.

    The path is checked before it is opened, and opened without blocking, so a FIFO
    or device named ``.wav`` is refused instead of waited on.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        _refuse_special(clip, os.stat(clip.source).st_mode)
        fd = os.open(clip.source, flags)
    except FileNotFoundError:
        raise AudioInputError(f"{clip.describe()}: file not found.") from None
    except IsADirectoryError:
        raise AudioInputError(f"{clip.describe()}: is a directory, not an audio file.") from None
    except OSError as exc:
        raise AudioInputError(f"{clip.describe()}: cannot be read ({exc}).") from None
    try:
        _refuse_special(clip, os.fstat(fd).st_mode)  # the path may have changed since the check
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def as_clip_list(X, sampling_rate: int | None) -> list[Clip]:
    """Wrap each item of ``X`` as a :class:`Clip`, checking types and shapes only.

    Accepts a list/tuple/Series/1-D object array of paths or waveforms, or a
    2-D numeric array whose rows are equal-length waveforms.
    """
    if isinstance(X, (str, bytes, os.PathLike)):
        raise AudioInputError(
            "X must be a sequence of clips (paths or waveforms), got a single path; "
            "wrap it in a list: [path]."
        )
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):
        raise AudioInputError(
            "X is a DataFrame; pass one column of paths or waveforms, e.g. df['path']."
        )
    if hasattr(X, "to_numpy") and getattr(X, "ndim", 1) == 1:  # pandas Series
        X = X.to_numpy()
    if isinstance(X, np.ndarray):
        if X.ndim == 2 and X.dtype != object:
            items = list(X)
        elif X.ndim == 1 and X.dtype == object or X.ndim == 1 and X.dtype.kind in "US":
            items = list(X)
        elif X.ndim == 1:
            raise AudioInputError(
                "X is a single 1-D numeric array; pass a list of clips: [waveform]."
            )
        else:
            raise AudioInputError(
                f"X has shape {X.shape}: expected a sequence of clips (paths or 1-D waveforms)."
            )
    else:
        try:
            once = iter(X) is X  # a generator or other iterator: it can be read only once
        except TypeError:
            once = False
        try:
            items = list(X)
        except TypeError:
            raise AudioInputError(
                f"X must be a sequence of clips (paths or waveforms), got {type(X).__name__}."
            ) from None
        if once and not items:
            raise AudioInputError(
                f"X is empty: it is an iterator ({type(X).__name__}) that yields no clip. An iterator can be "
                "read only once: if an earlier call already read it to its end (fit_transform reads X twice, "
                "in fit and in transform; so does a FeatureUnion), pass a list: list(X)."
            )
    clips, urls = [], []
    for i, item in enumerate(items):
        if isinstance(item, (str, os.PathLike)):
            text = os.fspath(item)
            if isinstance(text, str) and _URL.match(text):  # Path() would fold "//" into "/"
                urls.append(f"X[{i}] ({text!r}): URLs are not supported; download the file first")
            clips.append(Clip(i, Path(item)))
            continue
        if isinstance(item, bytes):
            raise AudioInputError(f"X[{i}] is bytes; pass a path or a decoded waveform.")
        if hasattr(item, "detach") and hasattr(item, "cpu"):  # a torch tensor
            item = item.detach().cpu()
            if item.is_floating_point():  # numpy has no bfloat16
                item = item.float()
            item = item.numpy()
        arr = np.asarray(item)
        if arr.dtype == object or arr.dtype.kind not in "fiu":
            raise AudioInputError(
                f"X[{i}] has type {type(item).__name__} (dtype {arr.dtype}): expected a file path "
                "or a numeric waveform."
            )
        if arr.ndim == 0 or arr.ndim > 2:
            raise AudioInputError(
                f"X[{i}] has shape {arr.shape}: expected a 1-D waveform or a 2-D "
                "(channels, samples) array."
            )
        if arr.ndim == 2 and min(arr.shape) > _MAX_CHANNELS:
            raise AudioInputError(
                f"X[{i}] has shape {arr.shape}: a 2-D clip must be (channels, samples) or "
                f"(samples, channels) with at most {_MAX_CHANNELS} channels. Did you pass "
                "feature vectors instead of audio?"
            )
        if sampling_rate is None:
            raise AudioInputError(
                f"X[{i}] is a waveform array but sampling_rate is None: set the estimator's "
                "sampling_rate parameter to the rate of your arrays (e.g. 16000)."
            )
        clips.append(Clip(i, arr, int(sampling_rate)))
    if not clips:
        raise AudioInputError("X is empty: expected at least one clip.")
    raise_for_problems(urls, len(clips))
    return clips


def raise_for_problems(problems: list[str], n_clips: int) -> None:
    """One :class:`AudioInputError` listing every bad clip, so a corpus is fixed in one pass."""
    if not problems:
        return
    shown = "\n  ".join(problems[:20])
    more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
    raise AudioInputError(
        f"{len(problems)} of {n_clips} clip(s) cannot be used:\n  {shown}{more}\n"
        "Fix or remove these clips and run again."
    )


