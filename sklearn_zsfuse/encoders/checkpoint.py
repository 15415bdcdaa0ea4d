"""Reading pickled torch checkpoints (``.pt``, ``.pth``) without running code from them.

``torch.load(weights_only=True)`` refuses what real training checkpoints hold:
LAION-CLAP's released files are pickled with protocol 4 ("Unsupported operand
149") and hold numpy scalars ("Unsupported global:
numpy._core.multiarray.scalar"). This loader reads them through torch's own
file-format code (zip and legacy layouts, ``persistent_load`` for storages) with
a restricted unpickler instead:

- every opcode of pickle protocols 0-5 is read (it is Python's own unpickler);
- a global (a class or function the file asks for) is only handed out from
  :data:`ALLOWED_GLOBALS`: torch's tensor and storage rebuilders, dtypes, devices
  and sizes (the set torch's ``weights_only`` loader trusts), ``OrderedDict``,
  numpy's scalar, dtype and array reconstruction (``numpy.core`` and
  ``numpy._core`` spellings), ``argparse.Namespace`` (training scripts save their
  ``args``) and the constructors of plain values (``set``, ``list``, ``dict``,
  ``int``, ``str``, ``complex``, ``bytearray``, ``slice``, ...); anything else raises
  :class:`UnsafeCheckpointError` naming it, before it is imported;
- ``BUILD`` (setting an object's state) is refused on classes and for dunder
  attributes, so a file cannot patch a class for the rest of the process.

Functions cannot be called unless they are in the allowlist, so nothing in the
file runs: an ``os.system`` payload stops at the name ``posix.system``.
"""

from __future__ import annotations

import _compat_pickle
import functools
import importlib
import pickle
import types
from pathlib import Path
from types import MappingProxyType

from .base import ModelLoadError

__all__ = ["UnsafeCheckpointError", "allowed_globals", "load_checkpoint", "read_checkpoint"]


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint asks for a global outside the allowlist (it would run or build arbitrary code)."""


_NUMPY = MappingProxyType({
    # numpy < 2 writes numpy.core..., numpy >= 2 numpy._core...; both read either.
    "multiarray.scalar": ("multiarray", "scalar"),
    "multiarray._reconstruct": ("multiarray", "_reconstruct"),
    "numeric._frombuffer": ("numeric", "_frombuffer"),
})
# Constructors of plain values (a defaultdict(list) pickles as defaultdict + builtins.list).
_BUILTINS = (
    "set", "frozenset", "complex", "bytearray", "slice", "range", "list", "dict", "tuple", "int", "float",
    "str", "bool", "bytes",
)


def _torch_weights_only_globals() -> dict[str, object]:
    """What torch's own weights_only loader trusts (tensors, storages, dtypes, layouts, devices)."""
    import torch

    try:
        from torch._weights_only_unpickler import _get_allowed_globals

        return dict(_get_allowed_globals())
    except (ImportError, AttributeError):  # a torch without that (private) list: the core of it
        rebuilders = [n for n in dir(torch._utils) if n.startswith("_rebuild_")]
        allowed = {f"torch._utils.{n}": getattr(torch._utils, n) for n in rebuilders}
        allowed.update({str(t): t for t in vars(torch).values() if isinstance(t, torch.dtype)})
        allowed["torch.nn.parameter.Parameter"] = torch.nn.Parameter
        allowed["torch._tensor._rebuild_from_type_v2"] = torch._tensor._rebuild_from_type_v2
        allowed["torch.serialization._get_layout"] = torch.serialization._get_layout
        return allowed


