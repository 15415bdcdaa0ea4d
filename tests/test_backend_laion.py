"""LAION-CLAP through the laion_clap package: our embeddings equal CLAP_Module's own API, offline.

The models are laion_clap's real classes (HTS-AT tiny audio tower at full size,
random weights, fused and not) with a tiny RoBERTa that the tests put in the
Hugging Face cache under 'roberta-base' (with tiny bert/bart tokenizers, which
``import laion_clap`` builds). Checkpoints are saved as laion_clap's training
code saves them ("module." prefixes, the position_ids buffer) under the names of
the original checkpoints in lukewys/laion_clap. laion_clap's random crop of long
clips is made the centre crop.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from backend_support import (
    add_to_hub_cache,
    assert_close,
    calibrate_batchnorm,
    min_pairwise_distance,
    normalize,
    require_backend,
    speech_batch,
)

require_backend("laion_clap", "torchaudio", "torchvision")
pytestmark = pytest.mark.backends

from sklearn_zsfuse import ALMZeroShotScorer, ModelLoadError  # noqa: E402
from sklearn_zsfuse.encoders import LaionClap, get_alm_encoder  # noqa: E402

TEXTS = ["this person is feeling angry", "a happy voice", "the speaker sounds sad and calm"]
NAMES = {False: "630k-audioset-best.pt", True: "630k-audioset-fusion-best.pt"}


def _laion_clap():
    import laion_clap  # builds bert/roberta/bart tokenizers: needs hub_text_models first

    return laion_clap


@pytest.fixture(scope="session")
def laion_checkpoints(hub_text_models, speech_files, tmp_path_factory):
    """{fusion: path} of random-weight laion_clap checkpoints, also in the cache as lukewys/laion_clap."""
    import torch

    laion_clap = _laion_clap()
    root = tmp_path_factory.mktemp("laion")
    out = {}
    for fusion in (False, True):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(fusion))
            module = laion_clap.CLAP_Module(enable_fusion=fusion, amodel="HTSAT-tiny", tmodel="roberta", device="cpu")
            model = module.model
            audio = speech_batch(speech_files[:3], 48000, 10)
            inputs = [_reference_features(laion_clap, module, w) for w in audio]
            calibrate_batchnorm(model.audio_branch, lambda: model.get_audio_embedding(inputs))
        state = {"module." + k: v for k, v in model.state_dict().items()}
        # laion_clap's files were saved with transformers < 4.31, which kept this buffer.
        state["module.text_branch.embeddings.position_ids"] = torch.arange(
            model.text_branch.config.max_position_embeddings
        )[None]
        path = root / NAMES[fusion]
        torch.save({"epoch": 1, "name": "test", "state_dict": state}, path)
        add_to_hub_cache("lukewys/laion_clap", {path.name: path})
        out[fusion] = path
    return out


def _reference_features(laion_clap, module, wave):
    from laion_clap.training.data import get_audio_features

    return get_audio_features(
        {}, wave, 480000, data_truncating="fusion" if module.enable_fusion else "rand_trunc",
        data_filling="repeatpad", audio_cfg=module.model_cfg["audio_cfg"],
    )


class _NumpyCentreCrop:
    """numpy for laion_clap's data module, with ``random.randint(0, overflow + 1)`` the centre crop."""

    class random:
        @staticmethod
        def randint(low, high):
            return (high - 1) // 2

    def __getattr__(self, name):
        return getattr(np, name)


@pytest.mark.parametrize("fusion", [False, True], ids=["non-fusion", "fusion"])
def test_embeddings_and_similarity_equal_laion_clap_api(fusion, laion_checkpoints, speech_files, monkeypatch):
    import torch

    laion_clap = _laion_clap()
    monkeypatch.setattr(sys.modules["laion_clap.training.data"], "np", _NumpyCentreCrop())
    ref = laion_clap.CLAP_Module(enable_fusion=fusion, amodel="HTSAT-tiny", tmodel="roberta", device="cpu")
    ref.load_ckpt(str(laion_checkpoints[fusion]), verbose=False)
    # Fused models take another path for clips over 10 s; we never do (all clips are cut to
    # 10 s first), so the long clip reaches the package already centre-cropped.
    short, long = speech_files[:3], speech_files[3]
    theirs_audio = ref.get_audio_embedding_from_filelist(short if fusion else speech_files)
    if fusion:
        import librosa

        wave, _ = librosa.load(long, sr=48000)
        start = (len(wave) - 480000) // 2
        theirs_audio = np.vstack([theirs_audio, ref.get_audio_embedding_from_data(wave[None, start : start + 480000])])
    theirs_text = ref.get_text_embedding(TEXTS)
    scale = float(ref.model.logit_scale_a.exp())
    theirs_sim = scale * theirs_audio @ theirs_text.T

    name = f"laion-clap:{'3' if fusion else '1'}"
    encoder = get_alm_encoder(name, device="cpu")
    assert (encoder.sampling_rate, encoder.window, encoder.fusion) == (48000, 480000, fusion)
    zs = ALMZeroShotScorer(
        name, classes=["a", "b", "c"], class_prompts=dict(zip("abc", TEXTS)), templates=("{}",), device="cpu"
    ).fit()
    ours_audio = zs.audio_embeddings(speech_files)
    assert_close(ours_audio, normalize(theirs_audio), what="audio embeddings")
    assert_close(encoder.encode_text(TEXTS), normalize(theirs_text), what="text embeddings")
    assert_close(zs.transform(speech_files), theirs_sim, atol=2e-4, what="similarity")
    assert encoder.logit_scale == pytest.approx(scale)
    assert min_pairwise_distance(ours_audio) > 1e-2, min_pairwise_distance(ours_audio)
    assert np.ptp(zs.transform(speech_files), axis=0).min() > 0
    assert torch.get_num_threads() >= 1


