"""Code shipped with a model's files runs only where the user allowed that model (issue 17, items 1, 5).

A model directory whose ``config.json`` has an ``auto_map`` makes transformers import
the ``.py`` files beside it. Here those files write marker files when imported, so a
test sees whether they ran. A ``.skops`` file (which passes the README's trusted-types
check) or a model name must never be enough: CLSP-style models need the user's own
``allow_remote_code`` / ``ZSFUSE_TRUST_REMOTE_CODE``; speech and CLAP models never run
such code, even if a user at a terminal would answer transformers' prompt with "y".
"""

from __future__ import annotations

import builtins
import json
from pathlib import Path

import pytest
import soundfile as sf

from sklearn_zsfuse import SKOPS_TRUSTED_TYPES, ALMZeroShotScorer, FMEmbedder, ModelLoadError
from sklearn_zsfuse.cli import main
from sklearn_zsfuse.encoders import allow_remote_code, clear_models, get_alm_encoder
from sklearn_zsfuse.encoders.remote_code import ENV_VAR, RemoteCodeRefused, remote_code_allowed
from test_alm_registry import tiny_clsp  # noqa: F401  (a CLSP-style model with its own code)


def _code_dir(root: Path, markers: Path) -> Path:
    """A model directory whose config asks for its own code; that code writes a marker when imported."""
    root.mkdir(parents=True)
    markers.mkdir(parents=True, exist_ok=True)
    config = {
        "model_type": "evil-model",
        "architectures": ["EvilModel"],
        "auto_map": {
            "AutoConfig": "configuration_evil.EvilConfig",
            "AutoModel": "modeling_evil.EvilModel",
            "AutoFeatureExtractor": "feature_evil.EvilExtractor",
        },
    }
    (root / "config.json").write_text(json.dumps(config))
    (root / "preprocessor_config.json").write_text(
        json.dumps({"feature_extractor_type": "EvilExtractor", "auto_map": config["auto_map"]})
    )
    for module in ("configuration_evil", "modeling_evil", "feature_evil"):
        (root / f"{module}.py").write_text(
            f"open({str(markers / module)!r}, 'w').write('this code ran')\n"
            "from transformers import PretrainedConfig\n"
            "class EvilConfig(PretrainedConfig):\n    model_type = 'evil-model'\n"
        )
    return root


@pytest.fixture
def code_dir(tmp_path):
    markers = tmp_path / "markers"
    return _code_dir(tmp_path / "evil", markers), markers


@pytest.fixture
def says_yes(monkeypatch):
    """A user at a terminal who answers every question with 'y'."""
    asked = []

    def answer(prompt=""):
        asked.append(prompt)
        return "y"

    monkeypatch.setattr(builtins, "input", answer)
    return asked


def _ran(markers: Path) -> list[str]:
    return sorted(p.name for p in markers.iterdir())


@pytest.fixture
def clips(sine_clips, tmp_path):
    waves, sr = sine_clips
    paths = []
    for i, w in enumerate(waves):
        paths.append(str(tmp_path / f"clip{i}.wav"))
        sf.write(paths[-1], w, sr)
    return paths


# ---- item 1: a loaded file's parameters never reach remote code --------------------------------


def test_a_skops_file_naming_a_clsp_directory_runs_no_code_at_predict(tiny_clap, code_dir, clips, tmp_path, capsys):
    sio = pytest.importorskip("skops.io")
    directory, markers = code_dir
    scorer = ALMZeroShotScorer(tiny_clap, classes=["angry", "happy", "sad"], device="cpu").fit()
    path = tmp_path / "crafted.skops"
    sio.dump(scorer, path)
    import zipfile

    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    schema_text = entries["schema.json"].decode()
    assert json.dumps(tiny_clap)[1:-1] in schema_text
    entries["schema.json"] = schema_text.replace(json.dumps(tiny_clap)[1:-1], f"clsp:{directory}").encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    assert set(sio.get_untrusted_types(file=path)) <= set(SKOPS_TRUSTED_TYPES)  # the README's check passes

    capsys.readouterr()
    rc = main(["predict", str(path), *clips])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1, err
    assert "runs Python code from its own repository" in err and ENV_VAR in err
    assert _ran(markers) == []


