"""Persistence: pickles with and without weights, moved model directories, skops, safe checkpoints."""

import pickle
import shutil
from pathlib import Path

import joblib
import numpy as np
import pytest

from sklearn_zsfuse import (
    SKOPS_TRUSTED_TYPES,
    ALMZeroShotScorer,
    FMEmbedder,
    ModelLoadError,
    ModelMismatchError,
    clear_caches,
    clear_models,
    make_zsfuse_pipeline,
)
from sklearn_zsfuse.encoders import get_alm_encoder, loaded_models
from sklearn_zsfuse.encoders.embedded import EmbeddedModel, pack_model, unpack_model
from sklearn_zsfuse.testing import make_tiny_wavlm
from test_alm_registry import tiny_clsp  # noqa: F401  (the CLSP-style model with its own code)

Y = np.array(["angry", "sad", "happy"])


def fresh_process():
    """What a new process has: no model in memory, no cached embedding."""
    clear_models()
    clear_caches()


@pytest.fixture
def model_copies(tmp_path, tiny_clap, tiny_wavlm):
    """Private copies of the tiny models, which a test may move or delete."""
    return (
        str(shutil.copytree(tiny_clap, tmp_path / "models" / "clap")),
        str(shutil.copytree(tiny_wavlm, tmp_path / "models" / "wavlm")),
    )


def fit_pipe(clap, wavlm, waves, sr, **params):
    y = np.array(["angry", "sad", "happy", "angry", "sad", "happy"])
    return make_zsfuse_pipeline(clap, wavlm, sampling_rate=sr, device="cpu", **params).fit(waves + waves, y)


def test_default_pickle_carries_no_weights_and_names_the_missing_model(model_copies, sine_clips, tmp_path):
    waves, sr = sine_clips
    clap, _ = model_copies
    scorer = ALMZeroShotScorer(clap, sampling_rate=sr, device="cpu").fit(waves, Y)
    blob = pickle.dumps(scorer)
    weights = (Path(clap) / "model.safetensors").read_bytes()
    assert len(blob) < 20_000 < len(weights) and weights[-4096:] not in blob
    shutil.rmtree(clap)
    fresh_process()
    restored = pickle.loads(blob)
    with pytest.raises(ModelLoadError, match=r"model=.*clap'.*does not exist"):
        restored.transform(waves)


def test_store_weights_in_pickle_loads_where_the_model_files_are_gone(model_copies, sine_clips):
    waves, sr = sine_clips
    clap, wavlm = model_copies
    pipe = fit_pipe(clap, wavlm, waves, sr, store_weights_in_pickle=True)
    expected = pipe.predict_proba(waves)
    blob = pickle.dumps(pipe)
    weights = sum(p.stat().st_size for d in (clap, wavlm) for p in Path(d).glob("*.safetensors"))
    assert len(blob) > weights
    shutil.rmtree(clap)
    shutil.rmtree(wavlm)
    fresh_process()

    restored = pickle.loads(blob)
    assert loaded_models() == {}  # unpacked, not loaded: models still load on first use
    np.testing.assert_allclose(restored.predict_proba(waves), expected, rtol=1e-6, atol=1e-7)
    sources = {key[1] for key in loaded_models()}
    assert len(sources) == 2 and all(isinstance(s, EmbeddedModel) for s in sources)
    # The weights stay with the estimators that carried them (issue 17, item 3): the name
    # itself still means what it means here, a directory that is gone.
    with pytest.raises(ModelLoadError, match="does not exist"):
        ALMZeroShotScorer(clap, sampling_rate=sr, device="cpu").fit(waves, Y)

    # Once per process: a second load reuses the unpacked files and the loaded models.
    again = pickle.loads(blob)
    np.testing.assert_allclose(again.predict_proba(waves), expected, rtol=1e-6, atol=1e-7)
    assert {key[1] for key in loaded_models()} == sources
    # The restored pipeline still embeds its weights when pickled again.
    np.testing.assert_allclose(
        pickle.loads(pickle.dumps(restored)).predict_proba(waves), expected, rtol=1e-6, atol=1e-7
    )


