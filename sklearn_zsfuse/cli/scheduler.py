"""``--scheduler ADDRESS`` (``zsfuse embed``, ``zsfuse evaluate``): encode on an existing dask cluster.

The option only checks what it needs before any clip is read (dask installed, a
``--cache-dir`` for the workers' results); the work is
:func:`sklearn_zsfuse.estimators.cluster.encode_on_cluster`.
"""

from __future__ import annotations

from .errors import UsageError

__all__ = ["add_scheduler_option", "check_scheduler"]


def add_scheduler_option(p) -> None:
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="encode on the workers of this dask cluster (e.g. tcp://host:8786), each clip once, each "
                   "worker on its own device, into --cache-dir (required: a folder every worker sees); run the same "
                   "command again after a failure to encode only what is missing")


def check_scheduler(args) -> str | None:
    """The scheduler's address, or None; a missing cache folder or dask is the user's to fix."""
    if args.scheduler is None:
        return None
    if args.cache_dir is None:
        raise UsageError("--scheduler needs --cache-dir, a folder every worker and this machine see: the workers "
                         "leave their results there.")
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise UsageError("--scheduler needs dask: pip install 'sklearn-zsfuse[dask]'.") from None
    return args.scheduler