def test_clsp_by_name_is_refused_without_the_users_permission(code_dir):
    directory, markers = code_dir
    for model in (f"clsp:{directory}", "yfyeung/CLSP", "clsp:someone/else"):
        with pytest.raises(RemoteCodeRefused, match=r"allow_remote_code\(.*ZSFUSE_TRUST_REMOTE_CODE="):
            ALMZeroShotScorer(model, classes=["a", "b"], device="cpu").fit()
    assert _ran(markers) == []


def test_the_hub_id_is_refused_before_anything_is_fetched(monkeypatch):
    import huggingface_hub

    def no_fetch(*args, **kwargs):
        raise AssertionError("a hub file was requested")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_fetch)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    with pytest.raises(RemoteCodeRefused):
        get_alm_encoder("yfyeung/CLSP", device="cpu")


def test_the_permission_is_per_model_and_per_revision(tiny_clsp, tmp_path):  # noqa: F811
    path, _ = tiny_clsp
    assert not remote_code_allowed(path)
    with allow_remote_code(path):
        assert remote_code_allowed(path) and remote_code_allowed(str(Path(path) / ".." / Path(path).name))
        assert not remote_code_allowed(str(tmp_path))
    assert not remote_code_allowed(path)  # the block ended
    with allow_remote_code("org/model"):
        assert remote_code_allowed("org/model") and remote_code_allowed("org/model", "main")
        assert not remote_code_allowed("org/model", "refs/pr/1")  # anyone can push a pull request
        assert not remote_code_allowed("org/other")
    with allow_remote_code("org/model@abc123"):
        assert remote_code_allowed("org/model", "abc123") and not remote_code_allowed("org/model")
    with pytest.raises(TypeError):
        allow_remote_code(None)


def test_the_users_permission_loads_the_model(tiny_clsp, sine_clips, monkeypatch):  # noqa: F811
    from sklearn_zsfuse.encoders import CLSP

    path, _ = tiny_clsp
    waves, sr = sine_clips
    clear_models()
    with pytest.raises(RemoteCodeRefused):
        get_alm_encoder(CLSP(path), device="cpu")
    with allow_remote_code(path):
        assert get_alm_encoder(CLSP(path), device="cpu").window is None
    clear_models()
    monkeypatch.setenv(ENV_VAR, f"some/other, {path}")  # the environment: also for zsfuse and workers
    scorer = ALMZeroShotScorer("clsp:" + path, classes=["a", "b"], sampling_rate=sr, device="cpu").fit()
    assert scorer.transform(waves).shape == (3, 2)
    clear_models()


def test_the_cli_names_the_switch(code_dir, clips, tmp_path, capsys):
    directory, markers = code_dir
    rc = main(["embed", "--alm", f"clsp:{directory}", *clips, "--out", str(tmp_path / "x.npy"), "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and ENV_VAR in err and "allow_remote_code" in err, err
    assert _ran(markers) == [] and not (tmp_path / "x.npy").exists()


# ---- item 5: speech models never run code from their files -------------------------------------


def test_a_speech_model_directory_with_code_runs_none_even_if_the_user_says_yes(code_dir, says_yes, sine_clips):
    directory, markers = code_dir
    waves, sr = sine_clips
    with pytest.raises(ModelLoadError, match=r"model=.*evil"):
        FMEmbedder(str(directory), sampling_rate=sr, device="cpu").fit(waves)
    assert says_yes == [] and _ran(markers) == []


def test_zsfuse_embed_fm_runs_no_code_from_the_model_directory(code_dir, says_yes, clips, tmp_path, capsys):
    directory, markers = code_dir
    rc = main(["embed", "--fm", str(directory), *clips, "--out", str(tmp_path / "x.npy"), "-q"])
    assert rc == 2, capsys.readouterr().err
    assert says_yes == [] and _ran(markers) == []


def test_a_clap_directory_with_code_runs_none(tiny_clap, tmp_path, says_yes):
    import shutil

    markers = tmp_path / "markers"
    directory = tmp_path / "clap"
    shutil.copytree(tiny_clap, directory)
    evil = _code_dir(tmp_path / "code", markers)
    for f in evil.glob("*.py"):
        shutil.copy(f, directory)
    config = json.loads((directory / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "configuration_evil.EvilConfig", "AutoModel": "modeling_evil.EvilModel"}
    (directory / "config.json").write_text(json.dumps(config))
    clear_models()
    ALMZeroShotScorer(str(directory), classes=["a", "b"], device="cpu").fit()  # the built-in class, no code
    assert says_yes == [] and _ran(markers) == []
    clear_models()
