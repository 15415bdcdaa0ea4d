"""Pickled torch checkpoints (laion_clap ``.pt``, msclap ``.pth``) are read without running code.

Real training checkpoints are what ``torch.load(weights_only=True)`` refuses:
protocol-4/5 pickles, numpy scalars, argparse Namespaces. The backends read them
through :mod:`sklearn_zsfuse.encoders.checkpoint`; these tests save checkpoints as
training scripts do and check what comes back, and that a payload that would run
code is refused with nothing run.
"""

from __future__ import annotations

import argparse
import collections
import os
import warnings

import numpy as np
import pytest
import torch

from sklearn_zsfuse import ModelLoadError
from sklearn_zsfuse.encoders import laion, msclap


def training_checkpoint():
    """What laion_clap's training (and scripts like it) save: ints, names, optimizer state, numpy, args."""
    generator = torch.Generator().manual_seed(0)
    state = collections.OrderedDict(
        ("module." + k, torch.randn(shape, generator=generator))
        for k, shape in [("audio_branch.w", (4, 3)), ("text_branch.b", (3,)), ("logit_scale_a", ())]
    )
    state["module.half"] = torch.ones(2, 2, dtype=torch.float16)
    state["module.view"] = state["module.audio_branch.w"][1:]  # a view shares its storage
    return {
        "epoch": 45,
        "name": "2022_11_14-laion-clap",
        "state_dict": state,
        "optimizer": {
            "state": {0: {"step": torch.tensor(10.0), "exp_avg": torch.zeros(3)}},
            "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.99), "weight_decay": 0.0, "params": [0, 1]}],
        },
        "scaler": {"scale": 65536.0, "growth_factor": 2.0, "_growth_tracker": 0},
        "best_metric": np.float64(0.9014),
        "step": np.int64(3),
        "labels": np.arange(5, dtype=np.int32),
        "dtype": np.dtype("float32"),
        "args": argparse.Namespace(amodel="HTSAT-tiny", lr=1e-4, datasets=["audioset"], seed=None),
        "misc": {"tags": {"a", "b"}, "span": complex(1, 2), "raw": b"\x00\xff", "none": None,
                 "by_class": collections.defaultdict(list, {"a": [1]}), "frozen": frozenset({1})},
    }


def assert_same(loaded, original):
    assert type(loaded) is type(original), (type(loaded), type(original))
    if isinstance(original, torch.Tensor):
        assert loaded.dtype == original.dtype and torch.equal(loaded, original)
    elif isinstance(original, np.ndarray):
        np.testing.assert_array_equal(loaded, original)
        assert loaded.dtype == original.dtype
    elif isinstance(original, dict):
        assert list(loaded) == list(original)
        for k in original:
            assert_same(loaded[k], original[k])
    elif isinstance(original, (list, tuple)):
        assert len(loaded) == len(original)
        for a, b in zip(loaded, original):
            assert_same(a, b)
    elif isinstance(original, argparse.Namespace):
        assert vars(loaded) == vars(original)
    else:
        assert loaded == original


LOADERS = {"laion": laion.load_checkpoint, "msclap": msclap.load_checkpoint}


@pytest.mark.parametrize("backend", sorted(LOADERS))
@pytest.mark.parametrize("layout", ["zip", "legacy"])
@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_training_checkpoints_load_in_every_protocol_and_layout(backend, layout, protocol, tmp_path):
    original = training_checkpoint()
    path = tmp_path / "ckpt.pt"
    torch.save(original, path, pickle_protocol=protocol, _use_new_zipfile_serialization=layout == "zip")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no torch warning about protocols or weights_only either
        loaded = LOADERS[backend](str(path), model="x")
    assert_same(loaded, original)
    state = loaded["state_dict"]
    assert state["module.view"].data_ptr() == state["module.audio_branch.w"][1:].data_ptr()


