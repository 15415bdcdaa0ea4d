"""The encoding engine: every embedding the package computes (audio of both branches, and text).

One call, :func:`run` (``run(items, adapter, settings)``), goes through the same
stages for every kind of input; what an item becomes is its adapter's business
(:mod:`.adapters`: :class:`~.adapters.ALMAudio`, :class:`~.adapters.SpeechLayers`,
:class:`~.adapters.PromptText`). Each stage is a small function in its own module:

1. keys (:func:`.lookup.item_keys`): ``adapter.key`` per item (clip content
   digests, hashed on the input workers);
2. cache lookup (:func:`.lookup.lookup`): memory, then disk; duplicates are
   encoded once;
3. batch plan (:func:`.plan.plan_batches`): a cap on clips per batch and, where
   ``adapter.seconds`` says what a clip costs, on padded seconds per batch,
   longest clips first;
4. prepare (:func:`.feed.feed`): ``adapter.prepare`` (decode, resample, tile and
   window; spectrograms for a CPU model) on a pool of input workers (:mod:`.workers`,
   below the model's thread in priority), a fixed number of batches ahead of the
   model, results in input order;
5. embed: ``adapter.embed`` on the model's thread, where a GPU model's
   spectrograms are computed batched on its device;
6. store (:func:`.lookup.store`): both cache tiers (:mod:`.cache`);
7. report (:mod:`.notices`): every bad clip named at once, one warning for
   digital silence, and a summary of where each result came from.
"""

from .core import RunSettings, run
from .workers import default_workers

__all__ = ["RunSettings", "default_workers", "run"]
