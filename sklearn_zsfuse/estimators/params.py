"""The parameters the audio estimators share: their constraints, defaults, and the error of a misfit value."""

from __future__ import annotations

import os
from numbers import Integral, Real
from types import MappingProxyType

from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from ..audio import MAX_SAMPLING_RATE, MIN_SAMPLING_RATE

COMMON_CONSTRAINTS = MappingProxyType({
    "sampling_rate": [Interval(Integral, MIN_SAMPLING_RATE, MAX_SAMPLING_RATE, closed="both"), None],
    "device": [str],
    "dtype": [StrOptions({"float32", "float16", "bfloat16", "auto"})],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "max_batch_seconds": [Interval(Real, 0, None, closed="neither"), None],
    "n_workers": [Interval(Integral, 1, None, closed="left"), None],
    "revision": [str, None],
    "store_weights_in_pickle": ["boolean"],
    "verbose": ["verbose"],
    "cache_dir": [str, os.PathLike, HasMethods(["cache"]), None],
})

# Padded seconds of audio per batch of a whole-clip model (speech FMs, CLSP): eight 15 s
# clips, or four 30 s chunks of a long one. WavLM-Large takes about 0.9 GB per 30 s
# chunk (issue 9's measurement), so a batch stays within a few GB however long the clips.
DEFAULT_MAX_BATCH_SECONDS = 120.0


class ParameterError(ValueError):
    """A parameter's value does not fit the model it is used with (a layer it lacks, prompts it cannot tell apart).

    Found only once the model is loaded; a user's mistake, not the package's (the
    ``zsfuse`` command reports it in one line with exit status 2).
    """
