"""A checkpoint cannot forge objects or make the reader allocate what the file does not hold.

Issue 17, item 2. A numpy array whose pickled dtype is patched to ``object`` would be
built from the file's bytes as object pointers (``.tolist()`` then crashes the
process); a kilobyte-sized file asking for ``bytes(6e9)`` or ``list(range(4e8))``
would allocate gigabytes. Both are refused with :class:`ModelLoadError` before
anything is built. The oversized cases run in a child process under an address-space
limit, so that a regression fails with a MemoryError instead of taking the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from sklearn_zsfuse import ModelLoadError
from sklearn_zsfuse.encoders import laion


def _object_dtype_checkpoint(path, legacy: bool):
    torch.save({"a": np.arange(4)}, path, _use_new_zipfile_serialization=not legacy)
    data = path.read_bytes()
    assert data.count(b"i8") == 1, "the pickled dtype string is where the test expects it"
    path.write_bytes(data.replace(b"i8", b"O8"))


@pytest.mark.parametrize("legacy", [True, False], ids=["legacy", "zip"])
def test_an_object_dtype_is_refused_not_built_from_file_bytes(tmp_path, legacy):
    path = tmp_path / "forged.pt"
    _object_dtype_checkpoint(path, legacy)
    with pytest.raises(ModelLoadError, match=r"forged.pt' was refused, nothing from it ran: .*object"):
        laion.load_checkpoint(str(path), model="forged")


_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    import torch
    from sklearn_zsfuse.encoders import laion
    from sklearn_zsfuse import ModelLoadError

    # Room for this process as it is, plus 512 MiB: a gigabyte allocation fails at once.
    with open("/proc/self/statm") as f:
        size = int(f.read().split()[0]) * resource.getpagesize()
    limit = size + (512 << 20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    results = {}
    for name, path in json.loads(sys.argv[1]).items():
        try:
            laion.load_checkpoint(path, model=name)
            results[name] = "loaded"
        except ModelLoadError as exc:
            results[name] = "ModelLoadError: " + str(exc)
        except BaseException as exc:
            results[name] = type(exc).__name__ + ": " + str(exc)[:200]
    print(json.dumps(results))
    """
)


class _Calls:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _legacy_file_with_storage(path, numel: int):
    """torch's legacy layout, with a float storage that declares ``numel`` elements and holds 4."""
    import io
    import pickle

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", torch.FloatStorage, "0", "cpu", numel, None) if obj == "STORAGE" else None

    with open(path, "wb") as f:
        for header in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}):
            pickle.dump(header, f, protocol=2)
        body = io.BytesIO()
        Pickler(body, protocol=2).dump({"w": "STORAGE"})
        f.write(body.getvalue())
        pickle.dump(["0"], f, protocol=2)
        f.write(np.int64(4).tobytes() + np.zeros(4, np.float32).tobytes())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="address-space limit and /proc: Linux")
def test_small_files_cannot_allocate_without_bound(tmp_path):
    payloads = {
        "bytes": _Calls(bytes, 6_000_000_000),
        "list_range": _Calls(list, range(400_000_000)),
        "bytearray": _Calls(bytearray, 10**12),
        "frozenset_range": _Calls(frozenset, range(100_000_000)),
        "tuple_range": _Calls(tuple, range(300_000_000)),
        "array": _Calls(np.ndarray, (3_000_000_000,)),
    }
    paths = {}
    for name, payload in payloads.items():
        paths[name] = str(tmp_path / f"{name}.pt")
        torch.save({"state_dict": {"w": torch.zeros(2)}, "extra": payload}, paths[name])
        assert (tmp_path / f"{name}.pt").stat().st_size < 2000
    paths["storage"] = str(tmp_path / "storage.pt")
    _legacy_file_with_storage(paths["storage"], numel=1_500_000_000)
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(paths)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    results = json.loads(out.stdout.strip().splitlines()[-1])
    for name, outcome in results.items():
        assert outcome.startswith("ModelLoadError: "), (name, outcome)
        assert "was refused, nothing from it ran" in outcome, (name, outcome)


def test_real_checkpoints_still_load_with_the_bounds(tmp_path):
    from test_checkpoint_loader import assert_same, training_checkpoint

    path = tmp_path / "ok.pt"
    original = training_checkpoint()
    torch.save(original, path)
    assert_same(laion.load_checkpoint(str(path), model="ok"), original)
