"""Encoding on a dask cluster: shards on the workers, results through the shared cache, resumable.

One local cluster of two worker processes (as two machines would be) for the module;
the scheduler gives up on a task at its first lost worker, so that a killed worker
stops the run and the rerun has something left to do.
"""

import numpy as np
import pytest
import soundfile as sf

from sklearn_zsfuse import FMEmbedder, clear_caches
from sklearn_zsfuse.engine.cache import disk_cache
from sklearn_zsfuse.engine.disk_cache import DiskCache
from sklearn_zsfuse.encoders import model_record
from sklearn_zsfuse.estimators.cluster import ClusterError, encode_on_cluster

distributed = pytest.importorskip("distributed", reason="needs the [dask] extra: pip install 'sklearn-zsfuse[dask]'")
from cluster_support import NullSpeech  # noqa: E402


@pytest.fixture(scope="module")
def client():
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, distributed.Client(cluster) as client:
            yield client


@pytest.fixture(scope="module")
def short_clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("short-clips")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(36):
        path = folder / f"clip{i:02d}.wav"
        sf.write(path, (0.1 * rng.standard_normal(1600 + 160 * i)).astype(np.float32), 16000)
        paths.append(str(path))
    return paths


def test_a_killed_worker_stops_the_run_and_the_rerun_encodes_only_what_is_missing(client, short_clips, tmp_path):
    paths, cache = short_clips, tmp_path / "cache"
    spec = NullSpeech(marker=str(tmp_path / "died"), seconds_per_batch=0.05)
    embedder = FMEmbedder(spec, layer="all", device="cpu", batch_size=2, n_workers=1, cache_dir=str(cache))
    with pytest.raises(ClusterError, match="run the same again"):
        encode_on_cluster([embedder], paths, client, shard_size=6, verbose=0)
    assert (tmp_path / "died").exists()
    client.restart()  # the other worker's shard would go on writing: stop it before counting
    present = len(DiskCache(cache))
    assert 0 < present < len(paths)  # what was stored before the kill stays
    counts = encode_on_cluster([embedder], paths, client, shard_size=6, verbose=0)
    assert counts["encoded"] == len(paths) - present and counts["disk"] == present
    assert len(DiskCache(cache)) == len(paths)
    # this process now reads everything from the cache and gets what a serial run gets
    local = model_record("fm", spec, device="cpu").encoder
    embedder.fit()
    before = local.batches
    clustered = embedder.transform(paths)
    assert local.batches == before  # nothing encoded here
    clear_caches()
    serial = FMEmbedder(spec, layer="all", device="cpu", batch_size=2).fit().transform(paths)
    np.testing.assert_array_equal(clustered, serial)


def test_zsfuse_embed_with_a_scheduler_matches_a_serial_run(client, tiny_wavlm, ravdess_small, tmp_path, capsys):
    from sklearn_zsfuse.cli import main

    paths = ravdess_small[0][:8]
    address = client.scheduler.address
    common = ["embed", "--fm", tiny_wavlm, "--layer", "0", "2", "--device", "cpu", *paths]
    assert main([*common, "--out", str(tmp_path / "serial.npy"), "-q"]) == 0
    clear_caches()
    cache = tmp_path / "cache"
    assert main([*common, "--out", str(tmp_path / "cluster.npy"), "--scheduler", address,
                 "--cache-dir", str(cache)]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "cluster.npy"), np.load(tmp_path / "serial.npy"), rtol=1e-5,
                               atol=1e-6)
    err = capsys.readouterr().err
    assert "8 encoded, 0 already in the cache" in err  # on the workers
    assert "0 encoded" in err and "8 from disk" in err  # here
    assert disk_cache(cache).stats()["writes"] == 0
    # without a cache folder the workers' results would have nowhere to go
    with pytest.raises(SystemExit) as exc:
        main([*common, "--out", str(tmp_path / "x.npy"), "--scheduler", address])
    assert exc.value.code == 2 and "--scheduler needs --cache-dir" in capsys.readouterr().err


