import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# Tests never reach the hub: every model is built locally.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

RAVDESS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ravdess"


@pytest.fixture(scope="session")
def tiny_clap(tmp_path_factory):
    from sklearn_zsfuse.testing import make_tiny_clap

    return str(make_tiny_clap(tmp_path_factory.mktemp("clap")))


@pytest.fixture(scope="session")
def tiny_clap_fused(tmp_path_factory):
    from sklearn_zsfuse.testing import make_tiny_clap

    return str(make_tiny_clap(tmp_path_factory.mktemp("clap_fused"), enable_fusion=True))


@pytest.fixture(scope="session")
def tiny_wavlm(tmp_path_factory):
    from sklearn_zsfuse.testing import make_tiny_wavlm

    return str(make_tiny_wavlm(tmp_path_factory.mktemp("wavlm")))


@pytest.fixture(scope="session")
def ravdess_meta():
    if not (RAVDESS / "metadata.csv").is_file():
        pytest.skip(f"RAVDESS not found at {RAVDESS}")
    return pd.read_csv(RAVDESS / "metadata.csv", dtype={"actor": str})


@pytest.fixture(scope="session")
def ravdess_small(ravdess_meta):
    """48 real clips: 6 actors from two EmoBox folds, 8 emotions each, one take."""
    m = ravdess_meta[ravdess_meta.emobox_fold.isin([1, 2])]
    m = m[(m.intensity == "normal") | (m.emotion == "neutral")]
    m = m.groupby(["actor", "emotion"]).head(1)
    m = m[m.actor.isin(sorted(m.actor.unique())[:6])]
    paths = [str(RAVDESS / p) for p in m.path]
    return paths, m.emotion.to_numpy(), m.actor.to_numpy()


@pytest.fixture(autouse=True)
def fresh_caches():
    """Every test starts with empty embedding caches (models stay loaded: they are immutable)."""
    from sklearn_zsfuse import clear_caches

    clear_caches()
    yield
    clear_caches()


@pytest.fixture
def sine_clips():
    """Three synthetic clips of different lengths at 16 kHz."""
    sr = 16000
    t = [np.arange(int(sr * d)) / sr for d in (0.5, 1.3, 2.0)]
    return [(0.3 * np.sin(2 * np.pi * f * x)).astype(np.float32) for f, x in zip((220, 330, 440), t)], sr
