"""The speech foundation model (FM) protocol: what :class:`~sklearn_zsfuse.FMEmbedder` needs.

The speech side of :mod:`.alm`: any specialist that turns a clip into pooled
per-layer vectors plugs in with this interface (no base class needed)::

    class MySpecialist:
        sampling_rate = 16000       # Hz of the waveforms encode receives
        n_layers = 1                # pooled vectors per clip ("layers")
        hidden_size = 88            # size of each
        fingerprint = "my-fm@v1"    # identifies the weights (cache key)

        def encode(self, waves):    # list of 1-D float32 arrays -> (n, n_layers, hidden_size)
            ...

Its behavioural signature (the estimators' ``probe_embedding_``) is its
layer-averaged embedding of :func:`~.records.probe_signal`, computed by the
package. Optional members (``frame_sums`` for chunked long clips, ``feature_names``,
``resample``, ``audio_features`` with ``encode_features``, ``save``) are
described in :mod:`.abilities`; register the loader with
:func:`~.registry.register_fm`. WavLM, HuBERT, wav2vec 2.0 and data2vec
(:mod:`.hf_speech`) and openSMILE's eGeMAPS (:mod:`.opensmile_egemaps`) are
registered the same way.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from .alm import _rate_and_fingerprint, describe

__all__ = ["FMEncoder", "check_fm_encoder"]


@runtime_checkable
class FMEncoder(Protocol):
    """What the embedder needs from a speech foundation model or specialist.

    Optional members: see :mod:`sklearn_zsfuse.encoders.abilities`.
    """

    sampling_rate: int
    n_layers: int
    hidden_size: int
    fingerprint: str

    def encode(self, waves: list[np.ndarray]) -> np.ndarray: ...


def check_fm_encoder(encoder, model) -> object:
    """Return ``encoder`` if it follows the protocol, else say what is missing."""
    problems = []
    if not callable(getattr(encoder, "encode", None)):
        problems.append("a method encode()")
    problems += _rate_and_fingerprint(encoder)
    for name in ("n_layers", "hidden_size"):
        value = getattr(encoder, name, None)
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            problems.append(f"an integer {name} >= 1 (got {value!r})")
    if problems:
        raise TypeError(
            f"model={describe(model)} loaded a {type(encoder).__name__}, which is not a speech "
            f"encoder: it lacks {'; '.join(problems)}. See sklearn_zsfuse.encoders.FMEncoder."
        )
    return encoder
