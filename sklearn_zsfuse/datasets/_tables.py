"""Reading label tables (CSV, JSON) with errors that name the file, row and column."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from ._corpus import CorpusError, outside_root, outside_root_error

__all__ = ["read_table", "require_columns", "resolve_paths"]


def read_table(path: Path, name: str) -> dict[str, list[str]]:
    """A CSV file as {column: values}, header names stripped; UTF-8 (BOM tolerated)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None:
                raise CorpusError(f"{name}: {str(path)!r} is empty: expected a header row.")
            columns = [c.strip() for c in reader.fieldnames]
            if len(set(columns)) != len(columns):
                raise CorpusError(f"{name}: {str(path)!r} has duplicate column names: {columns}.")
            table: dict[str, list[str]] = {c: [] for c in columns}
            for line, row in enumerate(reader, start=2):
                if None in row:
                    raise CorpusError(
                        f"{name}: {str(path)!r} line {line} has more fields than the header "
                        f"({len(columns)} columns: {columns})."
                    )
                for raw, value in row.items():
                    table[raw.strip()].append("" if value is None else value.strip())
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{name}: {str(path)!r} is not UTF-8 text ({exc}).") from None
    except csv.Error as exc:
        raise CorpusError(f"{name}: {str(path)!r} is not a valid CSV file ({exc}).") from None
    return table


def require_columns(table: dict, columns: list[str], path: Path, name: str) -> None:
    missing = [c for c in columns if c not in table]
    if missing:
        raise CorpusError(
            f"{name}: {str(path)!r} lacks column(s) {missing}; it has {list(table)}. "
            f"Required: {columns}."
        )


def resolve_paths(
    root: Path, values: list[str], table_path: Path, name: str, *, allow_outside_root: bool = False
) -> list[Path]:
    """Clip paths (relative to ``root`` unless absolute), checked to exist, all problems at once.

    Every path must stay under ``root`` (after ``..`` and links are resolved) unless
    ``allow_outside_root``; that is checked for every row before any file is looked at.
    """
    escaped = []
    for line, value in enumerate(values, start=2):
        reason = None if allow_outside_root or not value else outside_root(root, root / value)
        if reason is not None:
            escaped.append(f"line {line}: {value!r} ({reason})")
    if escaped:
        raise outside_root_error(name, root, escaped, f"of {len(values)} clip path(s) in {str(table_path)!r}")
    paths, problems = [], []
    for line, value in enumerate(values, start=2):
        if not value:
            problems.append(f"line {line}: empty path")
            paths.append(None)
            continue
        p = Path(os.path.expanduser(value)) if allow_outside_root else Path(value)
        p = p if p.is_absolute() else root / p
        try:
            if not p.is_file():
                problems.append(f"line {line}: {value!r} " + ("is a folder" if p.is_dir() else "not found"))
        except OSError as exc:  # a name too long for the file system, ...
            problems.append(f"line {line}: {value[:40] + '...' if len(value) > 40 else value!r} cannot be "
                            f"looked up ({exc.strerror or exc})")
        paths.append(p)
    if problems:
        shown = "\n  ".join(problems[:10])
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise CorpusError(
            f"{name}: {len(problems)} of {len(values)} clip path(s) in {str(table_path)!r} cannot be "
            f"used (paths are relative to {str(root)!r}):\n  {shown}{more}"
        )
    return paths
