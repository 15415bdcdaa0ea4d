"""Reading one disk-cache entry without trusting what is at its path.

A cache directory may be shared, old, or written by someone else: where an entry
should be there may be a FIFO (opening it would block forever), a link to
``/dev/zero`` or a huge file (reading it would exhaust memory). An entry is read only
if it is a regular file of at most the size its caller expects, opened without
blocking and without following a link.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

__all__ = ["ABSENT", "NOT_AN_ENTRY", "read_entry"]

ABSENT = object()  # no entry (or an unreadable one): a miss
NOT_AN_ENTRY = object()  # something the cache never writes: corrupt


def read_entry(path: Path, limit: int):
    """The bytes of the regular file ``path`` if it holds at most ``limit``, else :data:`ABSENT` /
    :data:`NOT_AN_ENTRY`; never blocks on a FIFO or device, never follows a link."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except (FileNotFoundError, NotADirectoryError):
        return ABSENT
    except OSError as exc:
        return NOT_AN_ENTRY if exc.errno == errno.ELOOP else ABSENT  # ELOOP: a link (the cache writes none)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return NOT_AN_ENTRY
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
        return NOT_AN_ENTRY if len(data) > limit else data
    except OSError:
        return ABSENT
    finally:
        os.close(fd)
