"""Long clips in chunks: time and memory linear in a clip's duration, frames pooled over all of it.

Self-attention costs the square of the number of frames: a 60 s clip takes five
times what a 30 s clip takes. A clip longer than the chunk length is cut into
equal chunks no longer than it; each chunk goes through the model as a clip of
its own (its input normalised as the model's feature extractor does for a clip),
and the clip's embedding is the frame-weighted mean over all chunks: the sum of
every chunk's valid-frame states divided by the total number of valid frames, so
every frame counts once whatever chunk it fell in. Chunks are forwarded in
groups capped like batches (count and padded samples), so the memory of a
10-minute clip is the memory of one group.
"""

from __future__ import annotations

import math

import numpy as np

from .plan import plan_batches


def split(wave: np.ndarray, chunk_samples: int) -> list[np.ndarray]:
    """``wave`` in the fewest equal chunks of at most ``chunk_samples`` samples (views, no copy)."""
    k = max(1, math.ceil(wave.shape[0] / chunk_samples))
    return np.array_split(wave, k)


def pooled_in_chunks(
    encoder, waves: list[np.ndarray], chunk_samples: int, batch_size: int, max_batch_samples: int | None
) -> np.ndarray:
    """(n, n_layers, hidden_size) frame-weighted means of ``encoder.frame_sums`` over each clip's chunks."""
    owner, segments = [], []
    for c, wave in enumerate(waves):
        for segment in split(wave, chunk_samples):
            owner.append(c)
            segments.append(segment)
    sums = np.zeros((len(waves), encoder.n_layers, encoder.hidden_size), dtype=np.float64)
    frames = np.zeros(len(waves), dtype=np.float64)
    lengths = [float(s.shape[0]) for s in segments]
    for group in plan_batches(list(range(len(segments))), batch_size, lengths, max_batch_samples):
        group_sums, group_frames = encoder.frame_sums([segments[j] for j in group])
        for j, s, f in zip(group, np.asarray(group_sums, dtype=np.float64), np.asarray(group_frames)):
            sums[owner[j]] += s
            frames[owner[j]] += f
    return (sums / np.maximum(frames, 1)[:, None, None]).astype(np.float32)
