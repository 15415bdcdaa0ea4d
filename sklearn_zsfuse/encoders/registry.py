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
``yfyeung/CLSP`` (ALMs); ``egemaps`` (openSMILE's eGeMAPSv02 functionals) and
``ge2e``, ``ge2e:stats``, ``ge2e:utterance`` (the GE2E speaker encoder whose
weights ship in the Resemblyzer wheel: :mod:`.ge2e`) (FMs).
Registration is per process: a pipeline pickled with ``model="my-clap:v1"``
needs the same registration where it is loaded.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from .declarations import declared as _declared
from .specs import ModelSpec, as_spec

__all__ = [
    "Registered",
    "register_alm",
    "register_fm",
    "registered_alms",
    "registered_fms",
    "registered_spec",
    "resolve_alm",
    "resolve_fm",
    "unregister_alm",
    "unregister_fm",
]

_KINDS = MappingProxyType({"alm": "an audio-language model", "fm": "a speech foundation model"})

@dataclass(frozen=True)
class _Entry:
    """One registration: the loader and what is declared about the models it loads."""

    loader: Callable  # loader(ref, *, device, dtype, revision) -> encoder
    prefix: bool
    requires: tuple[tuple[str, str], ...] = ()  # (module the loader imports, how to install it)
    n_layers: int | None = None  # FMs: hidden states per clip, where fixed


def _register(
    kind: str, name: str, loader: Callable, prefix: bool, overwrite: bool, requires=None, n_layers=None
) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty str, got {name!r}")
    if not callable(loader):
        raise TypeError(f"loader must be callable, got {type(loader).__name__}")
    entry = _Entry(loader, bool(prefix), tuple((str(m), str(h)) for m, h in dict(requires or {}).items()), n_layers)
    with _declared.lock:
        if (kind, name) in _declared.encoders and not overwrite:
            raise ValueError(
                f"{_KINDS[kind]} is already registered as {name!r}; pass overwrite=True to replace it."
            )
        _declared.encoders[(kind, name)] = entry


def _unregister(kind: str, name: str) -> None:
    with _declared.lock:
        if _declared.encoders.pop((kind, name), None) is None:
            raise KeyError(f"no {_KINDS[kind][_KINDS[kind].index(' ') + 1:]} is registered as {name!r}")


def _registered(kind: str) -> dict[str, str]:
    with _declared.lock:
        return {n: ("prefix" if e.prefix else "name") for (k, n), e in _declared.encoders.items() if k == kind}


def register_alm(
    name: str, loader: Callable, *, prefix: bool = False, overwrite: bool = False, requires=None
) -> None:
    """Make ``ALMZeroShotScorer(model=name)`` load ``loader(ref, device=, dtype=, revision=)``.

    ``loader`` returns an object following :class:`~.alm.ALMEncoder`. With
    ``prefix=True``, ``name`` (e.g. ``"my-clap:"``) matches every model string
    that starts with it, and ``ref`` is the rest of the string; otherwise ``ref``
    is ``name`` itself. ``requires`` maps the modules the loader imports to how to
    install them (``{"opensmile": "pip install opensmile"}``): ``zsfuse`` checks
    them before any work starts and names the install line.
    """
    _register("alm", name, loader, prefix, overwrite, requires=requires)


def register_fm(
    name: str,
    loader: Callable,
    *,
    prefix: bool = False,
    overwrite: bool = False,
    requires=None,
    n_layers: int | None = None,
) -> None:
    """Make ``FMEmbedder(model=name)`` load ``loader(ref, device=, dtype=, revision=)``.

    ``loader`` returns an object following :class:`~.fm.FMEncoder`; ``prefix`` and
    ``requires`` as in :func:`register_alm`. ``n_layers``, where every model the
    name loads has that many, lets ``zsfuse`` check ``--layer`` before loading it.
    """
    _register("fm", name, loader, prefix, overwrite, requires=requires, n_layers=n_layers)


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


class Registered(ModelSpec):
    """A registered name bound to its entry; hashable, so loaded models are shared."""

    __slots__ = ("name", "ref", "loader", "requires", "n_layers")

    def __init__(self, name, ref, entry: _Entry):
        self.name, self.ref, self.loader = name, ref, entry.loader
        self.requires, self.n_layers = entry.requires, entry.n_layers

    def load(self, *, device, dtype, revision):
        return self.loader(self.ref, device=device, dtype=dtype, revision=revision)

    def missing(self) -> list[tuple[str, str]]:
        """The declared modules that cannot be imported here, with how to install each."""
        import importlib.util

        return [(m, hint) for m, hint in self.requires if importlib.util.find_spec(m) is None]

    def precheck(self, parameter: str) -> None:
        """What the registration declares: the packages its loader imports (the rest is the loader's)."""
        from ._backend import MissingExtraError

        missing = self.missing()
        if missing:
            module, hint = missing[0]
            raise MissingExtraError(f"{parameter}={str(self)!r} needs the {module} package: {hint}.")

    def layer_count(self) -> int | None:
        return self.n_layers

    def _key(self):
        return (self.name, self.ref, self.loader)

    def __eq__(self, other):
        return isinstance(other, Registered) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return f"{self.name}{self.ref if self.ref != self.name else ''}"


def _lookup(kind: str, model):
    """The spec ``model`` names through the registry, or None (then the kind's default rules)."""
    if not isinstance(model, (str, os.PathLike)):
        if callable(getattr(model, "load", None)):
            return as_spec(model)
        raise TypeError(
            f"model must be a name, a path, or a spec with a load() method, got {type(model).__name__}."
        )
    text = os.fspath(model)
    with _declared.lock:
        exact = _declared.encoders.get((kind, text))
        prefixes = sorted(
            ((n, e) for (k, n), e in _declared.encoders.items() if k == kind and e.prefix and text.startswith(n)),
            key=lambda item: -len(item[0]),
        )
    if exact is not None and not exact.prefix:
        return Registered(text, text, exact)
    if prefixes:
        name, entry = prefixes[0]
        return Registered(name, text[len(name) :], entry)
    return None


def registered_spec(model) -> Registered | None:
    """The registration ``model`` names (of either kind), or None: a path, a hub id or a spec."""
    if not isinstance(model, (str, os.PathLike)):
        return None
    return _lookup("alm", model) or _lookup("fm", model)


def resolve_alm(model) -> ModelSpec:
    """The spec (:class:`~.specs.ModelSpec`: ``load``, ``precheck``) that ``model`` names."""
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


def resolve_fm(model) -> ModelSpec:
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

    def ge2e(pooling):
        def load(ref, *, device, dtype, revision):
            from .ge2e import GE2E

            return GE2E(pooling=pooling).load(device=device, dtype=dtype, revision=revision)

        return load

    def egemaps(ref, *, device, dtype, revision):
        from .opensmile_egemaps import EGeMAPS

        return EGeMAPS().load(device=device, dtype=dtype, revision=revision)

    register_alm("msclap-2022", msclap("2022"))
    register_alm("msclap-2023", msclap("2023"))
    register_alm("laion-clap:", laion, prefix=True)
    register_alm("clsp:", clsp, prefix=True)
    register_alm("yfyeung/CLSP", clsp)
    register_fm(
        "egemaps", egemaps, requires={"opensmile": "pip install 'sklearn-zsfuse[egemaps]'"}, n_layers=1
    )
    from .ge2e import INSTALL as GE2E_INSTALL

    # The loader reads resemblyzer's weights file without importing it (find_spec only looks).
    ge2e_requires = {"resemblyzer": GE2E_INSTALL, "webrtcvad": GE2E_INSTALL}
    for name, pooling, n_layers in (("ge2e", "mean", 3), ("ge2e:stats", "stats", 3), ("ge2e:utterance", "utterance", 1)):
        register_fm(name, ge2e(pooling), requires=ge2e_requires, n_layers=n_layers)


_register_builtins()