def test_pickling_with_weights_copies_a_local_directory_without_loading_it(model_copies):
    clap, _ = model_copies
    scorer = ALMZeroShotScorer(clap, classes=["a", "b"], store_weights_in_pickle=True, device="cpu").fit()
    fresh_process()
    blob = pickle.dumps(scorer)
    assert loaded_models() == {}
    assert (Path(clap) / "model.safetensors").read_bytes() in blob


def test_an_unfitted_estimator_travels_without_weights(model_copies):
    # GridSearchCV(n_jobs>1) sends unfitted clones to its workers: they load the model by name.
    clap, _ = model_copies
    blob = pickle.dumps(ALMZeroShotScorer(clap, store_weights_in_pickle=True))
    assert len(blob) < 20_000


def test_weights_of_a_hub_model_are_written_from_the_loaded_model(tiny_clap, sine_clips):
    waves, sr = sine_clips
    encoder = get_alm_encoder(tiny_clap, device="cpu")
    payload = pack_model("someone/clap-on-the-hub", None, encoder.save)
    files = set(payload["files"])
    assert {"config.json", "model.safetensors"} <= files
    # transformers 5 writes processor_config.json, transformers 4 preprocessor_config.json
    assert {"processor_config.json", "preprocessor_config.json"} & files
    embedded = unpack_model(payload, kind="alm", model="someone/clap-on-the-hub")
    from_files = ALMZeroShotScorer(embedded, sampling_rate=sr, device="cpu").fit(waves, Y)
    original = ALMZeroShotScorer(tiny_clap, sampling_rate=sr, device="cpu").fit(waves, Y)
    np.testing.assert_allclose(from_files.transform(waves), original.transform(waves), rtol=1e-5, atol=1e-6)
    # unpacking re-points no name: the hub id still means the hub id (not in the offline cache)
    with pytest.raises(ModelLoadError, match="someone/clap-on-the-hub"):
        ALMZeroShotScorer("someone/clap-on-the-hub", sampling_rate=sr, device="cpu").fit(waves, Y)


def test_corrupt_embedded_weights_are_refused(model_copies):
    clap, _ = model_copies
    payload = pack_model(clap, None, save=None, directory=Path(clap))
    payload["files"]["model.safetensors"] = payload["files"]["model.safetensors"][:-1] + b"\0"
    with pytest.raises(ModelLoadError, match="corrupt"):
        unpack_model(payload, kind="alm", model=clap)


def test_a_moved_model_directory_is_re_pointed_with_set_params(model_copies, sine_clips, tmp_path):
    waves, sr = sine_clips
    clap, wavlm = model_copies
    pipe = fit_pipe(clap, wavlm, waves, sr)
    expected = pipe.predict_proba(waves)
    joblib.dump(pipe, tmp_path / "ser.joblib")
    moved = tmp_path / "elsewhere"
    shutil.move(str(Path(clap).parent), str(moved))
    fresh_process()

    restored = joblib.load(tmp_path / "ser.joblib")
    with pytest.raises(ModelLoadError, match="does not exist"):
        restored.predict_proba(waves)
    restored.set_params(features__zs__model=str(moved / "clap"), features__fm__model=str(moved / "wavlm"))
    np.testing.assert_allclose(restored.predict_proba(waves), expected, rtol=1e-6, atol=1e-7)


def retrained_copy(model_dir, target: Path) -> Path:
    """The same architecture and files with other weights (as after fine-tuning)."""
    import torch
    from safetensors.torch import load_file, save_file

    shutil.copytree(model_dir, target)
    state = load_file(target / "model.safetensors")
    generator = torch.Generator().manual_seed(1)
    for name, value in state.items():
        if value.is_floating_point() and value.numel() > 1:
            state[name] = value + 0.5 * value.std() * torch.randn(value.shape, generator=generator)
    save_file(state, target / "model.safetensors", metadata={"format": "pt"})
    return target