def test_local_files_offline_open_no_socket(laion_checkpoints, hub_text_models, speech_files, monkeypatch):
    from sklearn_zsfuse.encoders import clear_models

    reference = get_alm_encoder("laion-clap:630k-audioset-fusion", device="cpu").encode_text(TEXTS)
    clear_models()

    def refuse(*args, **kwargs):
        raise AssertionError(f"network connection attempted: {args}")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    spec = LaionClap(checkpoint=str(laion_checkpoints[True]), text_model=str(hub_text_models["roberta-base"]))
    zs = ALMZeroShotScorer(spec, classes=["x", "y"], device="cpu").fit()
    zs.transform(speech_files[:2])
    encoder = get_alm_encoder(spec, device="cpu")
    assert encoder.fusion  # read from the weights
    np.testing.assert_allclose(encoder.encode_text(TEXTS), reference, atol=1e-6)
    # A bare local .pt resolves to laion_clap.
    assert get_alm_encoder(str(laion_checkpoints[False]), device="cpu").fusion is False


def test_clear_errors(laion_checkpoints, tmp_path):
    with pytest.raises(ModelLoadError, match=r"does not match .*enable_fusion=False"):
        get_alm_encoder(LaionClap(checkpoint=str(laion_checkpoints[True]), enable_fusion=False), device="cpu")
    with pytest.raises(ModelLoadError, match=r"neither a local .pt file nor a known checkpoint"):
        get_alm_encoder("laion-clap:7", device="cpu")
    with pytest.raises(ModelLoadError, match=r"630k-best.pt.*lukewys/laion_clap.*HF_HUB_OFFLINE"):
        get_alm_encoder("laion-clap:0", device="cpu")  # not in the cache
    with pytest.raises(ModelLoadError, match=r"text model config directory .*nothing-here.* does not exist"):
        get_alm_encoder(
            LaionClap(checkpoint=str(laion_checkpoints[False]), text_model=str(tmp_path / "nothing-here")), device="cpu"
        )


def test_loading_leaves_the_process_state_alone(laion_checkpoints):
    """In a fresh process: laion_clap is not imported (its import builds hub tokenizers),
    and sys.path, logging and the RNGs are as before."""
    code = textwrap.dedent(
        f"""
        import json, logging, random, sys
        import numpy as np, torch
        state = lambda: (logging.getLogger("transformers").level, torch.random.get_rng_state().sum().item(),
                         random.getstate()[1][:3], np.random.get_state()[1][:3].tolist(), list(sys.path))
        before = state()
        from sklearn_zsfuse.encoders import get_alm_encoder
        enc = get_alm_encoder({str(laion_checkpoints[True])!r}, device="cpu")
        enc.encode_text(["a happy voice"])
        print(json.dumps([[a == b for a, b in zip(before, state())], "laion_clap" in sys.modules,
                          "clap_module" in sys.modules]))
        """
    )
    env = dict(os.environ)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    same, laion_imported, model_code_imported = json.loads(out.stdout.strip().splitlines()[-1])
    assert all(same), same
    assert model_code_imported and not laion_imported


def test_a_checkpoint_pickled_as_released_loads(laion_checkpoints, tmp_path):
    """LAION's released files are protocol-4 pickles holding numpy scalars; torch's
    weights_only loader refuses both, our checkpoint loader reads them and runs nothing."""
    import argparse

    import torch

    state = torch.load(laion_checkpoints[False], map_location="cpu", weights_only=True)
    state.update(best_metric=np.float64(0.9014), step=np.int64(3), args=argparse.Namespace(amodel="HTSAT-tiny"))
    released = tmp_path / "released.pt"
    torch.save(state, released, pickle_protocol=4)
    ours = get_alm_encoder(str(released), device="cpu")
    reference = get_alm_encoder(str(laion_checkpoints[False]), device="cpu")
    np.testing.assert_allclose(ours.encode_text(TEXTS), reference.encode_text(TEXTS), atol=1e-6)


def test_store_weights_in_pickle_carries_checkpoint_and_text_files(laion_checkpoints, speech_files, tmp_path):
    import pickle
    import shutil

    from sklearn_zsfuse.encoders import clear_models

    checkpoint = shutil.copyfile(laion_checkpoints[True], tmp_path / "mine.pt")
    zs = ALMZeroShotScorer(str(checkpoint), classes=["a", "b", "c"], device="cpu", store_weights_in_pickle=True)
    expected = zs.fit().transform(speech_files[:2])
    blob = pickle.dumps(zs)
    checkpoint.unlink()
    clear_models()
    restored = pickle.loads(blob)
    from sklearn_zsfuse.encoders.embedded import EmbeddedModel

    np.testing.assert_allclose(restored.transform(speech_files[:2]), expected, rtol=1e-5, atol=1e-5)
    # checkpoint and text files came from the pickle, unpacked privately for this estimator only
    spec = restored._record().key[1]
    assert isinstance(spec, EmbeddedModel) and spec == restored._embedded and restored._embedded.carries(str(checkpoint), None)
    assert restored._record().encoder.fusion
