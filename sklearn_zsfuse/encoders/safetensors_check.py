"""Whether a ``.safetensors`` file is whole, from its header alone.

A safetensors file is an 8-byte little-endian header length, a JSON header naming
each tensor's dtype, shape and byte range, then the data. The ranges must tile the
data exactly. Checking that before a load turns a damaged or forged file into one
sentence naming it (instead of a raw ``SafetensorError``), and lets embedded model
files be refused before a byte of them is written to disk.
"""

from __future__ import annotations

import json
import math
import os
import stat
from types import MappingProxyType

__all__ = ["MAX_HEADER", "safetensors_problem", "safetensors_file_problem"]

# safetensors' own limit on the JSON header
MAX_HEADER = 100 * 1024 * 1024

# bits per element of every dtype safetensors writes
_BITS = MappingProxyType({
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "F4": 4, "F6_E2M3": 6,
    "F6_E3M2": 6, "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32,
    "I64": 64, "U64": 64, "F64": 64, "C64": 64,
})


def safetensors_problem(head: bytes, size: int) -> str | None:
    """What is wrong with a safetensors file of ``size`` bytes that starts with ``head``, or None.

    ``head`` must hold at least the 8-byte length and the header it announces.
    """
    if size < 8 or len(head) < 8:
        return f"it is {size} bytes long, shorter than a safetensors header"
    n = int.from_bytes(head[:8], "little")
    if n > MAX_HEADER or 8 + n > size:
        return f"its header claims {n:,} bytes, but the file holds {size:,}"
    if len(head) < 8 + n:
        return "its header is cut short"
    try:
        header = json.loads(head[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return f"its header is not valid JSON ({exc})"
    if not isinstance(header, dict):
        return "its header is not a JSON object"
    data = size - 8 - n
    ranges = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (start, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
            needed = -(-math.prod(shape) * _BITS[dtype] // 8)
            valid = all(isinstance(v, int) and v >= 0 for v in (*shape, start, end))
        except (KeyError, TypeError, ValueError):
            return f"its header entry for {name!r} is malformed"
        if not valid or start > end or end > data:
            return f"tensor {name!r} has byte range {[start, end]} outside the {data:,} data bytes"
        if end - start != needed:
            return f"tensor {name!r} of shape {shape} ({dtype}) needs {needed:,} bytes, its range holds {end - start:,}"
        ranges.append((start, end, name))
    covered = 0
    for start, end, name in sorted(ranges):
        if start != covered:
            return f"tensor {name!r} starts at byte {start:,}, not where the previous one ends ({covered:,})"
        covered = end
    if covered != data:
        return f"its tensors cover {covered:,} of the {data:,} data bytes (the file is truncated or padded)"
    return None


def safetensors_file_problem(path) -> str | None:
    """:func:`safetensors_problem` of a file on disk, reading its header only."""
    try:
        # without blocking: a FIFO where the weights should be is refused, not waited on
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                return "it is not a regular file"
            size = st.st_size
            first = f.read(8)
            n = int.from_bytes(first, "little") if len(first) == 8 else 0
            head = first + (f.read(n) if 0 < n <= min(MAX_HEADER, size) else b"")
    except OSError as exc:
        return f"it cannot be read ({exc})"
    return safetensors_problem(head, size)