@functools.cache
def allowed_globals() -> dict[str, object]:
    """``"module.name" -> object`` for every global a checkpoint may ask for."""
    import argparse
    import builtins
    import codecs
    import collections

    import numpy as np
    import torch

    allowed = _torch_weights_only_globals()
    allowed.update(
        {
            "collections.OrderedDict": collections.OrderedDict,
            "collections.defaultdict": collections.defaultdict,
            "_codecs.encode": codecs.encode,  # how protocol 2 writes bytes
            "argparse.Namespace": argparse.Namespace,
            "numpy.dtype": np.dtype,
            "numpy.ndarray": np.ndarray,
            "torch.Size": torch.Size,
            "torch.device": torch.device,
            "torch._utils._rebuild_tensor_v2": torch._utils._rebuild_tensor_v2,
        }
    )
    core = "numpy._core" if int(np.__version__.split(".")[0]) >= 2 else "numpy.core"
    for name, (module, attr) in _NUMPY.items():
        obj = getattr(importlib.import_module(f"{core}.{module}"), attr)
        allowed[f"numpy.core.{name}"] = allowed[f"numpy._core.{name}"] = obj
    for name in _BUILTINS:
        allowed[f"builtins.{name}"] = getattr(builtins, name)
    return allowed


class _RestrictedUnpickler(pickle._Unpickler):
    """Python's unpickler (all protocols) with an allowlist of globals and a guarded BUILD."""

    def find_class(self, module, name):
        if self.proto < 3 and self.fix_imports:  # Python 2 names, as pickle itself maps them
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        key = f"{module}.{name}"
        obj = allowed_globals().get(key)
        if obj is None:
            raise UnsafeCheckpointError(
                f"the file asks for {key!r}, which is not a tensor, container, numpy scalar or array, "
                "or argparse.Namespace (a pickle that builds anything else can run code)"
            )
        return obj

    def load_build(self):
        state = self.stack[-1]
        inst = self.stack[-2]
        if isinstance(inst, (type, types.FunctionType, types.BuiltinFunctionType, types.ModuleType)):
            raise UnsafeCheckpointError(
                f"the file sets attributes of {getattr(inst, '__qualname__', inst)!r} itself (only "
                "objects it builds may get a state)"
            )
        slots = state[1] if isinstance(state, tuple) and len(state) == 2 else None
        names = list(slots) if isinstance(slots, dict) else []
        if isinstance(state, dict) and not hasattr(inst, "__setstate__"):
            names += list(state)
        bad = [n for n in names if not isinstance(n, str) or n.startswith("__")]
        if bad:
            raise UnsafeCheckpointError(f"the file sets the attribute {bad[0]!r} of a {type(inst).__name__}")
        super().load_build()

    dispatch = dict(pickle._Unpickler.dispatch)
    dispatch[pickle.BUILD[0]] = load_build


def _load(file, **kwargs):
    return _RestrictedUnpickler(file, **kwargs).load()


# What torch.load(pickle_module=...) uses: Unpickler (subclassed by torch, which adds its
# persistent_load for storages) and load (the legacy format's header records).
_restricted_pickle = types.SimpleNamespace(__name__="zsfuse_restricted_pickle", Unpickler=_RestrictedUnpickler, load=_load)


def read_checkpoint(path):
    """The object in a torch checkpoint file, rebuilt from allowed globals only (see module doc).

    Raises :class:`UnsafeCheckpointError` for a file that asks for anything else.
    """
    import torch

    # weights_only=False only means "use pickle_module": the allowlist above decides what is built.
    return torch.load(Path(path), map_location="cpu", weights_only=False, pickle_module=_restricted_pickle)


def load_checkpoint(path, *, model) -> object:
    """:func:`read_checkpoint` with one clear :class:`ModelLoadError` per problem."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise ModelLoadError(f"Cannot load model={model!r}: the checkpoint file {str(p)!r} does not exist.")
    try:
        return read_checkpoint(p)
    except UnsafeCheckpointError as exc:
        raise ModelLoadError(
            f"Cannot load model={model!r}: {str(p)!r} was refused, nothing from it ran: {exc}. Checkpoints "
            "are read without running code; re-save its state dict (torch.save({'state_dict': sd}, path)) "
            "from a session you trust."
        ) from exc
    except (pickle.UnpicklingError, RuntimeError, OSError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise ModelLoadError(
            f"Cannot load model={model!r}: {str(p)!r} is not a readable torch checkpoint. "
            f"[{type(exc).__name__}: {exc}]"
        ) from exc
