"""The optional abilities of an encoder, read once when it is loaded (into its model record).

Both kinds of encoder (:class:`~.alm.ALMEncoder`, :class:`~.fm.FMEncoder`) may
offer, beyond their required members:

``audio_features(waves) -> inputs`` and ``encode_features(inputs) -> array``
    ALMs: the model's input pipeline split from its forward pass. The engine calls
    both on the model's thread, batch by batch (``inputs`` may be a torch tensor
    already on the model's device: spectrograms are then computed there); input
    workers only decode, resample, tile and window.
``features_on_host``
    True where the model itself runs on the host CPU: ``audio_features`` is then
    called per clip on the input workers, so spectrograms overlap the forward
    pass instead of queueing behind it on the model's thread (on a GPU they are
    computed batched on the device, on the model's thread).
``resample(wave, rate) -> wave``
    The model's own resampler (where it was trained with another one than soxr).
``pad_mode``
    How short clips fill an ALM's window: ``"repeatpad"`` (whole repeats, then
    zeros; the default) or ``"repeat"`` (repeat past the window, cut).
``save(directory)``
    Write the model's files so that they load again from that directory: a
    checkpoint in Hugging Face format, or the manifest the msclap and laion_clap
    backends write (``store_weights_in_pickle`` embeds them, and an unpickled
    estimator loads its model from their copy, whatever its name loads here).
``has_weights``
    False for an encoder with no weights at all (openSMILE's eGeMAPS): a pickle
    with ``store_weights_in_pickle=True`` then has nothing to carry, and is fine.
``frame_sums(waves) -> (sums, counts)``
    FMs only: per clip the sum of every layer's hidden states over its valid
    frames ``(n, n_layers, hidden_size)`` and the number of frames ``(n,)``, so
    that a long clip can be encoded in chunks and pooled over the whole clip.
``feature_names``
    FMs only: names of the embedding's columns (e.g. eGeMAPS' functionals).
``max_text_tokens`` with ``count_tokens(texts) -> list[int]``
    ALMs: a text tower that reads at most this many tokens (77 for CLAP's RoBERTa);
    ``count_tokens`` gives each text's length as the model's tokenizer makes it
    (special tokens included), before truncation. The scorer warns about prompts
    that are cut (see :class:`~.alm.TextTokenLimit`).
``provenance``
    A line saying where the weights come from and under which licence (GE2E:
    the Resemblyzer wheel's file, version, Apache-2.0); fitted estimators keep it.

Call sites never probe an encoder with ``getattr``: they read the abilities of its
model record (:attr:`~.records.ModelRecord.abilities`), read here once at load.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Abilities", "PAD_MODES", "abilities"]

PAD_MODES = ("repeatpad", "repeat")


@dataclass(frozen=True)
class Abilities:
    """Which optional members an encoder has (see the module docstring)."""

    features: bool = False
    resample: bool = False
    pad_mode: str = "repeatpad"
    save: bool = False
    has_weights: bool = True
    frame_sums: bool = False
    features_on_host: bool = False
    feature_names: tuple[str, ...] | None = None
    max_text_tokens: int | None = None
    provenance: str | None = None

    @classmethod
    def read(cls, encoder) -> Abilities:
        def has(name):
            return callable(getattr(encoder, name, None))

        names = getattr(encoder, "feature_names", None)
        limit = getattr(encoder, "max_text_tokens", None) if has("count_tokens") else None
        return cls(
            features=has("audio_features") and has("encode_features"),
            resample=has("resample"),
            pad_mode=getattr(encoder, "pad_mode", "repeatpad"),
            save=has("save"),
            has_weights=bool(getattr(encoder, "has_weights", True)),
            frame_sums=has("frame_sums"),
            features_on_host=bool(getattr(encoder, "features_on_host", False)),
            feature_names=None if names is None else tuple(str(n) for n in names),
            max_text_tokens=None if limit is None else int(limit),
            provenance=None if getattr(encoder, "provenance", None) is None else str(encoder.provenance),
        )


def abilities(encoder) -> Abilities:
    """The optional abilities of ``encoder`` (read anew: a loaded model's record keeps its own)."""
    return Abilities.read(encoder)