def test_what_torch_weights_only_refuses_is_what_real_checkpoints_hold(tmp_path):
    """Why the loader exists (torch >= 2.6): protocol 4 and numpy scalars are refused there."""
    path = tmp_path / "p4.pt"
    torch.save({"state_dict": {"w": torch.ones(1)}, "step": np.int64(3)}, path, pickle_protocol=4)
    with pytest.raises(Exception), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.load(path, weights_only=True)
    assert laion.load_checkpoint(str(path), model="x")["step"] == 3


class _RunsCode:
    def __init__(self, *call):
        self.call = call

    def __reduce__(self):
        return self.call


def _payloads(marker):
    import subprocess

    return {
        "os.system": _RunsCode(os.system, (f"touch {marker}",)),
        "subprocess": _RunsCode(subprocess.call, (["touch", str(marker)],)),
        "eval": _RunsCode(eval, (f"open({str(marker)!r}, 'w')",)),
        "getattr": _RunsCode(getattr, (str, "join")),
    }


@pytest.mark.parametrize("kind", ["os.system", "subprocess", "eval", "getattr"])
@pytest.mark.parametrize("protocol", [2, 4])
def test_a_checkpoint_that_would_run_code_is_refused_and_nothing_runs(kind, protocol, tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pt"
    checkpoint = training_checkpoint()
    checkpoint["optimizer"]["payload"] = _payloads(marker)[kind]
    torch.save(checkpoint, path, pickle_protocol=protocol)
    names = {"os.system": "system", "subprocess": "subprocess.call", "eval": "builtins.eval", "getattr": "builtins.getattr"}
    with pytest.raises(ModelLoadError, match=rf"model='evil'.*evil.pt' was refused, nothing from it ran: .*{names[kind]}"):
        laion.load_checkpoint(str(path), model="evil")
    assert not marker.exists()


def test_a_whole_pickled_module_is_refused_by_name(tmp_path):
    path = tmp_path / "module.pth"
    torch.save({"model": torch.nn.Linear(2, 2)}, path)
    with pytest.raises(ModelLoadError, match=r"torch\.nn\.modules\.linear\.Linear"):
        msclap.load_checkpoint(str(path), model="m")


def test_a_checkpoint_cannot_patch_a_class(tmp_path):
    """BUILD on a global itself (not on an object the file built) would change it for the whole process."""
    import pickle

    # GLOBAL argparse Namespace; state (None, {"__repr__": ...}); BUILD
    body = b"\x80\x02cargparse\nNamespace\nN}X\x08\x00\x00\x00__repr__cbuiltins\nset\ns\x86b."
    path = tmp_path / "patch.pt"
    with open(path, "wb") as f:  # the legacy layout: magic number, protocol, sys info, then the object
        for header in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}):
            pickle.dump(header, f, protocol=2)
        f.write(body)
    before = argparse.Namespace.__repr__
    with pytest.raises(ModelLoadError, match="sets attributes of 'Namespace'"):
        laion.load_checkpoint(str(path), model="p")
    assert argparse.Namespace.__repr__ is before


def test_missing_and_damaged_files_name_the_file(tmp_path):
    with pytest.raises(ModelLoadError, match=r"checkpoint file .*nope.pt' does not exist"):
        laion.load_checkpoint(str(tmp_path / "nope.pt"), model="x")
    damaged = tmp_path / "damaged.pt"
    torch.save(training_checkpoint(), damaged)
    damaged.write_bytes(damaged.read_bytes()[:2000])
    with pytest.raises(ModelLoadError, match=r"damaged.pt' is not a readable torch checkpoint"):
        laion.load_checkpoint(str(damaged), model="x")


def test_without_torch_private_allowlist_the_core_rebuilders_remain(monkeypatch):
    import torch._weights_only_unpickler as wo

    from sklearn_zsfuse.encoders import checkpoint

    full = checkpoint._torch_weights_only_globals()
    monkeypatch.delattr(wo, "_get_allowed_globals")
    core = checkpoint._torch_weights_only_globals()
    for name in ("torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter", "torch.float16",
                 "torch._tensor._rebuild_from_type_v2"):
        assert core[name] is full[name]
