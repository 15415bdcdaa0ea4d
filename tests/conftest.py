import atexit
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# Tests never reach the hub: every model is built locally.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# A private, initially empty Hugging Face cache (set before transformers is imported,
# which reads it once): tests that need hub ids put tiny models there, and whatever the
# developer has cached cannot change a result. Remote code is unpacked there too.
_TEST_HF_HOME = Path(tempfile.mkdtemp(prefix="zsfuse-tests-hf-"))
os.environ["HF_HUB_CACHE"] = str(_TEST_HF_HOME / "hub")
os.environ["HF_MODULES_CACHE"] = str(_TEST_HF_HOME / "modules")
atexit.register(shutil.rmtree, _TEST_HF_HOME, ignore_errors=True)

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


@pytest.fixture(scope="session")
def hub_text_models(tmp_path_factory):
    """Tiny text models and tokenizers, in the HF cache under the ids msclap and laion_clap load."""
    from backend_support import add_dir_to_hub_cache

    from sklearn_zsfuse.testing import make_tiny_text_model

    root = tmp_path_factory.mktemp("text_models")
    ids = {"gpt2": "gpt2", "bert": "bert-base-uncased", "roberta": "roberta-base", "bart": "facebook/bart-base"}
    dirs = {}
    for kind, repo in ids.items():
        dirs[repo] = make_tiny_text_model(root / kind, kind)
        add_dir_to_hub_cache(repo, dirs[repo])
    return dirs


@pytest.fixture(scope="session")
def speech_files(tmp_path_factory):
    """Three real 16 kHz clips (3-4 s) and one 13 s clip made of them, as files."""
    import soundfile as sf

    if not (RAVDESS / "metadata.csv").is_file():
        pytest.skip(f"RAVDESS not found at {RAVDESS}")
    meta = pd.read_csv(RAVDESS / "metadata.csv")
    paths = [str(RAVDESS / p) for p in meta.path.iloc[[0, 57, 301]]]
    waves = [sf.read(p, dtype="float32")[0] for p in paths]
    long = tmp_path_factory.mktemp("long") / "long.wav"
    sf.write(long, np.concatenate(waves * 2)[: 16000 * 13], 16000, subtype="FLOAT")
    return paths + [str(long)]


@pytest.fixture(scope="session")
def random_ge2e(tmp_path_factory):
    """A GE2E checkpoint in Resemblyzer's format with random weights (no wheel needed)."""
    from sklearn_zsfuse.testing import make_random_ge2e

    return str(make_random_ge2e(tmp_path_factory.mktemp("ge2e") / "random_ge2e.pt"))
