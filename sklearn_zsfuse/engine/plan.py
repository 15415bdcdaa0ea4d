"""The batch plan: which items are encoded together.

Fixed-size inputs (an ALM's window) are batched ``batch_size`` at a time in
input order. Whole-clip models (speech FMs, CLSP) pay for padding: their clips
are sorted longest first and each batch is capped both at ``batch_size`` clips
and at ``max_batch_seconds`` padded seconds (clips x longest clip), so a batch
of long clips holds fewer of them and memory per batch stays bounded. A clip
longer than the cap gets a batch of its own.

Longest first: the first batch allocates the largest buffers and every later
(smaller) batch fits in the memory they freed. Shortest first made glibc's heap
grow batch after batch (about 100 kB of RSS per clip over 2,000 clips,
benchmarks/peak_rss.py); it also means a batch too big for memory fails at once.
"""

from __future__ import annotations

from ..audio import Clip


def plan_batches(
    pending: list[int],
    batch_size: int,
    seconds: list[float] | None = None,
    max_batch_seconds: float | None = None,
) -> list[list[int]]:
    """Batches of ``pending`` item indices; ``seconds[i]``: what item ``i`` costs the model."""
    if seconds is None:
        return [pending[s : s + batch_size] for s in range(0, len(pending), batch_size)]
    ordered = sorted(pending, key=lambda i: seconds[i], reverse=True)  # stable: ties keep input order
    batches: list[list[int]] = []
    for i in ordered:
        batch = batches[-1] if batches else None
        # Sorted longest first, so the batch's first clip sets its padded length.
        if (
            batch is not None
            and len(batch) < batch_size
            and (max_batch_seconds is None or (len(batch) + 1) * seconds[batch[0]] <= max_batch_seconds)
        ):
            batch.append(i)
        else:
            batches.append([i])
    return batches


def clip_seconds(clip: Clip) -> float:
    """The clip's duration, from its file header where it is a file (0 if unreadable here)."""
    if clip.is_path:
        import soundfile as sf

        try:
            info = sf.info(str(clip.source))
            return info.frames / info.samplerate
        except Exception:  # undecodable here; the load stage reports it with its name
            return 0.0
    import numpy as np

    return max(np.shape(clip.source)) / clip.sampling_rate