def test_a_layer_sweep_with_a_scheduler_matches_a_serial_run(client, tiny_clap, tiny_wavlm, ravdess_small, tmp_path,
                                                             monkeypatch):
    from sklearn_zsfuse.encoders.hf_clap import HFClapEncoder
    from sklearn_zsfuse.encoders.hf_speech import HFSpeechEncoder
    from sklearn_zsfuse.evaluation import Grid, compute_feature_set

    paths = ravdess_small[0][:6]
    kwargs = dict(alms=[tiny_clap], fms=[tiny_wavlm], layers=[0, "all"], device="cpu",
                  grid=Grid(audio_repeats=(1, 2), text_repeats=(1,)))
    serial = compute_feature_set(paths, ["happy", "sad"], **kwargs)
    clear_caches()
    encoded = []  # audio forward passes in this process (the workers are other processes)
    for cls, method in ((HFSpeechEncoder, "encode"), (HFClapEncoder, "encode_features")):
        real = getattr(cls, method)
        monkeypatch.setattr(cls, method, lambda self, x, real=real: encoded.append(len(x)) or real(self, x))
    cache = str(tmp_path / "cache")
    clustered = compute_feature_set(paths, ["happy", "sad"], scheduler=client.scheduler.address,
                                    estimator_params={"cache_dir": cache}, **kwargs)
    assert encoded == []  # every clip of every pass (the specialist, N_a = 1 and 2) came from the workers
    for name in serial.fms:
        np.testing.assert_allclose(np.asarray(clustered.fms[name]), np.asarray(serial.fms[name]), rtol=1e-5,
                                   atol=1e-6)
    for key, logits in serial.alms[tiny_clap].ensemble.items():
        np.testing.assert_allclose(clustered.alms[tiny_clap].ensemble[key], logits, rtol=1e-5, atol=1e-5)


def test_a_dimensional_evaluation_with_a_scheduler_encodes_on_the_workers_and_matches_a_serial_run(
        client, tiny_clap, tiny_wavlm, ravdess_small, tmp_path, monkeypatch):
    import csv
    import json

    from sklearn_zsfuse.cli import main
    from sklearn_zsfuse.encoders.hf_clap import HFClapEncoder
    from sklearn_zsfuse.encoders.hf_speech import HFSpeechEncoder

    paths, emotions, actors = ravdess_small
    arousal = {"neutral": -0.2, "calm": -0.6, "happy": 0.5, "sad": -0.4, "angry": 0.7, "fearful": 0.6,
               "disgust": 0.3, "surprised": 0.8}  # stand-in ratings: this test compares two runs, not their quality
    root = tmp_path / "rated"
    root.mkdir()
    with open(root / "metadata.csv", "w", newline="") as f:
        rows = csv.writer(f)
        rows.writerow(["path", "label", "speaker", "arousal"])
        rows.writerows([p, e, a, arousal[e]] for p, e, a in zip(paths, emotions, actors))
    argv = ["evaluate", "--dataset", "csv", "--root", str(root), "--allow-outside-root", "--target", "arousal",
            "--scale", "arousal=-1,1", "--alm", tiny_clap, "--fm", tiny_wavlm, "--grid", "na=1,2", "nt=1",
            "w=0,0.5,1", "--device", "cpu", "--no-plots", "-q"]
    assert main([*argv, "--out", str(tmp_path / "serial")]) == 0
    clear_caches()
    encoded = []  # audio forward passes in this process (the workers are other processes)
    for cls, method in ((HFSpeechEncoder, "encode"), (HFClapEncoder, "encode_features")):
        real = getattr(cls, method)
        monkeypatch.setattr(cls, method, lambda self, x, real=real: encoded.append(len(x)) or real(self, x))
    assert main([*argv, "--out", str(tmp_path / "cluster"), "--scheduler", client.scheduler.address,
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    assert encoded == []  # the specialist and both N_a passes of the ALM came from the workers
    serial, clustered = (json.loads((tmp_path / run / "results.json").read_text())["tables"]["arousal"]["systems"]
                         for run in ("serial", "cluster"))
    assert list(clustered) == list(serial)
    for name, result in serial.items():
        for metric in ("ccc", "pearson", "mae"):
            assert clustered[name][metric] == pytest.approx(result[metric], abs=1e-4), (name, metric)
