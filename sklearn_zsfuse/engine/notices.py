"""The report stage: bad clips named together, one warning for digital silence, a summary."""

from __future__ import annotations

import warnings

from ..audio import AudioInputError, Clip, SilentAudioWarning, raise_for_problems


class LoadFailure:
    """A clip that could not be loaded, and why (collected, raised after the loop)."""

    __slots__ = ("reason",)

    def __init__(self, exc: AudioInputError, clip: Clip):
        message, prefix = str(exc), f"{clip.describe()}: "
        self.reason = (message[len(prefix) :] if message.startswith(prefix) else message).rstrip(".")


def raise_failures(clips, keys, failed: dict) -> None:
    """One :class:`AudioInputError` naming every bad clip (duplicates of a bad clip too)."""
    if failed:
        raise_for_problems(
            [f"{c.describe()}: {failed[k]}" for c, k in zip(clips, keys) if k in failed], len(clips)
        )


def warn_silent(desc: str, clips, keys, silent_keys) -> None:
    silent = [c for c, k in zip(clips, keys) if k in silent_keys]
    if not silent:
        return
    shown = ", ".join(c.describe() for c in silent[:20])
    more = f" and {len(silent) - 20} more" if len(silent) > 20 else ""
    warnings.warn(
        f"{desc}: {len(silent)} of {len(clips)} clip(s) are digital silence (every sample is "
        f"0): {shown}{more}. Their outputs carry no information about the speech; check "
        "these recordings.",
        SilentAudioWarning,
        stacklevel=4,
    )


def summary(desc: str, n: int, unit: str, encoded: int, counts: dict, disk) -> str:
    """Where this call's results came from; its own counts, never another encoder's."""
    memory = counts["memory"] + counts["duplicate"]
    where = f" ({disk.directory})" if disk is not None else ""
    return f"[{desc}] {n} {unit}: {encoded} encoded, {memory} reused from memory, {counts['disk']} from disk{where}"
