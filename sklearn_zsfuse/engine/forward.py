"""The featurize + forward stage of each kind of job, run on the model's thread.

Where an encoder splits its input pipeline from its forward pass
(``audio_features``/``encode_features``), both run here, batch by batch, so
spectrograms are computed batched and on the model's device; the input workers
never touch the model. The exception is an encoder that asks for its features
on the host (``features_on_host``: a model on the CPU): :func:`host_features`
then hands the input workers its featurizer, clip by clip, so that spectrograms
overlap the forward pass instead of queueing behind it.
"""

from __future__ import annotations

import numpy as np

from ..arrays import l2_normalize as _normalize
from ..encoders.abilities import abilities
from .chunks import pooled_in_chunks


def checked_embeddings(out, n: int, method: str, model) -> np.ndarray:
    """Embeddings as (n, D) float32, L2-normalised; a plugged-in encoder's mistakes named."""
    out = np.asarray(out.detach().cpu().float() if hasattr(out, "detach") else out, dtype=np.float32)
    if out.ndim != 2 or out.shape[0] != n:
        raise ValueError(
            f"{method}() of model={model!r} returned shape {out.shape} for {n} inputs; expected "
            f"({n}, embedding_dim)."
        )
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{method}() of model={model!r} returned NaN or infinite values.")
    return _normalize(out)


def model_audio(encoder, waves):
    """The model's output for a batch of prepared waveforms, featurized here if it can be."""
    if abilities(encoder).features:
        return encoder.encode_features(encoder.audio_features(waves))
    return encoder.encode_audio(waves)


def host_features(encoder):
    """Per-clip featurizer for the input workers, where the encoder asks for it (``features_on_host``)."""
    able = abilities(encoder)
    if not (able.features and able.features_on_host):
        return None
    return lambda wave: encoder.audio_features([wave])[0]


def alm_audio(encoder, model):
    """Forward of an ALM's audio tower: normalised (n, D) embeddings.

    Inputs are waveforms, or (where :func:`host_features` applies) features the
    input workers already made, stacked here into one batch.
    """
    featurized = host_features(encoder) is not None

    def forward(inputs):
        if featurized:
            import torch

            out = encoder.encode_features(torch.stack(list(inputs)))
        else:
            out = model_audio(encoder, inputs)
        return checked_embeddings(out, len(inputs), "encode_audio", model)

    return forward


def alm_text(encoder, model):
    """Forward of an ALM's text tower: normalised (n, D) embeddings."""

    def forward(texts):
        return checked_embeddings(encoder.encode_text(list(texts)), len(texts), "encode_text", model)

    return forward


def fm_layers(encoder, model, *, chunk_samples: int | None, batch_size: int, max_batch_samples: int | None):
    """Forward of a speech FM: (n, n_layers, hidden_size) pooled states per clip.

    Clips within one chunk go to ``encode`` as they are (exactly the embeddings of
    an unchunked run); longer clips of an encoder with ``frame_sums`` are encoded
    in chunks and pooled over the whole clip (:func:`.chunks.pooled_in_chunks`).
    """
    chunked = chunk_samples is not None and abilities(encoder).frame_sums
    shape = (encoder.n_layers, encoder.hidden_size)

    def forward(waves):
        out = np.empty((len(waves), *shape), dtype=np.float32)
        long = [i for i, w in enumerate(waves) if chunked and w.shape[0] > chunk_samples]
        whole = sorted(set(range(len(waves))) - set(long))
        if whole:
            out[whole] = _checked_layers(encoder.encode([waves[i] for i in whole]), len(whole), shape, model)
        if long:
            out[long] = pooled_in_chunks(
                encoder, [waves[i] for i in long], chunk_samples, batch_size, max_batch_samples
            )
        return out

    return forward


def _checked_layers(out, n: int, shape: tuple, model) -> np.ndarray:
    out = np.asarray(out, dtype=np.float32)
    if out.shape != (n, *shape):
        raise ValueError(
            f"encode() of model={model!r} returned shape {out.shape} for {n} clips; expected "
            f"({n}, n_layers={shape[0]}, hidden_size={shape[1]})."
        )
    return out
