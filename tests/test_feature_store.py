"""Features that fit in memory: layer sweeps stream into an on-disk store, transform keeps one layer per clip."""

import os
import pickle
import tempfile
import tracemalloc

import numpy as np
import pytest

from sklearn_zsfuse import FMEmbedder
from sklearn_zsfuse.encoders import register_fm, unregister_fm
from sklearn_zsfuse.engine.cache import caches
from sklearn_zsfuse.evaluation import Grid, compute_feature_set, run_study
from sklearn_zsfuse.evaluation.feature_store import LayerStore, StoredLayer

N_LAYERS, DIM, RATE = 48, 256, 8000


class ManyLayers:
    """A speech encoder with many wide layers whose values depend on the clip (no model, no time)."""

    sampling_rate = RATE
    n_layers = N_LAYERS
    hidden_size = DIM
    fingerprint = "many-layers|v1"

    def encode(self, waves):
        out = np.empty((len(waves), N_LAYERS, DIM), np.float32)
        for n, w in enumerate(waves):
            seed = int(abs(float(w[:50].sum())) * 1e6) % (2**32)
            out[n] = np.random.default_rng(seed).standard_normal((N_LAYERS, DIM), dtype=np.float32)
        return out


@pytest.fixture
def many_layers():
    register_fm("many-layers", lambda ref, **kw: ManyLayers())
    yield "many-layers"
    unregister_fm("many-layers")


def _waves(n):
    rng = np.random.default_rng(1)
    return [rng.standard_normal(400).astype(np.float32) for _ in range(n)]


def test_the_store_holds_each_layer_as_written_and_leaves_no_file_behind():
    rng = np.random.default_rng(0)
    values = rng.standard_normal((7, 5, 3)).astype(np.float32)
    directory = tempfile.mkdtemp()
    store = LayerStore(7, 3, [0, -1, "all", 2], directory=directory)
    assert os.listdir(directory) == [] or os.name == "nt"  # anonymous: no name to leave behind
    for i in (6, 0, 3, 1, 5, 2, 4):  # any order, as the engine delivers
        store.write(i, values[i])
    np.testing.assert_array_equal(np.asarray(store.layer(0)), values[:, 0])
    np.testing.assert_array_equal(np.asarray(store.layer(-1)), values[:, -1])
    np.testing.assert_array_equal(np.asarray(store.layer("all")), np.stack([v.mean(axis=0) for v in values]))
    layer = store.layer(2)
    assert isinstance(layer, StoredLayer) and layer.shape == (7, 3) and len(layer) == 7
    np.testing.assert_array_equal(layer[[1, 4]], values[[1, 4], 2])
    np.testing.assert_array_equal(np.hstack([np.ones((7, 1)), layer])[:, 1:], values[:, 2])
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(layer)), values[:, 2])  # a pickle carries the array


def test_a_layer_sweep_never_holds_clips_by_layers_in_memory(many_layers, monkeypatch):
    waves = _waves(300)
    everything = len(waves) * N_LAYERS * DIM * 4  # 14.7 MB; one layer is 0.3 MB
    FMEmbedder(many_layers, device="cpu", sampling_rate=RATE).fit()  # imports and the model's load: not measured
    tracemalloc.start()
    try:
        features = compute_feature_set(waves, ["a", "b"], fms=[many_layers], layers=list(range(N_LAYERS)),
                                       device="cpu", estimator_params={"sampling_rate": RATE})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < everything / 4, f"peak {peak / 1e6:.1f} MB for {everything / 1e6:.1f} MB of features"
    assert len(caches.audio) == 0  # the sweep's results went to the store only
    reference = FMEmbedder(many_layers, device="cpu", sampling_rate=RATE).fit().layer_embeddings(waves)
    for k in (0, 17, N_LAYERS - 1):
        np.testing.assert_array_equal(np.asarray(features.fms[f"{many_layers} [layer {k}]"]), reference[:, k])
    # the protocol reads the stored layers as arrays
    labels = np.array(["a", "b"] * 150, dtype=object)
    folds = np.repeat([1, 2, 3], 100)
    study = run_study(features, labels, folds, np.arange(300).astype(str), grid=Grid(weights=(0.5,)))
    assert len(study.fm_runs) == N_LAYERS


def test_transform_keeps_one_layer_per_clip(many_layers, monkeypatch):
    waves = _waves(300)
    monkeypatch.setattr(caches.audio, "max_bytes", 1 << 20)  # the memory tier: 1 MB here
    embedder = FMEmbedder(many_layers, layer=5, device="cpu", sampling_rate=RATE).fit()
    tracemalloc.start()
    try:
        out = embedder.transform(waves)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    everything = len(waves) * N_LAYERS * DIM * 4
    assert peak < everything / 4, f"peak {peak / 1e6:.1f} MB for {everything / 1e6:.1f} MB of states"
    np.testing.assert_array_equal(out, ManyLayers().encode(waves)[:, 5])
    np.testing.assert_array_equal(embedder.layer_embeddings(waves, layers=[5, "all"])[:, 0], out)


def test_each_fold_step_reads_a_stored_layer_once_for_categories_and_for_dimensions(monkeypatch):
    from sklearn_zsfuse.evaluation import (
        AttributeFeatures,
        AttributeFeatureSet,
        FeatureSet,
        ZeroShotFeatures,
        run_dimensional_study,
    )

    rng = np.random.default_rng(0)
    n, folds = 60, np.repeat([1, 2, 3], 20)
    labels, speakers = np.array(["a", "b"] * 30, dtype=object), np.arange(n).astype(str)
    store = LayerStore(n, 4, [0])
    for i in range(n):
        store.write(i, rng.standard_normal((1, 4)))
    reads = []
    real = LayerStore.read
    monkeypatch.setattr(LayerStore, "read", lambda self, slot: reads.append(slot) or real(self, slot))
    grid = Grid(audio_repeats=(1,), text_repeats=(1,), weights=(0.5,))
    logits = rng.standard_normal((n, 2))
    run_study(FeatureSet(alms={"alm": ZeroShotFeatures(logits, {(1, 1): logits})}, fms={"fm": store.layer(0)},
                         fm_layers={"fm": ("fm", 0)}), labels, folds, speakers, grid=grid)
    assert len(reads) == 3 * 2  # per fold: the specialist's step, the pair's fusion step (was 3 * 3)
    reads.clear()
    scores = rng.random((n, 2))
    features = AttributeFeatureSet(("arousal", "valence"), alms={"alm": AttributeFeatures(scores, {(1, 1): scores})},
                                   fms={"fm": store.layer(0)}, fm_layers={"fm": ("fm", 0)})
    run_dimensional_study(features, {"arousal": rng.random(n), "valence": rng.random(n)},
                          {"arousal": (0, 1, "test"), "valence": (0, 1, "test")}, labels, folds, speakers, grid=grid)
    assert len(reads) == 3 * 2  # not once per dimension and use (was 3 * 6 for two dimensions)
