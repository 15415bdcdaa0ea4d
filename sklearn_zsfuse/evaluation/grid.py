"""The candidates that inner cross-validation chooses from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Grid"]


@dataclass(frozen=True)
class Grid:
    """The candidates inner CV chooses from.

    Each N_a costs one pass of the ALM's audio tower over the corpus; N_t and the
    weights cost almost nothing (text prompts; cached arrays). Hence the short
    default for N_a: widen it (``audio_repeats=(1, 2, 3, 4)``) where compute allows.
    """

    audio_repeats: tuple = (1, 2)
    text_repeats: tuple = (1, 2, 3)
    weights: tuple = tuple(round(w, 2) for w in np.linspace(0, 1, 11))

    def __post_init__(self):
        for name in ("audio_repeats", "text_repeats"):
            values = getattr(self, name)
            if not values or any(int(v) != v or v < 1 for v in values):
                raise ValueError(f"grid {name} must be integers >= 1, got {values!r}.")
            object.__setattr__(self, name, tuple(sorted({int(v) for v in values})))
        if not self.weights or any(not 0 <= w <= 1 for w in self.weights):
            raise ValueError(f"grid weights must lie in [0, 1], got {self.weights!r}.")
        object.__setattr__(self, "weights", tuple(sorted({float(w) for w in self.weights})))

    @property
    def amplifications(self) -> list[tuple[int, int]]:
        return [(a, t) for a in self.audio_repeats for t in self.text_repeats]
