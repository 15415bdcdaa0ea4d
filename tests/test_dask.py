"""Scale-out: GridSearchCV and chunked extraction under joblib's dask backend match serial runs."""

import numpy as np
import pytest
from joblib import Parallel, delayed, parallel_backend
from sklearn.model_selection import GridSearchCV, GroupKFold

from sklearn_zsfuse import FMEmbedder, clear_caches, make_zsfuse_pipeline

distributed = pytest.importorskip("distributed", reason="needs the [dask] extra: pip install 'sklearn-zsfuse[dask]'")


@pytest.fixture(scope="module")
def client():
    # Two single-threaded worker processes, as two machines would be: nothing is shared
    # with this process but what joblib sends (estimators pickle without weights).
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        yield client


# In the default suite (CI installs the [dask] extra): two worker processes import torch
# and load the tiny models; the grid is kept small so it stays well under a minute.
def test_grid_search_and_extraction_on_a_dask_cluster_match_serial(client, tmp_path, tiny_clap, tiny_wavlm, ravdess_small):
    paths, y, actors = ravdess_small
    paths, y, actors = paths[:16], y[:16], actors[:16]
    grid = {"fusion__weight": [0.0, 1.0], "features__zs__text_repeats": [1, 2]}

    def search(cache_dir=None):
        # Input worker threads inside each dask worker; the serial run has one.
        pipe = make_zsfuse_pipeline(tiny_clap, tiny_wavlm, device="cpu", cache_dir=cache_dir, n_workers=2)
        return GridSearchCV(pipe, grid, cv=GroupKFold(2), n_jobs=-1).fit(paths, y, groups=actors)

    serial = GridSearchCV(
        make_zsfuse_pipeline(tiny_clap, tiny_wavlm, device="cpu", n_workers=1), grid, cv=GroupKFold(2)
    ).fit(paths, y, groups=actors)
    clear_caches()
    with parallel_backend("dask"):
        on_dask = search(cache_dir=tmp_path / "cache")  # workers share the disk cache
    np.testing.assert_allclose(
        on_dask.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"], atol=1e-12
    )
    assert on_dask.best_params_ == serial.best_params_
    # The encoding happened on the workers, which wrote the shared cache.
    stats = client.run(
        lambda d=str(tmp_path / "cache"): __import__("sklearn_zsfuse.engine.cache", fromlist=["x"]).disk_cache(d).stats()
    )
    assert len(stats) == 2 and sum(s["writes"] for s in stats.values()) > 0

    # Extraction of a corpus in chunks, one task per chunk, on the workers.
    embedder = FMEmbedder(tiny_wavlm, device="cpu").fit()
    with parallel_backend("dask"):
        chunks = Parallel(n_jobs=-1)(delayed(embedder.transform)(paths[i : i + 4]) for i in range(0, 16, 4))
    clear_caches()
    np.testing.assert_allclose(np.vstack(chunks), embedder.transform(paths), rtol=1e-5, atol=1e-6)
