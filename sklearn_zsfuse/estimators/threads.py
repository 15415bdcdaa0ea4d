"""How many BLAS/OpenMP threads the package's own fits and predictions use, for as long as they run.

The classifiers the package fits (logistic regressions on a few hundred
features, scalers, temperatures) are small problems: one thread does them at
full speed, and a second one buys nothing on a quiet machine but waits for a
busy core on a loaded one. Measured on a 2-core machine beside two busy
processes: a LogisticRegression fit of 1200 x 96 features took 0.007-0.013 s
with one BLAS/OpenMP thread and 0.053-0.062 s with two (0.006 s either way on
the quiet machine); the README evaluation's selection ran 12x slower with the
libraries' default threads (issue 18). So the package runs its own fits at
:data:`DEFAULT_THREADS` thread(s), unless told otherwise.

The limit holds only while the package's code runs (``threadpoolctl``'s
``threadpool_limits``, which puts every library back as it was): the user's
process keeps its own settings before and after. Torch's threads are not
touched here; encoding is the engine's business.

``n_threads`` (the fusion estimators' parameter, ``evaluate(threads=)``,
``zsfuse evaluate --threads``): None for the package's choice, a positive int
for that many threads, -1 to leave the libraries' own setting (usually one
thread per core) in place.
"""

from __future__ import annotations

import contextlib
import functools
from numbers import Integral

__all__ = ["DEFAULT_THREADS", "check_threads", "limited_threads", "thread_limit"]

DEFAULT_THREADS = 1
_NO_LIMIT = -1


def check_threads(n_threads, name: str = "n_threads") -> int | None:
    """The thread count ``n_threads`` asks for: an int, or None for no limit (-1); else ValueError."""
    if n_threads is None:
        return DEFAULT_THREADS
    if isinstance(n_threads, Integral) and not isinstance(n_threads, bool):
        if n_threads == _NO_LIMIT:
            return None
        if n_threads >= 1:
            return int(n_threads)
    raise ValueError(f"{name} must be None, -1 or a positive int, got {n_threads!r}.")


@contextlib.contextmanager
def thread_limit(n_threads=None, name: str = "n_threads"):
    """BLAS and OpenMP at ``n_threads`` threads inside the block, as they were after it."""
    limit = check_threads(n_threads, name)
    if limit is None:
        yield
        return
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    with threadpool_limits(limits=limit):
        yield


def limited_threads(method):
    """Run an estimator's ``method`` under :func:`thread_limit` of its ``n_threads`` parameter."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with thread_limit(self.n_threads):
            return method(self, *args, **kwargs)

    return wrapper
