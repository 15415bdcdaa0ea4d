"""One registry for both kinds of encoder: names and paths to specs, and specs to loaded models.

``register_alm`` and ``register_fm`` put a loader under a name (exact, or a
prefix such as ``"laion-clap:"``) for audio-language models and speech
foundation models respectively. ``model=`` strings resolve, in this order:

- an object with a ``load(*, device, dtype, revision)`` method (a spec: the
  dataclasses :class:`MSClap`, :class:`LaionClap`, :class:`CLSP`,
  :class:`HFClap`, :class:`HFSpeech`, :class:`EGeMAPS`, or your own);
- a registered name (exact first, then the longest matching prefix);
- ALMs: a local ``.pth`` (MS-CLAP) or ``.pt`` (LAION-CLAP) file, else a CLAP
  checkpoint in Hugging Face format (hub id or directory);
- FMs: a speech model in Hugging Face format (hub id or directory).

Built in: ``msclap-2022``, ``msclap-2023``, ``laion-clap:``, ``clsp:``,
``yfyeung/CLSP`` (ALMs) and ``egemaps`` (openSMILE's eGeMAPSv02 functionals, FM).
Registration is per process: a pipeline pickled with ``model="my-clap:v1"``
needs the same registration where it is loaded.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "register_alm",
    "register_fm",
    "registered_alms",
    "registered_fms",
    "resolve_alm",
    "resolve_fm",
    "unregister_alm",
    "unregister_fm",
]

_KINDS = {"alm": "an audio-language model", "fm": "a speech foundation model"}

# (kind, name) -> (loader, is_prefix); loader(ref, *, device, dtype, revision) -> encoder
_registry: dict[tuple[str, str], tuple[Callable, bool]] = {}
_lock = threading.Lock()


def _register(kind: str, name: str, loader: Callable, prefix: bool, overwrite: bool) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty str, got {name!r}")
    if not callable(loader):
        raise TypeError(f"loader must be callable, got {type(loader).__name__}")
    with _lock:
        if (kind, name) in _registry and not overwrite:
            raise ValueError(
                f"{_KINDS[kind]} is already registered as {name!r}; pass overwrite=True to replace it."
            )
        _registry[(kind, name)] = (loader, bool(prefix))


def _unregister(kind: str, name: str) -> None:
    with _lock:
        if _registry.pop((kind, name), None) is None:
            raise KeyError(f"no {_KINDS[kind][_KINDS[kind].index(' ') + 1:]} is registered as {name!r}")


def _registered(kind: str) -> dict[str, str]:
    with _lock:
        return {n: ("prefix" if p else "name") for (k, n), (_, p) in _registry.items() if k == kind}


def register_alm(name: str, loader: Callable, *, prefix: bool = False, overwrite: bool = False) -> None:
    """Make ``ALMZeroShotScorer(model=name)`` load ``loader(ref, device=, dtype=, revision=)``.

    ``loader`` returns an object following :class:`~.alm.ALMEncoder`. With
    ``prefix=True``, ``name`` (e.g. ``"my-clap:"``) matches every model string
    that starts with it, and ``ref`` is the rest of the string; otherwise ``ref``
    is ``name`` itself.
    """
    _register("alm", name, loader, prefix, overwrite)


def register_fm(name: str, loader: Callable, *, prefix: bool = False, overwrite: bool = False) -> None:
    """Make ``FMEmbedder(model=name)`` load ``loader(ref, device=, dtype=, revision=)``.

    ``loader`` returns an object following :class:`~.fm.FMEncoder`; ``prefix``
    as in :func:`register_alm`.
    """
    _register("fm", name, loader, prefix, overwrite)


def unregister_alm(name: str) -> None:
    _unregister("alm", name)


def unregister_fm(name: str) -> None:
    _unregister("fm", name)


def registered_alms() -> dict[str, str]:
    """Registered ALM names and whether each is an exact name or a prefix."""
    return _registered("alm")


def registered_fms() -> dict[str, str]:
    """Registered FM names and whether each is an exact name or a prefix."""
    return _registered("fm")


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


def _lookup(kind: str, model):
    """The spec ``model`` names through the registry, or None (then the kind's default rules)."""
    if not isinstance(model, (str, os.PathLike)):
        if callable(getattr(model, "load", None)):
            return model
        raise TypeError(
            f"model must be a name, a path, or a spec with a load() method, got {type(model).__name__}."
        )
    text = os.fspath(model)
    with _lock:
        exact = _registry.get((kind, text))
        prefixes = sorted(
            ((n, l) for (k, n), (l, p) in _registry.items() if k == kind and p and text.startswith(n)),
            key=lambda item: -len(item[0]),
        )
    if exact is not None and not exact[1]:
        return _Registered(text, text, exact[0])
    if prefixes:
        name, loader = prefixes[0]
        return _Registered(name, text[len(name) :], loader)
    return None


def resolve_alm(model):
    """The spec (an object with ``load(*, device, dtype, revision)``) that ``model`` names."""
    spec = _lookup("alm", model)
    if spec is not None:
        return spec
    path = Path(os.fspath(model)).expanduser()
    if path.suffix == ".pth" and path.is_file():
        from .msclap import MSClap

        return MSClap(checkpoint=str(path))
    if path.suffix == ".pt" and path.is_file():
        from .laion import LaionClap

        return LaionClap(checkpoint=str(path))
    from .hf_clap import HFClap

    return HFClap(os.fspath(model))


def resolve_fm(model):
    """The spec of the speech model ``model`` names (a registered name, else Hugging Face format)."""
    spec = _lookup("fm", model)
    if spec is not None:
        return spec
    from .hf_speech import HFSpeech

    return HFSpeech(os.fspath(model))


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

    def egemaps(ref, *, device, dtype, revision):
        from .opensmile_egemaps import EGeMAPS

        return EGeMAPS().load(device=device, dtype=dtype, revision=revision)

    register_alm("msclap-2022", msclap("2022"))
    register_alm("msclap-2023", msclap("2023"))
    register_alm("laion-clap:", laion, prefix=True)
    register_alm("clsp:", clsp, prefix=True)
    register_alm("yfyeung/CLSP", clsp)
    register_fm("egemaps", egemaps)


_register_builtins()
