"""The encoding engine: every embedding the package computes (audio of both branches, and text).

One call, :func:`run`, goes through the same stages for every job; each is a
small function in its own module:

1. keys (:func:`.lookup.item_keys`): a cache key per item (clip content digests,
   hashed on the input workers);
2. cache lookup (:func:`.lookup.lookup`): memory, then disk; duplicates are
   encoded once;
3. batch plan (:func:`.plan.plan_batches`): a cap on clips per batch and, for
   whole-clip models, on padded seconds per batch, longest clips first;
4. load (:func:`.feed.feed`): decode, resample, tile and window on a pool of input
   workers (:mod:`.workers`, below the model's thread in priority), a fixed number
   of batches ahead of the model, results in input order; for a CPU model the
   workers make the spectrograms too (``features_on_host``);
5. featurize + forward (the job's ``forward``, see :mod:`.forward`): on the
   model's thread, where a GPU model's spectrograms are computed batched on its device;
6. store (:func:`.lookup.store`): both cache tiers;
7. report (:mod:`.notices`): every bad clip named at once, one warning for
   digital silence, and a summary of where each result came from.
"""

from .core import Job, run
from .workers import default_workers

__all__ = ["Job", "default_workers", "run"]
