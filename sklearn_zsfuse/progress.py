"""Progress display for long encoding loops: one place decides how progress is shown."""

from __future__ import annotations


class _NoProgress:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, desc: str, *, unit: str = "batch", verbose: int = 0):
    """An object with ``update(n)`` and ``close()``; a tqdm bar when ``verbose`` is set."""
    if not verbose or total <= 0:
        return _NoProgress()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit)