@pytest.mark.parametrize("kind", ["alm", "fm"])
def test_re_pointing_a_fitted_estimator_to_other_weights_is_refused(kind, tiny_clap, tiny_wavlm, sine_clips, tmp_path):
    waves, sr = sine_clips
    if kind == "alm":
        est = ALMZeroShotScorer(tiny_clap, sampling_rate=sr, device="cpu").fit(waves, Y)
        other = retrained_copy(tiny_clap, tmp_path / "other")
        what = "class prompt embeddings"
    else:
        est = FMEmbedder(tiny_wavlm, sampling_rate=sr, device="cpu").fit(waves)
        other = retrained_copy(tiny_wavlm, tmp_path / "other")
        what = "embeddings of a probe signal"
    est.transform(waves)
    est.set_params(model=str(other))
    with pytest.raises(ModelMismatchError, match=f"is not the model it was fitted with: its {what} differ") as info:
        est.transform(waves)
    assert "Refit" in str(info.value) and str(other) in str(info.value)
    est.fit(waves, Y)  # refitting with the new model is the cure
    assert est.transform(waves).shape[0] == len(waves)


def test_re_pointing_to_a_model_of_another_size_names_the_shapes(tiny_wavlm, sine_clips, tmp_path):
    waves, sr = sine_clips
    est = FMEmbedder(tiny_wavlm, sampling_rate=sr, device="cpu").fit(waves)
    est.set_params(model=str(make_tiny_wavlm(tmp_path / "wide", hidden_size=48)))
    with pytest.raises(ModelMismatchError, match=r"shape \(48,\), the fitted model's \(32,\)"):
        est.transform(waves)


def test_skops_round_trip_with_the_trusted_types(model_copies, sine_clips):
    sio = pytest.importorskip("skops.io")
    waves, sr = sine_clips
    pipe = fit_pipe(*model_copies, waves, sr)
    expected = pipe.predict_proba(waves)
    data = sio.dumps(pipe)
    assert set(sio.get_untrusted_types(data=data)) <= set(SKOPS_TRUSTED_TYPES)
    with pytest.raises(Exception, match="Untrusted types"):
        sio.loads(data)
    fresh_process()
    restored = sio.loads(data, trusted=SKOPS_TRUSTED_TYPES)
    np.testing.assert_allclose(restored.predict_proba(waves), expected, rtol=1e-6, atol=1e-7)
    assert list(restored.predict(waves)) == list(pipe.predict(waves))


def test_skops_round_trip_with_embedded_weights(model_copies, sine_clips):
    sio = pytest.importorskip("skops.io")
    waves, sr = sine_clips
    pipe = fit_pipe(*model_copies, waves, sr, store_weights_in_pickle=True)
    expected = pipe.predict_proba(waves)
    data = sio.dumps(pipe)
    for directory in model_copies:
        shutil.rmtree(directory)
    fresh_process()
    restored = sio.loads(data, trusted=SKOPS_TRUSTED_TYPES)
    np.testing.assert_allclose(restored.predict_proba(waves), expected, rtol=1e-6, atol=1e-7)


def _as_pickled_checkpoint(directory: Path, extra=None) -> Path:
    """Replace model.safetensors by a torch-pickled pytorch_model.bin (optionally with an extra object)."""
    import torch
    from safetensors.torch import load_file

    state = load_file(directory / "model.safetensors")
    if extra is not None:
        state["extra"] = extra
    torch.save(state, directory / "pytorch_model.bin")
    (directory / "model.safetensors").unlink()
    return directory


class _RunsCodeWhenUnpickled:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickled_checkpoints_load_with_weights_only(tiny_wavlm, sine_clips, tmp_path):
    waves, sr = sine_clips
    directory = _as_pickled_checkpoint(Path(shutil.copytree(tiny_wavlm, tmp_path / "bin")))
    from_bin = FMEmbedder(str(directory), sampling_rate=sr, device="cpu").fit(waves).transform(waves)
    original = FMEmbedder(tiny_wavlm, sampling_rate=sr, device="cpu").fit(waves).transform(waves)
    np.testing.assert_allclose(from_bin, original, rtol=1e-5, atol=1e-6)


def test_a_checkpoint_that_would_run_code_is_refused(tiny_wavlm, tmp_path):
    marker = tmp_path / "code-ran"
    directory = _as_pickled_checkpoint(
        Path(shutil.copytree(tiny_wavlm, tmp_path / "evil")), extra=_RunsCodeWhenUnpickled(marker)
    )
    with pytest.raises(ModelLoadError, match=r"model=.*evil'.*weights_only loader.*safetensors"):
        FMEmbedder(str(directory), device="cpu").fit()
    assert not marker.exists()


