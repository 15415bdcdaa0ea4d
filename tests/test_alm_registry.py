"""The ALM protocol and registry: user encoders, specs, CLSP-style models, optional extras."""

from __future__ import annotations

import json
import math
import pickle
import socket
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest
from sklearn.base import clone

from sklearn_zsfuse import ALMZeroShotScorer, ModelLoadError
from sklearn_zsfuse.encoders import (
    CLSP,
    LaionClap,
    MissingExtraError,
    MSClap,
    check_alm_encoder,
    get_alm_encoder,
    register_alm,
    registered_alms,
    resolve_alm,
    unregister_alm,
)


def test_importing_the_package_imports_no_backend():
    code = (
        "import json, sys, sklearn_zsfuse, sklearn_zsfuse.encoders as e; "
        "e.MSClap, e.LaionClap, e.CLSP, e.resolve_alm('msclap-2023'), e.resolve_alm('laion-clap:1'); "
        "print(json.dumps(sorted(m for m in ('msclap', 'laion_clap', 'clap_module', 'torchvision', "
        "'torchaudio', 'transformers') if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []


class ToyEncoder:
    """A user's dual encoder: 8 kHz, 0.5 s window, msclap-style repeat padding, own resampler."""

    sampling_rate = 8000
    window = 4000
    logit_scale = 10.0
    pad_mode = "repeat"

    def __init__(self, tag="v1"):
        self.fingerprint = f"toy|{tag}"
        self.seen_lengths = []
        self.resampled_from = []
        rng = np.random.default_rng(0)
        self.audio_proj = rng.standard_normal((4000, 6)).astype(np.float32)

    def resample(self, wave, rate):
        self.resampled_from.append(rate)
        n = int(round(len(wave) * self.sampling_rate / rate))
        return np.interp(np.linspace(0, len(wave) - 1, n), np.arange(len(wave)), wave).astype(np.float32)

    def encode_audio(self, waves):
        self.seen_lengths += [len(w) for w in waves]
        self.last_waves = [w.copy() for w in waves]
        return np.stack(waves) @ self.audio_proj  # not normalised: the scorer normalises

    def encode_text(self, texts):
        return np.stack([[len(t), t.count("a") + 1, t.count("e"), 1, 0.5, len(set(t))] for t in texts]).astype(np.float32)


@pytest.fixture
def toy_name():
    made = []

    def loader(ref, *, device, dtype, revision):
        enc = ToyEncoder(ref)
        made.append(enc)
        return enc

    register_alm("toy-alm:", loader, prefix=True)
    yield "toy-alm:", made
    unregister_alm("toy-alm:")


def _normalize(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_a_registered_user_encoder_gets_windows_at_its_rate(toy_name, sine_clips):
    prefix, made = toy_name
    waves, sr = sine_clips  # 0.5, 1.3 and 2.0 s at 16 kHz
    short = waves[0][:3000]  # 0.1875 s: repeated past the window, then cut
    zs = ALMZeroShotScorer(prefix + "v1", sampling_rate=sr, audio_repeats=2, device="cpu")
    zs.fit([short, *waves], ["angry", "sad", "angry", "sad"])
    scores = zs.transform([short, *waves])
    enc = made[0]
    assert registered_alms()["toy-alm:"] == "prefix"
    assert enc.seen_lengths == [4000] * 5 and set(enc.resampled_from) == {16000}  # fit's probe clip, then the 4 clips
    tiled = np.tile(enc.resample(short, 16000), 2)  # 2 x 1500 samples at 8 kHz
    np.testing.assert_array_equal(enc.last_waves[0], np.tile(tiled, 2)[:4000])
    audio = _normalize(np.stack(enc.last_waves) @ enc.audio_proj)
    np.testing.assert_allclose(scores, 10.0 * audio @ zs.text_embeddings_.T, rtol=1e-5, atol=1e-5)
    assert zs.logit_scale_ == 10.0
    # The same name in another estimator shares the loaded encoder; another ref loads anew.
    assert get_alm_encoder(prefix + "v1", device="cpu") is enc
    assert get_alm_encoder(prefix + "v2", device="cpu") is not enc


@dataclass(frozen=True)
class ToySpec:
    tag: str = "spec"

    def load(self, *, device, dtype, revision):
        return ToyEncoder(self.tag)


def test_a_spec_object_is_a_plain_parameter(sine_clips):
    waves, sr = sine_clips
    zs = ALMZeroShotScorer(ToySpec(), sampling_rate=sr, device="cpu").fit(waves, ["a", "b", "a"])
    assert clone(zs).get_params()["model"] == ToySpec()
    restored = pickle.loads(pickle.dumps(zs))
    np.testing.assert_allclose(restored.transform(waves), zs.transform(waves), rtol=1e-6)


def test_encoders_that_break_the_protocol_are_named(sine_clips):
    waves, sr = sine_clips

    class NoWindow(ToyEncoder):
        window = property(lambda self: (_ for _ in ()).throw(AttributeError("window")))

    class BadShape(ToyEncoder):
        def encode_text(self, texts):
            return np.zeros((len(texts) + 1, 6), np.float32)

    @dataclass(frozen=True)
    class Spec:
        cls: type

        def load(self, *, device, dtype, revision):
            return self.cls()

    with pytest.raises(TypeError, match=r"lacks a window"):
        ALMZeroShotScorer(Spec(NoWindow), sampling_rate=sr, device="cpu").fit(waves, ["a", "b", "a"])
    with pytest.raises(ValueError, match=r"encode_text\(\) of model=.*returned shape \(3, 6\) for 2 inputs"):
        ALMZeroShotScorer(Spec(BadShape), sampling_rate=sr, templates=("{}",), device="cpu").fit(waves, ["a", "b", "a"])
    with pytest.raises(TypeError, match="logit_scale"):
        enc = ToyEncoder()
        enc.logit_scale = math.nan
        check_alm_encoder(enc, "x")


def test_registry_rules(tmp_path):
    with pytest.raises(ValueError, match="already registered"):
        register_alm("msclap-2023", lambda ref, **kw: None)
    with pytest.raises(KeyError):
        unregister_alm("nothing-like-this")
    with pytest.raises(TypeError, match="spec with a load"):
        resolve_alm(3.5)
    # Local files resolve by their suffix, without importing either package.
    pth, pt = tmp_path / "w.pth", tmp_path / "w.pt"
    pth.write_bytes(b"x")
    pt.write_bytes(b"x")
    assert resolve_alm(str(pth)) == MSClap(checkpoint=str(pth))
    assert resolve_alm(pt) == LaionClap(checkpoint=str(pt))
    assert resolve_alm("laion-clap:2").ref == "2"
    assert resolve_alm("msclap-2022").name == "msclap-2022"
    assert resolve_alm("yfyeung/CLSP").name == "yfyeung/CLSP"
    assert type(resolve_alm("laion/clap-htsat-unfused")).__name__ == "HFClap"


def test_a_missing_extra_names_it(monkeypatch, sine_clips):
    waves, sr = sine_clips
    monkeypatch.setitem(sys.modules, "msclap", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "laion_clap", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'sklearn-zsfuse\[msclap\]'"):
        ALMZeroShotScorer("msclap-2023", classes=["a", "b"], device="cpu").fit()
    with pytest.raises(MissingExtraError, match=r"pip install 'sklearn-zsfuse\[laion\]'"):
        ALMZeroShotScorer("laion-clap:630k-audioset", classes=["a", "b"], device="cpu").fit()


# --------------------------------------------------------------------------------------
# CLSP: a model whose code ships with its weights (trust_remote_code)
# --------------------------------------------------------------------------------------

TINY_CLSP_CODE = '''
import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel


class TinyCLSPConfig(PretrainedConfig):
    model_type = "tiny-clsp"

    def __init__(self, dim=8, frame=160, vocab=61, sampling_rate=16000, **kwargs):
        self.dim, self.frame, self.vocab, self.sampling_rate = dim, frame, vocab, sampling_rate
        super().__init__(**kwargs)


class TinyCLSPModel(PreTrainedModel):
    """CLSP's call signature: forward(audio=(B, T), audio_lens=(B,), text=list[str])."""

    config_class = TinyCLSPConfig

    def __init__(self, config):
        super().__init__(config)
        self.audio_proj = nn.Linear(config.frame, config.dim)
        self.text_emb = nn.EmbeddingBag(config.vocab, config.dim, mode="mean")
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.post_init()

    def _init_weights(self, module):
        pass

    def forward(self, audio=None, audio_lens=None, text=None):
        a = t = None
        if audio is not None:
            f = self.config.frame
            n = audio.shape[1] // f
            frames = torch.tanh(self.audio_proj(audio[:, : n * f].reshape(len(audio), n, f)))
            valid = (torch.arange(n, device=audio.device)[None] < (audio_lens // f)[:, None]).float()
            a = F.normalize((frames * valid[..., None]).sum(1) / valid.sum(1, keepdim=True), dim=-1)
        if text is not None:
            ids = [torch.tensor([ord(c) % self.config.vocab for c in s]) for s in text]
            offsets = torch.tensor([0] + [len(i) for i in ids[:-1]]).cumsum(0)
            t = F.normalize(self.text_emb(torch.cat(ids), offsets), dim=-1)
        return a, t, self.logit_scale.exp()
'''


@pytest.fixture(scope="module")
def tiny_clsp(tmp_path_factory):
    import importlib.util

    import torch

    root = tmp_path_factory.mktemp("clsp_code")
    (root / "modeling_tiny_clsp.py").write_text(TINY_CLSP_CODE)
    spec = importlib.util.spec_from_file_location("modeling_tiny_clsp", root / "modeling_tiny_clsp.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["modeling_tiny_clsp"] = module
    try:
        spec.loader.exec_module(module)
        module.TinyCLSPConfig.register_for_auto_class()
        module.TinyCLSPModel.register_for_auto_class("AutoModel")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = module.TinyCLSPModel(module.TinyCLSPConfig()).eval()
        target = tmp_path_factory.mktemp("tiny_clsp")
        model.save_pretrained(target)
    finally:
        del sys.modules["modeling_tiny_clsp"]
    assert "auto_map" in json.loads((target / "config.json").read_text())
    return str(target), model


def test_clsp_adapter_equals_the_model_own_call_offline(tiny_clsp, sine_clips, monkeypatch):
    import torch

    path, model = tiny_clsp
    waves, sr = sine_clips
    monkeypatch.setenv("ZSFUSE_TRUST_REMOTE_CODE", path)  # its code runs: the user's own permission

    def refuse(*args, **kwargs):
        raise AssertionError(f"network connection attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    texts = ["a happy voice", "a sad voice", "an angry speaker"]
    zs = ALMZeroShotScorer(
        CLSP(path), classes=["c0", "c1", "c2"], class_prompts=dict(zip(["c0", "c1", "c2"], texts)), templates=("{}",), sampling_rate=sr,
        device="cpu",
    ).fit()
    encoder = get_alm_encoder(CLSP(path), device="cpu")
    assert (encoder.sampling_rate, encoder.window) == (16000, None)
    assert encoder.logit_scale == pytest.approx(1 / 0.07, rel=1e-5)
    with torch.no_grad():
        theirs_audio = torch.cat(
            [model(audio=torch.from_numpy(w)[None], audio_lens=torch.tensor([len(w)]))[0] for w in waves]
        ).numpy()
        theirs_text = model(text=texts)[1].numpy()
    # Clips are fed whole (no window) in one padded batch; padding is masked by audio_lens.
    zs.batch_size = 3
    np.testing.assert_allclose(zs.audio_embeddings(waves), theirs_audio, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(encoder.encode_text(texts), theirs_text, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(zs.transform(waves), (1 / 0.07) * theirs_audio @ theirs_text.T, rtol=1e-4, atol=1e-4)
    # The same model by name.
    assert get_alm_encoder("clsp:" + path, device="cpu").fingerprint == encoder.fingerprint


def test_clsp_offline_without_files_says_what_to_pass(monkeypatch):
    monkeypatch.setenv("ZSFUSE_TRUST_REMOTE_CODE", "yfyeung/CLSP")  # allowed, so the missing files are the problem
    with pytest.raises(ModelLoadError, match=r"yfyeung/CLSP.*not in the local Hugging Face cache.*CLSP\('/local/dir'\)"):
        get_alm_encoder("yfyeung/CLSP", device="cpu")


def test_hf_clap_and_speech_models_from_directories_open_no_socket(tiny_clap, tiny_wavlm, random_ge2e, sine_clips, monkeypatch):
    from sklearn_zsfuse import FMEmbedder
    from sklearn_zsfuse.encoders import GE2E, clear_models
    from sklearn_zsfuse.encoders.registry import resolve_fm

    waves, sr = sine_clips
    clear_models()  # load anew, under the refusal

    def refuse(*args, **kwargs):
        raise AssertionError(f"network connection attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    ALMZeroShotScorer(tiny_clap, sampling_rate=sr, device="cpu").fit(waves, ["a", "b", "a"]).transform(waves)
    FMEmbedder(tiny_wavlm, sampling_rate=sr, device="cpu").fit(waves).transform(waves)
    # GE2E: a checkpoint file, and (where the Resemblyzer wheel and webrtcvad are installed) its real weights.
    FMEmbedder(GE2E(checkpoint=random_ge2e, vad=False), sampling_rate=sr, device="cpu").fit(waves).transform(waves)
    if not resolve_fm("ge2e").missing():
        FMEmbedder("ge2e:stats", sampling_rate=sr, device="cpu").fit(waves).transform(waves)


# --------------------------------------------------------------------------------------
# The speech side: the same registry, a symmetric protocol
# --------------------------------------------------------------------------------------


class ToySpecialist:
    """A user's speech specialist: two "layers" of simple statistics, own resampler."""

    sampling_rate = 8000
    n_layers = 2
    hidden_size = 3
    feature_names = ("mean", "std", "peak")

    def __init__(self, tag):
        self.fingerprint = f"toy-fm|{tag}"
        self.resampled_from = []

    def resample(self, wave, rate):
        self.resampled_from.append(rate)
        return wave[:: rate // self.sampling_rate].astype(np.float32)

    def encode(self, waves):
        stats = np.stack([[w.mean(), w.std(), np.abs(w).max()] for w in waves]).astype(np.float32)
        return np.stack([stats, 2 * stats], axis=1)

    def probe_embedding(self):
        return np.ones(3, np.float32)


def test_a_registered_speech_specialist_plugs_into_the_embedder(sine_clips):
    from sklearn_zsfuse import FMEmbedder
    from sklearn_zsfuse.encoders import get_speech_encoder, register_fm, registered_fms, resolve_fm, unregister_fm

    waves, sr = sine_clips
    register_fm("toy-fm:", lambda ref, **kw: ToySpecialist(ref), prefix=True)
    try:
        assert registered_fms()["toy-fm:"] == "prefix" and registered_fms()["egemaps"] == "name"
        emb = FMEmbedder("toy-fm:a", sampling_rate=sr, layer=1, device="cpu").fit(waves)
        out = emb.transform(waves)
        enc = get_speech_encoder("toy-fm:a", device="cpu")
        assert emb.n_layers_ == 2 and emb.n_features_out_ == 3 and set(enc.resampled_from) == {16000}
        np.testing.assert_allclose(out, enc.encode([enc.resample(w, sr) for w in waves])[:, 1], rtol=1e-6)
        assert list(emb.get_feature_names_out()) == ["mean", "std", "peak"]
        assert resolve_fm("toy-fm:b").ref == "b"
        with pytest.raises(ValueError, match="already registered"):
            register_fm("egemaps", lambda ref, **kw: None)
    finally:
        unregister_fm("toy-fm:")
    assert type(resolve_fm("microsoft/wavlm-large")).__name__ == "HFSpeech"
    # An ALM name is not an FM name: one registry, two kinds.
    assert type(resolve_fm("msclap-2023")).__name__ == "HFSpeech"


def test_speech_encoders_that_break_the_protocol_are_named(sine_clips):
    from sklearn_zsfuse import FMEmbedder

    class NoLayers(ToySpecialist):
        n_layers = 0

    @dataclass(frozen=True)
    class Spec:
        def load(self, *, device, dtype, revision):
            return NoLayers("x")

    waves, sr = sine_clips
    with pytest.raises(TypeError, match=r"not a speech encoder: it lacks an integer n_layers >= 1"):
        FMEmbedder(Spec(), sampling_rate=sr, device="cpu").fit(waves)


def test_the_embedder_reads_no_transformers_config():
    import inspect

    from sklearn_zsfuse.estimators import embedding

    assert "AutoConfig" not in inspect.getsource(embedding)
    assert "egemaps" not in inspect.getsource(embedding.FMEmbedder.fit)


def test_optional_abilities_are_read_once_from_the_protocol(monkeypatch, sine_clips):
    from sklearn_zsfuse.encoders import Abilities, model_record

    register_alm("toy-abilities", lambda ref, **kw: ToyEncoder())
    try:
        record = model_record("alm", "toy-abilities", device="cpu")
        able = record.abilities
        assert able == Abilities(features=False, resample=True, pad_mode="repeat", save=False)
        reads = []
        real_read = Abilities.read.__func__
        monkeypatch.setattr(Abilities, "read", classmethod(lambda cls, enc: reads.append(enc) or real_read(cls, enc)))
        waves, sr = sine_clips
        ALMZeroShotScorer("toy-abilities", classes=["angry", "sad"], sampling_rate=sr, device="cpu").fit().transform(waves)
        assert model_record("alm", "toy-abilities", device="cpu").abilities is able
        assert reads == []  # remembered in the model's record, not probed again per call
    finally:
        unregister_alm("toy-abilities")


def test_a_registration_declares_what_zsfuse_checks_before_loading(tmp_path):
    # What a registered loader needs (a package) and what its models have (a layer count)
    # is declared once, at registration; the up-front checks read it instead of knowing
    # names (eGeMAPS is registered this way too).
    from sklearn_zsfuse.encoders import MissingExtraError, register_alm, register_fm, unregister_alm, unregister_fm
    from sklearn_zsfuse.encoders.checks import check_alm, check_fm, check_fm_layers

    needs = {"zsfuse_no_such_module": "pip install zsfuse-no-such-module"}
    register_fm("toy-fm-needs", lambda ref, **kw: ToySpecialist(ref), requires=needs, n_layers=2)
    register_alm("toy-alm-needs", lambda ref, **kw: ToyEncoder(), requires=needs)
    try:
        with pytest.raises(MissingExtraError, match=r"--fm='toy-fm-needs' needs the zsfuse_no_such_module "
                                                    r"package: pip install zsfuse-no-such-module"):
            check_fm("toy-fm-needs", "--fm")
        with pytest.raises(MissingExtraError, match="zsfuse_no_such_module"):
            check_alm("toy-alm-needs", "--alm")
        check_fm_layers("toy-fm-needs", [0, 1, -2, "all"], "--layer")
        with pytest.raises(ValueError, match=r"--layer 2 is out of range for 'toy-fm-needs', which has 2"):
            check_fm_layers("toy-fm-needs", [2], "--layer")
    finally:
        unregister_fm("toy-fm-needs")
        unregister_alm("toy-alm-needs")
    register_fm("toy-fm-free", lambda ref, **kw: ToySpecialist(ref))
    try:
        check_fm("toy-fm-free", "--fm")
        check_fm_layers("toy-fm-free", [7], "--layer")  # no count declared: the load checks it
    finally:
        unregister_fm("toy-fm-free")


def test_a_specialist_without_weights_pickles_with_nothing_to_carry(sine_clips, tmp_path, monkeypatch):
    # store_weights_in_pickle=True asks to carry the weights; a model that has none (it
    # says so: has_weights = False) travels as its name. A folder named like the
    # registered model is not taken for it.
    import pickle

    from sklearn_zsfuse import FMEmbedder
    from sklearn_zsfuse.encoders import register_fm, unregister_fm

    class Weightless(ToySpecialist):
        has_weights = False

    monkeypatch.chdir(tmp_path)
    (tmp_path / "toy-fm-weightless").mkdir()
    (tmp_path / "toy-fm-weightless" / "config.json").write_text("{}")
    waves, sr = sine_clips
    register_fm("toy-fm-weightless", lambda ref, **kw: Weightless(ref))
    try:
        emb = FMEmbedder("toy-fm-weightless", sampling_rate=sr, device="cpu", store_weights_in_pickle=True).fit(waves)
        blob = pickle.dumps(emb)
        assert b"config.json" not in blob and len(blob) < 20_000
        np.testing.assert_allclose(pickle.loads(blob).transform(waves), emb.transform(waves))
    finally:
        unregister_fm("toy-fm-weightless")
