"""Several devices in one estimator: one replica per device, batches dealt in turn, the same embeddings."""

import threading

import numpy as np
import pytest

from sklearn_zsfuse import ALMZeroShotScorer, FMEmbedder, clear_caches
from sklearn_zsfuse.encoders import DeviceError, loaded_models, register_fm, unregister_fm
from sklearn_zsfuse.encoders.devices import replica_records, resolve_devices


def test_two_cpu_replicas_give_the_embeddings_of_one(tiny_wavlm, tiny_clap, ravdess_small):
    paths = ravdess_small[0][:10]
    one = FMEmbedder(tiny_wavlm, layer="all", device="cpu", batch_size=2).fit()
    two = FMEmbedder(tiny_wavlm, layer="all", device="cpu,cpu", batch_size=2).fit()
    expected = one.transform(paths)
    clear_caches()
    np.testing.assert_array_equal(two.transform(paths), expected)
    clear_caches()
    np.testing.assert_array_equal(two.layer_embeddings(paths), one.layer_embeddings(paths))
    # two models loaded: the first device's and a replica on the same device
    devices = sorted(key[3] for key in loaded_models() if key[0] == "fm")
    assert "cpu" in devices and "cpu#1" in devices

    scorer = ALMZeroShotScorer(tiny_clap, classes=["angry", "sad"], device="cpu", batch_size=3).fit()
    clear_caches()
    expected = scorer.transform(paths)
    clear_caches()
    np.testing.assert_array_equal(scorer.set_params(device="cpu, cpu").transform(paths), expected)


class _Recorder:
    """A speech encoder that notes which thread and which loaded copy encoded each clip."""

    sampling_rate = 8000
    n_layers = 2
    hidden_size = 3
    fingerprint = "replica-recorder|v1"

    def __init__(self, log, fail):
        self.log, self.fail = log, fail

    def encode(self, waves):
        if self.fail and len(self.log) >= 2:
            raise RuntimeError("replica failure")
        self.log.append((id(self), threading.current_thread().name, len(waves)))
        stats = np.stack([[w.mean(), w.std(), np.abs(w).max()] for w in waves]).astype(np.float32)
        return np.stack([stats, 2 * stats], axis=1)


@pytest.fixture
def recorder():
    log = []
    state = {"fail": False}
    register_fm("replica-recorder", lambda ref, **kw: _Recorder(log, state["fail"]))
    yield log, state
    unregister_fm("replica-recorder")


def test_batches_are_dealt_to_every_replica_and_results_keep_input_order(recorder):
    log, _ = recorder
    rng = np.random.default_rng(0)
    waves = [rng.standard_normal(800 + 37 * i).astype(np.float32) for i in range(24)]
    single = FMEmbedder("replica-recorder", device="cpu", sampling_rate=8000, batch_size=2).fit().transform(waves)
    log.clear()
    clear_caches()
    three = FMEmbedder("replica-recorder", device="cpu,cpu,cpu", sampling_rate=8000, batch_size=2).fit()
    out = three.transform(waves)
    np.testing.assert_array_equal(out, single)
    copies = {entry[0] for entry in log}
    threads = {entry[1] for entry in log}
    assert sum(entry[2] for entry in log) == 24  # every clip once
    assert len(copies) == 3 and all(t.startswith("zsfuse-replica") for t in threads)
    assert not [t for t in threading.enumerate() if t.name.startswith("zsfuse-replica")]  # none left behind


def test_an_error_of_one_replica_stops_the_run_and_leaves_no_thread(recorder):
    log, state = recorder
    state["fail"] = True
    waves = [np.full(800, 0.1 * (i + 1), np.float32) for i in range(12)]
    with pytest.raises(RuntimeError, match="replica failure"):
        FMEmbedder("replica-recorder", device="cpu,cpu", sampling_rate=8000, batch_size=2).fit().transform(waves)
    assert not [t for t in threading.enumerate() if t.name.startswith("zsfuse-replica")]


def test_device_lists_are_checked():
    assert resolve_devices("cpu") == ("cpu",)
    assert resolve_devices(" cpu , cpu ") == ("cpu", "cpu")
    for bad, match in [("cpu,,cpu", "empty entry"), ("auto,cpu", "cannot be part of a list"),
                       ("cpu,gpu", "is not a device"), ("cpu,cuda:all", "cannot be part of a list")]:
        with pytest.raises(DeviceError, match=match):
            resolve_devices(bad)
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="cuda:all"):
            resolve_devices("cuda:all")
        with pytest.raises(DeviceError, match="CUDA is not available"):
            resolve_devices("cpu,cuda:0")


def test_replicas_of_another_dtype_are_refused(recorder, monkeypatch):
    from sklearn_zsfuse.engine import adapters, replicas

    records = replica_records("fm", "replica-recorder", device="cpu,cpu")
    first, second = (adapters.SpeechLayers(r) for r in records)
    second.key_prefix = ("another-fingerprint", *second.key_prefix[1:])
    with pytest.raises(ValueError, match="not the same model"):
        replicas.check_replicas([first, second], "FMEmbedder")


def test_the_cli_takes_device_lists():
    import argparse

    from sklearn_zsfuse.cli.parsing import device

    assert device("cuda:0,cuda:1") == "cuda:0,cuda:1"
    assert device("cuda:all") == "cuda:all"
    assert device("cpu,cpu") == "cpu,cpu"
    with pytest.raises(argparse.ArgumentTypeError):
        device("cuda:0,,cuda:1")
