"""dtype="auto": bfloat16 only where the hardware computes in it natively."""

import pytest
import torch

from sklearn_zsfuse.encoders import base
from sklearn_zsfuse.encoders.base import resolve_dtype


@pytest.mark.parametrize("native, expected", [(True, torch.bfloat16), (False, torch.float32)])
def test_auto_on_a_cpu_is_bfloat16_only_with_native_instructions(monkeypatch, native, expected):
    monkeypatch.setattr(base, "_cpu_has_native_bf16", lambda: native)
    assert resolve_dtype("auto", "cpu") == expected
    assert resolve_dtype("auto", "mps") == torch.float32  # no such check there: float32
    assert resolve_dtype("float32", "cpu") == torch.float32  # explicit choices are kept
    assert resolve_dtype("bfloat16", "cpu") == torch.bfloat16


@pytest.mark.parametrize("capability, expected", [((8, 0), torch.bfloat16), ((7, 5), torch.float32)])
def test_auto_on_cuda_is_bfloat16_from_compute_capability_8(monkeypatch, capability, expected):
    asked = []
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: asked.append(device) or capability)
    assert resolve_dtype("auto", "cuda:1") == expected
    assert asked == ["cuda:1"]


@pytest.mark.parametrize(
    "flags, native",
    [("fpu sse avx512f avx512_bf16 avx512_vnni", True), ("fpu amx_bf16 amx_tile", True), ("fpu sse avx2 avx512f", False)],
)
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path, flags, native):
    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    assert base._cpu_has_native_bf16(str(info)) is native
    assert base._cpu_has_native_bf16(str(tmp_path / "missing")) is False
