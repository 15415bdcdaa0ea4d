"""The model check covers the audio tower too (issue 10 item 5).

Re-pointing ``model`` at a checkpoint whose text tower is the fitted one but whose audio
weights differ used to pass the check (it re-encoded only the prompts) and change every
prediction silently.
"""

import shutil

import numpy as np
import pytest

from sklearn_zsfuse import ALMZeroShotScorer
from sklearn_zsfuse.encoders import ModelMismatchError

SR = 16000


def copy_with(tiny_clap, target, change_audio: bool):
    import torch
    from transformers import ClapModel

    shutil.copytree(tiny_clap, target)
    model = ClapModel.from_pretrained(target)
    if change_audio:
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.startswith(("audio_model.", "audio_projection.")):
                    p.mul_(1.5).add_(0.05)
    model.save_pretrained(target)
    return str(target)


@pytest.fixture
def clips():
    t = np.arange(SR) / SR
    return [(0.2 * np.sin(2 * np.pi * f * t)).astype(np.float32) for f in (200, 300, 400)]


def test_other_audio_weights_behind_the_same_text_tower_are_caught(tiny_clap, tmp_path, clips):
    zs = ALMZeroShotScorer(tiny_clap, classes=["happy", "sad"], sampling_rate=SR, device="cpu").fit()
    before = zs.transform(clips)
    zs.set_params(model=copy_with(tiny_clap, tmp_path / "audio-changed", change_audio=True))
    with pytest.raises(ModelMismatchError, match=r"is not the model it was fitted with: its audio embeddings of a probe signal differ by \d+%"):
        zs.transform(clips)
    # A moved copy of the same weights passes both checks and scores alike.
    zs.set_params(model=copy_with(tiny_clap, tmp_path / "same", change_audio=False))
    np.testing.assert_allclose(zs.transform(clips), before, rtol=1e-5, atol=1e-5)
    assert zs.probe_embedding_.shape == (zs.text_embeddings_.shape[1],)


def test_a_scorer_pickled_before_the_probe_existed_still_transforms(tiny_clap, clips, tmp_path):
    zs = ALMZeroShotScorer(tiny_clap, classes=["happy", "sad"], sampling_rate=SR, device="cpu").fit()
    del zs.probe_embedding_
    zs.set_params(model=copy_with(tiny_clap, tmp_path / "same", change_audio=False))
    assert zs.transform(clips).shape == (3, 2)
