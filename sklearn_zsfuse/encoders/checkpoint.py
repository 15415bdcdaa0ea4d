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
  attributes, so a file cannot patch a class for the rest of the process;
- nothing the file builds may hold Python objects by pointer: numpy dtypes and
  arrays with an ``object`` part are refused (numpy would read the file's bytes as
  object addresses);
- nothing it builds may be larger than the file itself: a call like ``bytes(6e9)``,
  ``list(range(4e8))`` or a storage or array of a declared size beyond the file is
  refused before it allocates (a checkpoint's contents all come from its bytes).

Functions cannot be called unless they are in the allowlist, so nothing in the
file runs: an ``os.system`` payload stops at the name ``posix.system``.
"""

from __future__ import annotations

import _compat_pickle
import functools
import importlib
import pickle
import types
import warnings
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


def _nbytes(obj) -> int:
    """Bytes an object from the file stands for: arrays and tensors (their data), else 0."""
    import numpy as np
    import torch

    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if isinstance(obj, torch.Tensor):
        return int(obj.numel()) * int(obj.element_size())
    return 0


def _holds_objects(obj) -> bool:
    import numpy as np

    dtype = obj if isinstance(obj, np.dtype) else getattr(obj, "dtype", None)
    return isinstance(dtype, np.dtype) and dtype.hasobject


class _RestrictedUnpickler(pickle._Unpickler):
    """Python's unpickler (all protocols) with an allowlist of globals and a guarded BUILD.

    Every call the file makes (``REDUCE``, ``NEWOBJ``, ``INST``/``OBJ``) and every
    persistent storage it names is checked against :attr:`max_bytes` (the file's size)
    before it runs, and its result against object dtypes and the same bound after.
    """

    max_bytes = 1 << 20  # set per file by read_checkpoint
    reconstruct = None  # numpy's array rebuilder, whose shape argument is checked like a size

    def _check_call(self, func, args) -> None:
        import numpy as np

        if func is np.ndarray:  # np.ndarray(shape) is uninitialised memory of any size
            raise UnsafeCheckpointError(
                "the file calls numpy.ndarray itself (arrays are rebuilt from their data, never allocated blank)"
            )
        for arg in args if isinstance(args, (tuple, list)) else ():
            size = None
            if isinstance(arg, range):
                size = len(arg)
            elif isinstance(arg, int) and func in (bytes, bytearray):
                size = arg
            elif isinstance(arg, tuple) and func is self.reconstruct and all(isinstance(n, int) for n in arg):
                size = int(np.prod(arg, dtype=object)) if arg else 1
            if size is not None and size > self.max_bytes:
                raise UnsafeCheckpointError(
                    f"the file asks {getattr(func, '__qualname__', func)!s}() for {size:,} items, more than "
                    f"the file's {self.max_bytes:,} bytes could hold"
                )

    def _check_result(self, obj) -> None:
        if _holds_objects(obj):
            raise UnsafeCheckpointError(
                f"the file builds a numpy {type(obj).__name__} of dtype {getattr(obj, 'dtype', obj)!s}, "
                "which holds Python objects (an object dtype would read the file's bytes as pointers)"
            )
        size = _nbytes(obj)
        if size > self.max_bytes:
            raise UnsafeCheckpointError(
                f"the file builds a {type(obj).__name__} of {size:,} bytes, more than the file's "
                f"{self.max_bytes:,} bytes hold"
            )

    def load_reduce(self):
        self._check_call(self.stack[-2], self.stack[-1])
        super().load_reduce()
        self._check_result(self.stack[-1])

    def load_newobj(self):
        self._check_call(self.stack[-2], self.stack[-1])
        super().load_newobj()
        self._check_result(self.stack[-1])

    def load_newobj_ex(self):
        self._check_call(self.stack[-3], self.stack[-2])
        super().load_newobj_ex()
        self._check_result(self.stack[-1])

    def _instantiate(self, klass, args):
        self._check_call(klass, args)
        super()._instantiate(klass, args)
        self._check_result(self.stack[-1])

    def _check_storage(self, pid) -> None:
        """torch allocates a storage of the size the file declares, before reading its bytes."""
        if isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage" and isinstance(pid[4], int):
            import torch

            with warnings.catch_warnings():  # torch deprecates the typed storage classes it still writes
                warnings.simplefilter("ignore")
                dtype = getattr(pid[1], "dtype", None)
            itemsize = dtype.itemsize if isinstance(dtype, torch.dtype) else 1  # UntypedStorage: bytes
            if pid[4] * itemsize > self.max_bytes:
                raise UnsafeCheckpointError(
                    f"the file declares a storage of {pid[4]:,} elements, more than its {self.max_bytes:,} bytes hold"
                )

    def load_binpersid(self):
        self._check_storage(self.stack[-1])
        super().load_binpersid()

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
        self._check_result(inst)  # a dtype or array gets its fields and data here

    dispatch = dict(pickle._Unpickler.dispatch)
    dispatch[pickle.BUILD[0]] = load_build
    dispatch[pickle.REDUCE[0]] = load_reduce
    dispatch[pickle.NEWOBJ[0]] = load_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex
    dispatch[pickle.BINPERSID[0]] = load_binpersid


def _restricted_pickle(max_bytes: int):
    """What torch.load(pickle_module=...) uses, bounded by ``max_bytes``: Unpickler (subclassed
    by torch, which adds its persistent_load for storages) and load (the legacy format's header
    records)."""
    reconstruct = allowed_globals()["numpy._core.multiarray._reconstruct"]
    unpickler = type("_BoundedUnpickler", (_RestrictedUnpickler,), {"max_bytes": max_bytes, "reconstruct": reconstruct})
    return types.SimpleNamespace(
        __name__="zsfuse_restricted_pickle",
        Unpickler=unpickler,
        load=lambda file, **kwargs: unpickler(file, **kwargs).load(),
    )


def read_checkpoint(path):
    """The object in a torch checkpoint file, rebuilt from allowed globals only (see module doc).

    Raises :class:`UnsafeCheckpointError` for a file that asks for anything else, or for
    more memory than the file's own size.
    """
    import torch

    path = Path(path)
    # Everything a checkpoint holds comes from its bytes; 1 MiB of slack for tiny files.
    max_bytes = max(path.stat().st_size, 1 << 20)
    # weights_only=False only means "use pickle_module": the allowlist above decides what is built.
    return torch.load(path, map_location="cpu", weights_only=False, pickle_module=_restricted_pickle(max_bytes))


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
    except MemoryError as exc:
        raise ModelLoadError(
            f"Cannot load model={model!r}: {str(p)!r} asks for more memory than this machine has."
        ) from exc
    except (pickle.UnpicklingError, RuntimeError, OSError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise ModelLoadError(
            f"Cannot load model={model!r}: {str(p)!r} is not a readable torch checkpoint. "
            f"[{type(exc).__name__}: {exc}]"
        ) from exc
