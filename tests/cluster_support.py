"""A speech "model" for cluster tests: no weights, no time, and one that kills its worker once on request.

It lives in a module of its own (not a test module) so that dask's worker processes,
which inherit this process's import path, can unpickle its spec.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class NullSpeech:
    """Loads :class:`NullSpeechEncoder`. With ``marker``, the first process to encode its
    ``die_on_batch``-th batch creates ``marker`` and kills itself (SIGKILL, as a lost node would)."""

    marker: str | None = None
    die_on_batch: int = 2
    seconds_per_batch: float = 0.0

    def load(self, *, device, dtype, revision=None):
        return NullSpeechEncoder(self)


class NullSpeechEncoder:
    sampling_rate = 16000
    n_layers = 3
    hidden_size = 4
    fingerprint = "null-speech|v1"

    def __init__(self, spec: NullSpeech):
        self.spec = spec
        self.batches = 0

    def encode(self, waves):
        self.batches += 1
        if self.spec.marker is not None and self.batches == self.spec.die_on_batch:
            try:
                fd = os.open(self.spec.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass  # another process died already
            else:
                os.close(fd)
                os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(self.spec.seconds_per_batch)
        stats = np.stack([[w.mean(), w.std(), np.abs(w).max(), len(w) / 16000] for w in waves]).astype(np.float32)
        return np.stack([stats, 2 * stats, stats**2], axis=1)
