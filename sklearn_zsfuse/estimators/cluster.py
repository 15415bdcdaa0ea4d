"""Encoding on a dask cluster: the clips in shards, one task per shard, results in the shared disk cache.

:func:`encode_on_cluster` sends each estimator (its parameters: never its
weights) with one shard of clips per task to the workers of an existing dask
cluster. A worker loads the model once (on its own device: ``device="auto"``
takes the GPU the worker was given, ``"cuda:all"`` every GPU it sees), encodes
its shard through the engine and writes the results to the estimator's
``cache_dir``, which every worker and this process must see (a shared
filesystem). Nothing but counts comes back: this process then reads every
result from the cache, as a warm run would (``zsfuse embed``/``evaluate
--scheduler``: the same command, its local pass finding everything on disk).

Resuming needs nothing special: an entry is written atomically once its batch
is encoded, and a task first looks every clip of its shard up in the cache. If
a worker dies, dask gives its shard to another worker (up to the scheduler's
``allowed-failures``); if the run stops (the cluster is gone, the job's time ran
out), running it again encodes only the clips whose results are not in the
cache, and gives what a serial run gives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ["ClusterError", "encode_on_cluster"]

# Clips per task: large enough that a task's overhead (a round trip to the scheduler, a
# pickled estimator, the shard's cache lookups) is small next to encoding it; small enough
# that a lost worker loses little and the last tasks do not leave most workers idle.
SHARD_SIZE = 256


class ClusterError(OSError):
    """The cluster could not do its part (unreachable, a worker lost): about the machines, not the input.

    An :class:`OSError`, as a missing file or a full disk is: the command line reports
    it on one line (exit status 2); what was encoded before it happened stays in the cache.
    """


def _discard(index, value) -> None:
    """The sink of a worker's run: results live in the shared cache, not in the task's answer."""


def encode_shard(estimator, clips) -> dict:
    """On a worker: every clip of one shard into ``estimator``'s disk cache; the run's counts.

    Clips that cannot be read are counted, not raised: the local pass that follows
    names every bad clip at once, as a run without a cluster does.
    """
    from ..audio import AudioInputError, prepare_clips

    try:
        counts = estimator._encode_into(prepare_clips(clips, estimator.sampling_rate), _discard, memory=False)
    except AudioInputError:
        return {"encoded": 0, "memory": 0, "disk": 0, "duplicate": 0, "unreadable": len(clips)}
    return {**counts, "unreadable": 0}


def encode_on_cluster(estimators: Sequence, X, scheduler, *, shard_size: int = SHARD_SIZE, verbose: int = 1,
                      log: Callable[[str], None] | None = None) -> dict:
    """Encode ``X`` with each of ``estimators`` on the dask cluster at ``scheduler``, into their ``cache_dir``.

    ``scheduler``: the scheduler's address (``"tcp://host:8786"``) or a
    ``distributed.Client``. ``X``: what the estimators' ``transform`` takes (file
    paths, which every worker must be able to read, travel light). Returns the
    counts summed over the tasks (``encoded``, ``disk``: found in the cache, ...).
    Raises :class:`ClusterError` when the cluster cannot be reached or a task's
    worker was lost more often than the scheduler allows. ``verbose``: a progress
    bar of the clips done (inside the ``zsfuse`` command's display, a stage of it).
    """
    from sklearn.base import clone

    from ..engine.cache import resolve_cache_dir
    from ..reporting.progress import progress_bar

    log = log or (lambda message: None)
    jobs = []
    for estimator in estimators:
        if resolve_cache_dir(estimator.cache_dir) is None:
            raise ValueError(
                f"{type(estimator).__name__}: encoding on a cluster needs cache_dir, a folder every worker and this "
                "process see: the workers leave their results there."
            )
        jobs.append(clone(estimator).set_params(verbose=0))
    items = list(X)
    shards = [items[s : s + shard_size] for s in range(0, len(items), shard_size)]
    client, owned = _client(scheduler)
    totals = {"encoded": 0, "memory": 0, "disk": 0, "duplicate": 0, "unreadable": 0}
    futures = []
    try:
        from distributed import KilledWorker, as_completed

        log(f"{len(items)} clips x {len(jobs)} encoding pass(es) in {len(shards)} shard(s) of up to {shard_size} "
            f"on the cluster at {_where(client)}")
        futures = {client.submit(encode_shard, job, shard, pure=False): len(shard) for job in jobs for shard in shards}
        progress = progress_bar(len(items) * len(jobs), "cluster", unit="clips", verbose=verbose)
        for future in as_completed(futures):
            try:
                counts = future.result()
            except KilledWorker as exc:
                raise ClusterError(
                    f"a dask worker was lost while encoding ({exc}); what was encoded until then is in the cache: "
                    "run the same again to encode only the rest."
                ) from None
            for name in totals:
                totals[name] += counts.get(name, 0)
            progress.update(futures[future])
        progress.close()
    finally:
        for future in futures:
            future.cancel()
        if owned:
            client.close()
    log(f"cluster: {totals['encoded']} encoded, {totals['disk']} already in the cache"
        + (f", {totals['unreadable']} in shards with unreadable clips" if totals["unreadable"] else ""))
    return totals


def _client(scheduler):
    """``(client, whether this call made it)`` for an address, or the client given."""
    try:
        from distributed import Client
    except ImportError:
        raise ImportError("encoding on a cluster needs dask: pip install 'sklearn-zsfuse[dask]'.") from None
    if isinstance(scheduler, Client):
        return scheduler, False
    try:
        return Client(str(scheduler), timeout="30s"), True
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"cannot reach the dask scheduler at {scheduler!r}: {exc}") from None


def _where(client) -> str:
    try:
        return str(client.scheduler.address)
    except AttributeError:
        return "the given client"
