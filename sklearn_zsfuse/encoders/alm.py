"""The audio-language model (ALM) protocol, and the registry that turns ``model=`` into one.

Any dual encoder plugs into :class:`~sklearn_zsfuse.ALMZeroShotScorer` by
providing this small interface (no base class needed)::

    class MyEncoder:
        sampling_rate = 16000     # Hz of the waveforms encode_audio receives
        window = 160000           # samples per clip, or None for any length
        logit_scale = 100.0       # multiplier of cosine similarities
        fingerprint = "my-model@v1"   # identifies the weights (cache key)
        pad_mode = "repeatpad"    # optional: how short clips fill the window
                                  # ("repeatpad": whole repeats + zeros; "repeat": repeat and cut)

        def encode_audio(self, waves):   # list of 1-D float32 arrays -> (n, D)
            ...
        def encode_text(self, texts):    # list of str -> (n, D)
            ...
        def resample(self, wave, rate):  # optional: the model's own resampler
            ...
        max_text_tokens = 77      # optional, with count_tokens (see TextTokenLimit):
        def count_tokens(self, texts):   # list of str -> token counts before truncation
            ...

The scorer decodes each clip to ``sampling_rate``, tiles it ``audio_repeats``
times, pads or crops it to ``window`` (centre crop, or a seeded random one), and
only then calls ``encode_audio``; outputs are L2-normalised by the scorer.

Names resolve, in this order: an object with a ``load(*, device, dtype,
revision)`` method (the specs :class:`MSClap`, :class:`LaionClap`, :class:`CLSP`,
or your own); a name given to :func:`register_alm` (exact, or a prefix such as
``"laion-clap:"``); a local ``.pth`` (MS-CLAP) or ``.pt`` (LAION-CLAP) file;
else a CLAP checkpoint in Hugging Face format (hub id or directory).
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = [
    "ALMEncoder",
    "TextTokenLimit",
    "check_alm_encoder",
    "register_alm",
    "registered_alms",
    "resolve_alm",
    "unregister_alm",
]

PAD_MODES = ("repeatpad", "repeat")


@runtime_checkable
class ALMEncoder(Protocol):
    """What the zero-shot scorer needs from an audio-language dual encoder."""

    sampling_rate: int
    window: int | None
    logit_scale: float
    fingerprint: str

    def encode_audio(self, waves: list[np.ndarray]) -> np.ndarray: ...

    def encode_text(self, texts: list[str]) -> np.ndarray: ...


@runtime_checkable
class TextTokenLimit(Protocol):
    """Optional ability: a text tower that reads at most ``max_text_tokens`` tokens.

    ``count_tokens(texts)`` gives each text's length in tokens as the model's tokenizer
    makes them (special tokens included), before any truncation. The scorer uses it to
    warn about prompts that are cut (77 tokens for CLAP's RoBERTa tower).
    """

    max_text_tokens: int

    def count_tokens(self, texts: list[str]) -> list[int]: ...


def check_alm_encoder(encoder, model) -> object:
    """Return ``encoder`` if it follows the protocol, else say what is missing."""
    problems = []
    for name in ("encode_audio", "encode_text"):
        if not callable(getattr(encoder, name, None)):
            problems.append(f"a method {name}()")
    rate = getattr(encoder, "sampling_rate", None)
    if not isinstance(rate, (int, np.integer)) or isinstance(rate, bool) or rate <= 0:
        problems.append(f"an integer sampling_rate > 0 (got {rate!r})")
    if not hasattr(encoder, "window"):
        problems.append("a window (samples per clip, or None)")
    else:
        window = encoder.window
        if window is not None and (not isinstance(window, (int, np.integer)) or window <= 0):
            problems.append(f"a window that is a positive int or None (got {window!r})")
    scale = getattr(encoder, "logit_scale", None)
    if not isinstance(scale, (int, float, np.floating)) or not math.isfinite(scale) or scale <= 0:
        problems.append(f"a finite logit_scale > 0 (got {scale!r})")
    if not isinstance(getattr(encoder, "fingerprint", None), str):
        problems.append("a str fingerprint identifying the weights")
    pad = getattr(encoder, "pad_mode", "repeatpad")
    if pad not in PAD_MODES:
        problems.append(f"pad_mode in {PAD_MODES} (got {pad!r})")
    if problems:
        raise TypeError(
            f"model={_describe(model)} loaded a {type(encoder).__name__}, which is not an "
            f"audio-language encoder: it lacks {'; '.join(problems)}. See "
            "sklearn_zsfuse.encoders.ALMEncoder."
        )
    return encoder


def _describe(model) -> str:
    return repr(os.fspath(model)) if isinstance(model, (str, os.PathLike)) else repr(model)


# name -> (loader, is_prefix); loader(ref, *, device, dtype, revision) -> encoder
_registry: dict[str, tuple[Callable, bool]] = {}
_registry_lock = threading.Lock()


def register_alm(name: str, loader: Callable, *, prefix: bool = False, overwrite: bool = False) -> None:
    """Make ``ALMZeroShotScorer(model=name)`` load ``loader(ref, device=, dtype=, revision=)``.

    ``loader`` returns an object following :class:`ALMEncoder`. With
    ``prefix=True``, ``name`` (e.g. ``"my-clap:"``) matches every model string
    that starts with it, and ``ref`` is the rest of the string; otherwise ``ref``
    is ``name`` itself. Registration is per process: a pipeline pickled with
    ``model="my-clap:v1"`` needs the same registration where it is loaded.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty str, got {name!r}")
    if not callable(loader):
        raise TypeError(f"loader must be callable, got {type(loader).__name__}")
    with _registry_lock:
        if name in _registry and not overwrite:
            raise ValueError(
                f"an audio-language model is already registered as {name!r}; pass overwrite=True "
                "to replace it."
            )
        _registry[name] = (loader, bool(prefix))


def unregister_alm(name: str) -> None:
    with _registry_lock:
        if _registry.pop(name, None) is None:
            raise KeyError(f"no audio-language model is registered as {name!r}")


def registered_alms() -> dict[str, str]:
    """Registered names and whether each is an exact name or a prefix."""
    with _registry_lock:
        return {name: ("prefix" if is_prefix else "name") for name, (_, is_prefix) in _registry.items()}


class _Registered:
    """A registered name bound to its loader; hashable, so loaded models are shared."""

    __slots__ = ("name", "ref", "loader")

    def __init__(self, name, ref, loader):
        self.name, self.ref, self.loader = name, ref, loader

    def load(self, *, device, dtype, revision):
        return self.loader(self.ref, device=device, dtype=dtype, revision=revision)

    def _key(self):
        return (self.name, self.ref, self.loader)

    def __eq__(self, other):
        return isinstance(other, _Registered) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return f"{self.name}{self.ref if self.ref != self.name else ''}"


def resolve_alm(model):
    """The spec (an object with ``load(*, device, dtype, revision)``) that ``model`` names."""
    if not isinstance(model, (str, os.PathLike)):
        if callable(getattr(model, "load", None)):
            return model
        raise TypeError(
            f"model must be a name, a path, or a spec with a load() method, got "
            f"{type(model).__name__}."
        )
    text = os.fspath(model)
    with _registry_lock:
        exact = _registry.get(text)
        prefixes = sorted(
            ((n, l) for n, (l, p) in _registry.items() if p and text.startswith(n)),
            key=lambda item: -len(item[0]),
        )
    if exact is not None and not exact[1]:
        return _Registered(text, text, exact[0])
    if prefixes:
        name, loader = prefixes[0]
        return _Registered(name, text[len(name) :], loader)
    path = Path(text).expanduser()
    if path.suffix == ".pth" and path.is_file():
        from .msclap import MSClap

        return MSClap(checkpoint=str(path))
    if path.suffix == ".pt" and path.is_file():
        from .laion import LaionClap

        return LaionClap(checkpoint=str(path))
    from .hf_clap import HFClap

    return HFClap(text)


def _register_builtins() -> None:
    def msclap(version):
        def load(ref, *, device, dtype, revision):
            from .msclap import MSClap

            return MSClap(version=version).load(device=device, dtype=dtype, revision=revision)

        return load

    def laion(ref, *, device, dtype, revision):
        from .laion import LaionClap

        return LaionClap(checkpoint=ref).load(device=device, dtype=dtype, revision=revision)

    def clsp(ref, *, device, dtype, revision):
        from .clsp import CLSP

        return CLSP(ref or "yfyeung/CLSP").load(device=device, dtype=dtype, revision=revision)

    register_alm("msclap-2022", msclap("2022"))
    register_alm("msclap-2023", msclap("2023"))
    register_alm("laion-clap:", laion, prefix=True)
    register_alm("clsp:", clsp, prefix=True)
    register_alm("yfyeung/CLSP", clsp)


_register_builtins()
