"""MS-CLAP through the msclap package: our embeddings equal msclap's own API, offline.

The models are msclap's real classes (CNN14 / HTS-AT audio towers at full size,
random weights) with tiny text models that the tests put in the Hugging Face
cache under the ids msclap loads ('bert-base-uncased', 'gpt2'); the checkpoint is
saved under microsoft/msclap's file names. msclap's random crop of long clips is
made the centre crop, and its torchaudio file decoder reads with soundfile.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from backend_support import (
    CentreRandom,
    add_to_hub_cache,
    assert_close,
    calibrate_batchnorm,
    min_pairwise_distance,
    normalize,
    require_backend,
    soundfile_load,
    speech_batch,
)

require_backend("msclap", "torchaudio")
pytestmark = pytest.mark.backends

from sklearn_zsfuse import ALMZeroShotScorer, ModelLoadError  # noqa: E402
from sklearn_zsfuse.encoders import MSClap, get_alm_encoder  # noqa: E402

TEXTS = ["this person is feeling angry", "a happy voice", "the speaker sounds sad and calm"]


def _quiet_import_msclap():
    import logging
    import warnings

    level = logging.getLogger("transformers").level
    with warnings.catch_warnings():  # msclap ignores every warning at import
        import msclap
    logging.getLogger("transformers").setLevel(level)
    return msclap


@pytest.fixture(scope="session")
def msclap_checkpoints(hub_text_models, speech_files, tmp_path_factory):
    """{version: path} of random-weight msclap checkpoints, also in the cache as microsoft/msclap."""
    import torch
    import yaml

    msclap = _quiet_import_msclap()
    from msclap.models.clap import CLAP

    out = {}
    root = tmp_path_factory.mktemp("msclap")
    for seed, version in enumerate(("2022", "2023")):
        args = yaml.safe_load(
            (Path(msclap.__file__).parent / "configs" / f"config_{version}.yml").read_text()
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            clap = CLAP(
                audioenc_name=args["audioenc_name"], sample_rate=args["sampling_rate"],
                window_size=args["window_size"], hop_size=args["hop_size"], mel_bins=args["mel_bins"],
                fmin=args["fmin"], fmax=args["fmax"], classes_num=args["num_classes"],
                out_emb=args["out_emb"], text_model=args["text_model"],
                transformer_embed_dim=args["transformer_embed_dim"], d_proj=args["d_proj"],
            )
            audio = speech_batch(speech_files[:3], args["sampling_rate"], args["duration"])
            calibrate_batchnorm(clap.audio_encoder, lambda: clap.audio_encoder(audio))
        path = root / f"CLAP_weights_{version}.pth"
        torch.save({"model": clap.state_dict(), "epoch": 1}, path)
        add_to_hub_cache("microsoft/msclap", {path.name: path})
        out[version] = path
    return out



@pytest.mark.parametrize("version", ["2022", "2023"])
def test_embeddings_and_similarity_equal_msclap_api(version, msclap_checkpoints, speech_files, monkeypatch):
    import torch

    msclap = _quiet_import_msclap()
    wrapper_module = sys.modules["msclap.CLAPWrapper"]
    monkeypatch.setattr(wrapper_module.torchaudio, "load", soundfile_load)
    monkeypatch.setattr(wrapper_module, "random", CentreRandom)
    ref = msclap.CLAP(version=version, use_cuda=False)  # weights and text model from the cache
    theirs_audio = ref.get_audio_embeddings(speech_files, resample=True)
    theirs_text = ref.get_text_embeddings(TEXTS)
    theirs_sim = ref.compute_similarity(theirs_audio, theirs_text).detach().numpy()

    name = f"msclap-{version}"
    encoder = get_alm_encoder(name, device="cpu")
    assert (encoder.sampling_rate, encoder.window) == (44100, 44100 * (5 if version == "2022" else 7))
    zs = ALMZeroShotScorer(
        name, classes=["a", "b", "c"], class_prompts=dict(zip("abc", TEXTS)), templates=("{}",), device="cpu"
    ).fit()
    ours_audio = zs.audio_embeddings(speech_files)
    assert_close(ours_audio, normalize(theirs_audio.numpy()), what="audio embeddings")
    assert_close(encoder.encode_text(TEXTS), normalize(theirs_text.numpy()), what="text embeddings")
    assert_close(zs.transform(speech_files), theirs_sim, atol=2e-4, what="similarity")
    assert encoder.logit_scale == pytest.approx(float(ref.clap.logit_scale.exp()))
    # Not a degenerate model: clips and texts are told apart.
    assert min_pairwise_distance(ours_audio) > 1e-2, min_pairwise_distance(ours_audio)
    assert np.ptp(zs.transform(speech_files), axis=0).min() > 0
    # The long (13 s) clip was centre-cropped: the package cropped the same 7 s / 5 s.
    assert torch.is_tensor(theirs_audio)


def test_local_files_offline_open_no_socket(msclap_checkpoints, hub_text_models, speech_files, monkeypatch):
    from sklearn_zsfuse.encoders import clear_models

    reference = get_alm_encoder("msclap-2023", device="cpu").encode_text(TEXTS)
    clear_models()

    def refuse(*args, **kwargs):
        raise AssertionError(f"network connection attempted: {args}")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    spec = MSClap(checkpoint=str(msclap_checkpoints["2023"]), text_model=str(hub_text_models["gpt2"]))
    zs = ALMZeroShotScorer(spec, classes=["x", "y"], device="cpu").fit()
    zs.transform(speech_files[:2])
    np.testing.assert_allclose(get_alm_encoder(spec, device="cpu").encode_text(TEXTS), reference, atol=1e-6)
    # A bare local .pth resolves to MS-CLAP, its version read from the weights.
    encoder = get_alm_encoder(str(msclap_checkpoints["2022"]), device="cpu")
    assert encoder.version == "2022" and encoder.window == 5 * 44100


def test_clear_errors(msclap_checkpoints, tmp_path):
    with pytest.raises(ModelLoadError, match=r"MSClap\(version='2022'\).*holds a 2023 model"):
        get_alm_encoder(MSClap(version="2022", checkpoint=str(msclap_checkpoints["2023"])), device="cpu")
    with pytest.raises(ModelLoadError, match=r"text model directory .*no-gpt2.* does not exist"):
        get_alm_encoder(
            MSClap(checkpoint=str(msclap_checkpoints["2023"]), text_model=str(tmp_path / "no-gpt2")), device="cpu"
        )
    with pytest.raises(ModelLoadError, match=r"CLAP_weights_2023.pth.*microsoft/msclap.*HF_HUB_OFFLINE"):
        get_alm_encoder("msclap-2023", device="cpu", revision="no-such-revision")
    bad = tmp_path / "bad.pth"
    import torch

    torch.save({"model": {"w": torch.zeros(2)}}, bad)
    with pytest.raises(ModelLoadError, match="not an msclap checkpoint"):
        get_alm_encoder(str(bad), device="cpu")


def test_loading_leaves_the_process_state_alone(msclap_checkpoints, hub_text_models):
    """In a fresh process: msclap's blanket 'ignore' filter and its logging change are undone,
    and the RNGs and sys.path are as before (scipy's own import-time filters may be added)."""
    code = textwrap.dedent(
        f"""
        import json, logging, random, sys, warnings
        import numpy as np, torch
        logging.getLogger("transformers").setLevel(logging.INFO)
        state = lambda: (logging.getLogger("transformers").level, torch.random.get_rng_state().sum().item(),
                         random.getstate()[1][:3], np.random.get_state()[1][:3].tolist(), list(sys.path))
        before = state()
        from sklearn_zsfuse.encoders import get_alm_encoder
        enc = get_alm_encoder({str(msclap_checkpoints["2023"])!r}, device="cpu")
        enc.encode_text(["a happy voice"])
        after = state()
        with warnings.catch_warnings(record=True) as shown:
            warnings.warn("still shown", UserWarning)
        blanket = [f for f in warnings.filters if f[0] == "ignore" and f[1] is None and f[2] is Warning]
        print(json.dumps([[a == b for a, b in zip(before, after)], len(shown), len(blanket),
                          "msclap" in sys.modules]))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ), timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    same, shown, blanket, imported = json.loads(out.stdout.strip().splitlines()[-1])
    assert imported and all(same), same
    assert shown == 1 and blanket == 0


def test_a_checkpoint_with_numpy_scalars_in_protocol_4_loads(msclap_checkpoints, tmp_path):
    import torch

    state = torch.load(msclap_checkpoints["2023"], map_location="cpu", weights_only=True)
    state.update(epoch=np.int64(40), best=np.float32(0.5))
    path = tmp_path / "CLAP_weights_2023.pth"
    torch.save(state, path, pickle_protocol=4)
    ours = get_alm_encoder(str(path), device="cpu")
    reference = get_alm_encoder(str(msclap_checkpoints["2023"]), device="cpu")
    np.testing.assert_allclose(ours.encode_text(["a happy voice"]), reference.encode_text(["a happy voice"]), atol=1e-6)


def test_store_weights_in_pickle_carries_checkpoint_and_text_model(msclap_checkpoints, speech_files, tmp_path):
    import pickle
    import shutil

    from sklearn_zsfuse.encoders import clear_models

    checkpoint = shutil.copyfile(msclap_checkpoints["2023"], tmp_path / "CLAP_weights_2023.pth")
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
