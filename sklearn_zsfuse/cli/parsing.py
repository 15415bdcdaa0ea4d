"""The argparse pieces of the ``zsfuse`` command: one-line errors, repeated options, value types,
and the items of the options that take ``KEY=VALUE`` lists (``--grid``, ``--prompt``, ``--label``).

:class:`CommandParser` makes every option stored the plain way (``action`` left
out, or ``"store"``) refuse a second occurrence ("--fm given twice") instead of
silently keeping the last value; options that take lists use :class:`Extend`,
so ``--fm a --fm b`` and ``--fm a b`` mean the same. Its ``error`` prints one
line and exits 2.
"""

from __future__ import annotations

import argparse
import re
from types import MappingProxyType

from .errors import UsageError

__all__ = [
    "CommandParser",
    "Extend",
    "SingleValue",
    "device",
    "layer",
    "one_line",
    "parse_grid",
    "parse_labels",
    "parse_prompts",
    "positive_int",
    "subset",
    "threads",
]

_GIVEN = "_zsfuse_given"  # the options seen so far in this parse, kept on the namespace


def one_line(message) -> str:
    """``message`` on one line: the library's multi-line lists joined with '; ' (after a heading's ':', a space)."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    out = ""
    for line in lines:
        out += ("" if not out else " " if out.endswith(":") else "; ") + line
    return out


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


def threads(text: str) -> int:
    """``--threads``: a whole number >= 1, or -1 (the libraries' own setting)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1 and value != -1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, or -1, got {text!r}")
    return value


_ONE_DEVICE = r"\s*(cpu|mps|cuda(:\d+)?|xpu(:\d+)?)\s*"
_DEVICE = re.compile(rf"auto|cuda:all|{_ONE_DEVICE}(,{_ONE_DEVICE})*")


def device(text: str) -> str:
    if not _DEVICE.fullmatch(text.strip()):
        raise argparse.ArgumentTypeError(
            f"expected auto, cpu, cuda, cuda:N, mps, a list such as cuda:0,cuda:1, or cuda:all, got {text!r}")
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


_GRID_KEYS = MappingProxyType({
    "audio_repeats": "audio_repeats", "na": "audio_repeats", "n_a": "audio_repeats",
    "text_repeats": "text_repeats", "nt": "text_repeats", "n_t": "text_repeats",
    "weights": "weights", "weight": "weights", "w": "weights",
})


def parse_grid(items):
    """``--grid na=1,2 nt=1,2,3 w=0,0.5,1`` as a :class:`~sklearn_zsfuse.evaluation.Grid`."""
    from ..evaluation import Grid

    values = {}
    for item in items or []:
        key, sep, rest = item.partition("=")
        name = _GRID_KEYS.get(key.strip().lower())
        if not sep or name is None or not rest.strip():
            raise UsageError(
                f"--grid item {item!r}: expected KEY=V1,V2,... with KEY one of audio_repeats (na), "
                "text_repeats (nt), weights (w)."
            )
        try:
            numbers = [float(v) for v in rest.split(",") if v.strip()]
        except ValueError:
            raise UsageError(f"--grid item {item!r}: values must be numbers separated by commas.") from None
        values[name] = tuple(int(v) if name != "weights" and v == int(v) else v for v in numbers)
    try:
        return Grid(**values)
    except ValueError as exc:
        raise UsageError(f"--grid: {exc}") from None


def parse_prompts(items) -> dict | None:
    """``--prompt fearful=fearful,scared`` as ``{label: [words]}`` (None without the option)."""
    if not items:
        return None
    prompts = {}
    for item in items:
        label, sep, words = item.partition("=")
        words = [w.strip() for w in words.split(",") if w.strip()]
        if not sep or not label.strip() or not words:
            raise UsageError(f"--prompt {item!r}: expected LABEL=WORD[,WORD...], e.g. fearful=fearful,scared.")
        prompts[label.strip()] = words
    return prompts


def parse_labels(items) -> dict:
    """``--label wut=angry`` as ``{spelling: canonical label}``, each target a canonical label."""
    from ..datasets.labels import check_overrides

    mapping = {}
    for item in items or []:
        source, sep, target = item.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise UsageError(f"--label {item!r}: expected SPELLING=CANONICAL, e.g. wut=angry.")
        mapping[source.strip()] = target.strip()
    try:
        check_overrides(mapping)
    except ValueError as exc:
        raise UsageError(f"--label: {exc}") from None
    return mapping
