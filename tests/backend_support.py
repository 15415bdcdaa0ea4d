"""Helpers for the tests of the optional backends (msclap, laion_clap)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

# CI's backend environment sets this: there, a missing package fails instead of skipping.
REQUIRED = os.environ.get("ZSFUSE_REQUIRE_BACKENDS") == "1"


def require_backend(*modules: str) -> None:
    """Skip the calling test module unless ``modules`` can be imported (checked without importing)."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing and REQUIRED:
        raise RuntimeError(f"ZSFUSE_REQUIRE_BACKENDS=1 but {missing} cannot be imported")
    if missing:
        pytest.skip(f"backend packages not installed: {missing}", allow_module_level=True)


def hub_cache() -> Path:
    return Path(os.environ["HF_HUB_CACHE"])


def add_to_hub_cache(repo_id: str, files: dict[str, Path]) -> Path:
    """Lay ``files`` out as the Hugging Face cache holds ``repo_id`` at its main branch.

    ``from_pretrained(repo_id)`` and ``hf_hub_download(repo_id, name)`` then find
    them with HF_HUB_OFFLINE=1, exactly as they find a real download.
    """
    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    root = hub_cache() / f"models--{repo_id.replace('/', '--')}"
    snapshot = root / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    for name, src in files.items():
        dst = snapshot / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not dst.exists():
            shutil.copyfile(src, dst)
    (root / "refs").mkdir(exist_ok=True)
    (root / "refs" / "main").write_text(commit)
    return snapshot


def add_dir_to_hub_cache(repo_id: str, directory: Path) -> Path:
    return add_to_hub_cache(
        repo_id, {str(p.relative_to(directory)): p for p in directory.rglob("*") if p.is_file()}
    )


def soundfile_load(path, *args, **kwargs):
    """torchaudio.load's contract (float32 (channels, samples), rate) without its FFmpeg decoder."""
    import soundfile as sf
    import torch

    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return torch.from_numpy(np.ascontiguousarray(data.T)), rate


class CentreRandom:
    """Stands for Python's ``random`` module in msclap: ``randrange(n)`` -> the centre crop offset."""

    @staticmethod
    def randrange(n):
        return n // 2


def assert_close(ours, theirs, *, atol=2e-5, what=""):
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != {theirs.shape}"
    err = float(np.max(np.abs(ours - theirs)))
    assert err <= atol, f"{what}: max abs difference {err:.3g} > {atol}"
    return err


def normalize(x):
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def calibrate_batchnorm(model, forward) -> None:
    """Set every BatchNorm's statistics from one forward pass on real input.

    A deep random network with default statistics (mean 0, variance 1) maps all
    inputs to nearly the same embedding, which would make equality tests weak;
    data-derived statistics keep clips apart, as trained weights do.
    """
    import torch

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the pass
    model.train()
    with torch.no_grad():
        forward()
    model.eval()
    for m in norms:
        m.momentum = 0.1


def speech_batch(files, rate, seconds):
    """The first ``seconds`` of each file, at ``rate``, repeated to fill, as a (n, samples) tensor."""
    import soundfile as sf
    import soxr
    import torch

    n = int(rate * seconds)
    rows = []
    for f in files:
        wave, sr = sf.read(f, dtype="float32")
        wave = soxr.resample(wave, sr, rate).astype(np.float32)
        rows.append(np.tile(wave, -(-n // len(wave)))[:n])
    return torch.from_numpy(np.stack(rows))


def min_pairwise_distance(emb) -> float:
    emb = np.asarray(emb, dtype=np.float64)
    d = np.linalg.norm(emb[:, None] - emb[None], axis=-1)
    return float(np.min(d + np.eye(len(emb)) * 1e9))