# --------------------------------------------------------------------------------------
# store_weights_in_pickle with models that cannot embed their files; saving atomically
# --------------------------------------------------------------------------------------


class _ToyEncoder:
    """A registered dual encoder with no way to write its files."""

    sampling_rate, window, logit_scale, fingerprint = 16000, 16000, 10.0, "toy-encoder@1"

    def encode_audio(self, waves):
        return np.stack([np.r_[np.asarray(w[:4], dtype=np.float32), 1.0] for w in waves])

    def encode_text(self, texts):
        # each class word its own embedding (fit refuses classes that all embed the same)
        return np.stack([np.r_[np.full(4, sum(map(ord, t)) % 5, dtype=np.float32), 1.0] for t in texts])


@pytest.fixture
def toy_model():
    from sklearn_zsfuse.encoders import register_alm, unregister_alm

    register_alm("toy-encoder", lambda ref, **kwargs: _ToyEncoder())
    yield "toy-encoder"
    unregister_alm("toy-encoder")


def test_store_weights_for_a_model_that_cannot_embed_its_files_fails_at_fit(toy_model):
    scorer = ALMZeroShotScorer(toy_model, classes=["a", "b"], store_weights_in_pickle=True)
    with pytest.raises(ValueError, match=r"store_weights_in_pickle=True is not supported for "
                       r"ALMZeroShotScorer\(model='toy-encoder'\): its backend \(_ToyEncoder\)"):
        scorer.fit()
    ALMZeroShotScorer(toy_model, classes=["a", "b"]).fit()  # without the flag: fine


def test_a_failed_save_leaves_the_previous_model_file_as_it_was(toy_model, tmp_path):
    from sklearn_zsfuse.estimators.persistence import save_model

    target = tmp_path / "model.joblib"
    scorer = ALMZeroShotScorer(toy_model, classes=["a", "b"]).fit()
    save_model(scorer, target)
    before = target.read_bytes()
    scorer.set_params(store_weights_in_pickle=True)  # set after fit: checked when pickled
    with pytest.raises(ValueError, match=r"not supported for ALMZeroShotScorer\(model='toy-encoder'\)"):
        save_model(scorer, target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.joblib"]  # no temporary file left
    assert joblib.load(target).classes_.tolist() == ["a", "b"]


def test_unfitted_clones_pickle_whatever_the_backend(toy_model):
    """What GridSearchCV(n_jobs>1) sends its workers (a PicklingError before)."""
    from sklearn.base import clone

    scorer = ALMZeroShotScorer(toy_model, store_weights_in_pickle=True)
    assert pickle.loads(pickle.dumps(clone(scorer))).get_params() == scorer.get_params()


@pytest.mark.slow
def test_grid_search_with_workers_and_store_weights(tiny_clap, sine_clips):
    from sklearn.model_selection import GridSearchCV

    waves, sr = sine_clips
    y = np.array(["angry", "sad", "happy"] * 2)
    scorer = ALMZeroShotScorer(tiny_clap, sampling_rate=sr, device="cpu", store_weights_in_pickle=True)
    search = GridSearchCV(scorer, {"text_repeats": [1, 2]}, cv=2, n_jobs=2, error_score="raise").fit(waves * 2, y)
    restored = pickle.loads(pickle.dumps(search.best_estimator_))
    np.testing.assert_allclose(restored.transform(waves), search.best_estimator_.transform(waves), rtol=1e-6)


def test_store_weights_is_refused_for_clsp_models_whose_code_ships_with_the_weights(tiny_clsp, monkeypatch):
    from sklearn_zsfuse.encoders import CLSP

    path, _ = tiny_clsp
    monkeypatch.setenv("ZSFUSE_TRUST_REMOTE_CODE", path)  # its code runs: the user's own permission
    with pytest.raises(ValueError, match=r"not supported for ALMZeroShotScorer\(model=CLSP\(.*\(CLSPEncoder\)"):
        ALMZeroShotScorer(CLSP(path), classes=["a", "b"], store_weights_in_pickle=True, device="cpu").fit()
