"""The argparse pieces of the ``zsfuse`` command: one-line errors, repeated options, value types.

:class:`CommandParser` makes every option stored the plain way (``action`` left
out, or ``"store"``) refuse a second occurrence ("--fm given twice") instead of
silently keeping the last value; options that take lists use :class:`Extend`,
so ``--fm a --fm b`` and ``--fm a b`` mean the same. Its ``error`` prints one
line and exits 2.
"""

from __future__ import annotations

import argparse
import re

__all__ = [
    "CommandParser",
    "Extend",
    "SingleValue",
    "device",
    "layer",
    "one_line",
    "positive_int",
    "subset",
]

_GIVEN = "_zsfuse_given"  # the options seen so far in this parse, kept on the namespace


def one_line(message) -> str:
    """``message`` on one line: the library's multi-line lists joined with '; '."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    return "; ".join(lines)


def _seen(namespace, dest: str) -> bool:
    given = namespace.__dict__.setdefault(_GIVEN, set())
    seen = dest in given
    given.add(dest)
    return seen


class SingleValue(argparse.Action):
    """Store the value; an option given a second time is an error, not a silent override."""

    def __call__(self, parser, namespace, values, option_string=None):
        if option_string is not None and _seen(namespace, self.dest):
            several = self.nargs not in (None, "?")
            hint = f"; give all its values after one {option_string}" if several else ""
            parser.error(f"{option_string} given twice{hint}.")
        setattr(namespace, self.dest, values)


class Extend(argparse.Action):
    """A list option: values of every occurrence are collected; the default is replaced, not extended."""

    def __call__(self, parser, namespace, values, option_string=None):
        items = list(values) if isinstance(values, (list, tuple)) else [values]
        current = list(getattr(namespace, self.dest) or []) if _seen(namespace, self.dest) else []
        setattr(namespace, self.dest, current + items)


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser (and its sub-parsers) with single-valued options and one-line errors."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register("action", None, SingleValue)
        self.register("action", "store", SingleValue)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?|xpu(:\d+)?")


def device(text: str) -> str:
    if not _DEVICE.fullmatch(text.strip()):
        raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda, cuda:N or mps, got {text!r}")
    return text.strip()


def layer(text: str):
    """A hidden-state index (negative counts from the last) or ``all``."""
    if text.strip().lower() == "all":
        return "all"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a layer index (e.g. -1, 6) or 'all', got {text!r}") from None


_SUBSET_KEYS = ("speaker", "label", "fold")


def subset(text: str) -> tuple[str, tuple[str, ...]]:
    """``KEY=V1,V2`` with KEY one of speaker, label, fold."""
    key, sep, values = text.partition("=")
    key = key.strip().lower()
    if key == "actor":  # RAVDESS calls its speakers actors
        key = "speaker"
    items = tuple(v.strip() for v in values.split(",") if v.strip())
    if not sep or key not in _SUBSET_KEYS or not items:
        raise argparse.ArgumentTypeError(
            f"expected KEY=V1,V2,... with KEY one of {', '.join(_SUBSET_KEYS)}, got {text!r}"
        )
    return key, items
