"""The on-disk embedding cache: keys by content, atomic writes, corrupt entries, concurrent writers."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import joblib
import numpy as np
import pytest
import soundfile as sf
from sklearn.model_selection import GridSearchCV, GroupKFold

from sklearn_zsfuse import ALMZeroShotScorer, FMEmbedder, clear_caches, make_zsfuse_pipeline
from sklearn_zsfuse.engine.cache import DiskCache, disk_cache
from sklearn_zsfuse.encoders import get_alm_encoder, get_speech_encoder

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def wav_files(tmp_path, sine_clips):
    waves, sr = sine_clips
    folder = tmp_path / "audio"
    folder.mkdir()
    paths = []
    for i, w in enumerate(waves):
        p = folder / f"clip{i}.wav"
        sf.write(p, w, sr, subtype="FLOAT")
        paths.append(str(p))
    return paths


def fm_clips(tiny_wavlm):
    return get_speech_encoder(tiny_wavlm, device="cpu").audio_clips


def test_round_trip_counts_and_keys(tmp_path):
    cache = DiskCache(tmp_path)
    value = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert cache.get(("m", 1, "abc")) is None
    cache.put(("m", 1, "abc"), value)
    got = cache.get(("m", 1, "abc"))
    np.testing.assert_array_equal(got, value)
    assert got.dtype == np.float32 and not got.flags.writeable
    assert cache.get(("m", 2, "abc")) is None  # any part of the key changes the entry
    assert cache.stats() == {"hits": 1, "misses": 2, "writes": 1, "corrupt": 0}
    assert len(cache) == 1
    assert not list(tmp_path.rglob("*.part"))  # no temporary file left behind


def test_disk_cache_is_one_object_per_directory_and_accepts_joblib_memory(tmp_path):
    assert disk_cache(None) is None
    assert disk_cache(joblib.Memory(None, verbose=0)) is None
    assert disk_cache(tmp_path) is disk_cache(str(tmp_path))
    assert disk_cache(joblib.Memory(tmp_path, verbose=0)) is disk_cache(tmp_path)


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[: len(b) // 2],  # truncated (a writer killed mid-write on a non-atomic FS)
        lambda b: b[:-1] + bytes([b[-1] ^ 1]),  # one flipped bit in the array
        lambda b: b"",  # empty file
        lambda b: b"not a cache entry at all",
    ],
    ids=["truncated", "bitflip", "empty", "foreign"],
)
def test_a_damaged_entry_is_detected_removed_and_never_returned(tmp_path, damage):
    cache = DiskCache(tmp_path)
    key = ("model", "alm", 1, "digest")
    cache.put(key, np.ones((4, 8), dtype=np.float32))
    path = cache.path_for(key)
    path.write_bytes(damage(path.read_bytes()))
    assert cache.get(key) is None
    assert cache.corrupt == 1 and cache.misses == 1 and not path.exists()


def test_renamed_file_hits_and_edited_file_misses(tmp_path, tiny_wavlm, wav_files):
    cache_dir = tmp_path / "cache"
    emb = FMEmbedder(tiny_wavlm, device="cpu", cache_dir=cache_dir).fit()
    first = emb.transform(wav_files)
    disk = disk_cache(cache_dir)
    assert disk.writes == 3
    clear_caches()  # a new process would start with an empty memory cache

    renamed = []
    for p in wav_files:
        new = Path(p).with_name("renamed_" + Path(p).name)
        os.replace(p, new)
        renamed.append(str(new))
    before, hits = fm_clips(tiny_wavlm), disk.hits
    np.testing.assert_array_equal(emb.transform(renamed), first)
    assert fm_clips(tiny_wavlm) == before and disk.hits - hits == 3
    clear_caches()

    wave, sr = sf.read(renamed[1], dtype="float32")
    sf.write(renamed[1], wave * 0.5 + 0.1 * np.sin(np.arange(wave.size) / 3), sr, subtype="FLOAT")
    before, hits = fm_clips(tiny_wavlm), disk.hits
    edited = emb.transform(renamed)
    assert fm_clips(tiny_wavlm) - before == 1 and disk.hits - hits == 2
    np.testing.assert_array_equal(edited[[0, 2]], first[[0, 2]])
    assert not np.allclose(edited[1], first[1])


def test_corrupt_entry_is_recomputed_by_the_estimator(tmp_path, tiny_wavlm, wav_files):
    cache_dir = tmp_path / "cache"
    emb = FMEmbedder(tiny_wavlm, device="cpu", cache_dir=cache_dir).fit()
    first = emb.transform(wav_files)
    entries = sorted((cache_dir).rglob("*.zsf"))
    assert len(entries) == 3
    entries[0].write_bytes(entries[0].read_bytes()[:100])  # truncate one entry
    clear_caches()
    disk = disk_cache(cache_dir)
    before, corrupt = fm_clips(tiny_wavlm), disk.corrupt
    np.testing.assert_allclose(emb.transform(wav_files), first, rtol=1e-5, atol=1e-6)
    assert fm_clips(tiny_wavlm) - before == 1 and disk.corrupt - corrupt == 1
    clear_caches()  # the rewritten entry is valid again:
    before = fm_clips(tiny_wavlm)
    emb.transform(wav_files)
    assert fm_clips(tiny_wavlm) == before


def test_scorer_keys_hold_audio_repeats_and_text_is_cached_too(tmp_path, tiny_clap, sine_clips):
    waves, sr = sine_clips
    y = ["happy", "sad", "angry"]
    enc = get_alm_encoder(tiny_clap, device="cpu")
    kw = dict(sampling_rate=sr, device="cpu", cache_dir=tmp_path / "cache")
    first = ALMZeroShotScorer(tiny_clap, **kw).fit(waves, y).transform(waves)
    clear_caches()
    clips, texts = enc.audio_clips, enc.texts
    again = ALMZeroShotScorer(tiny_clap, **kw).fit(waves, y).transform(waves)
    np.testing.assert_array_equal(again, first)
    assert (enc.audio_clips, enc.texts) == (clips, texts)  # nothing encoded at all
    clear_caches()
    ALMZeroShotScorer(tiny_clap, audio_repeats=2, **kw).fit(waves, y).transform(waves)
    assert enc.audio_clips - clips == 3 and enc.texts == texts  # N_a is part of the audio key


def test_verbose_reports_where_embeddings_came_from(tmp_path, tiny_wavlm, sine_clips, capsys):
    waves, sr = sine_clips
    emb = FMEmbedder(tiny_wavlm, sampling_rate=sr, device="cpu", cache_dir=tmp_path, verbose=1).fit()
    emb.transform(waves)
    clear_caches()
    emb.transform(waves + waves[:1])
    out = capsys.readouterr().out
    assert "3 clips: 3 encoded, 0 reused from memory, 0 from disk" in out
    assert "4 clips: 0 encoded, 1 reused from memory, 3 from disk" in out


def test_cache_dir_takes_a_joblib_memory_and_refuses_other_types(tmp_path, tiny_wavlm, sine_clips):
    from sklearn.utils._param_validation import InvalidParameterError

    waves, sr = sine_clips
    memory = joblib.Memory(tmp_path, verbose=0)
    FMEmbedder(tiny_wavlm, sampling_rate=sr, device="cpu", cache_dir=memory).fit().transform(waves)
    assert disk_cache(tmp_path).writes == 3
    with pytest.raises(InvalidParameterError, match="'cache_dir' parameter"):
        ALMZeroShotScorer("any-model", cache_dir=5).fit(waves, ["a", "b", "c"])


def _run_concurrently(script: str, args_per_process: list[list[str]]) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(script), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for args in args_per_process
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def test_two_processes_hammering_the_same_keys_never_read_a_partial_entry(tmp_path):
    script = """
    import json, sys
    import numpy as np
    from sklearn_zsfuse.engine.cache import DiskCache
    cache = DiskCache(sys.argv[1])
    wrong = found = 0
    for it in range(300):
        k = it % 5
        expected = np.arange(50_000, dtype=np.float32) * (k + 1)  # 200 kB entries
        got = cache.get(("hammer", k))
        if got is not None:
            found += 1
            wrong += not np.array_equal(got, expected)
        cache.put(("hammer", k), expected)
    print(json.dumps({"wrong": wrong, "found": found, **cache.stats()}))
    """
    results = _run_concurrently(script, [[str(tmp_path)], [str(tmp_path)]])
    for r in results:
        assert r["wrong"] == 0 and r["corrupt"] == 0 and r["writes"] == 300
        assert r["found"] >= 290  # every key but the first few was there to read
    cache = DiskCache(tmp_path)
    for k in range(5):
        np.testing.assert_array_equal(cache.get(("hammer", k)), np.arange(50_000, dtype=np.float32) * (k + 1))
    assert not list(tmp_path.rglob("*.part"))


@pytest.mark.slow  # two fresh interpreters importing torch: ~25 s here
def test_two_processes_embedding_the_same_clips_agree_with_a_serial_run(tmp_path, tiny_wavlm, wav_files):
    script = """
    import json, sys
    from sklearn_zsfuse import FMEmbedder
    from sklearn_zsfuse.engine.cache import disk_cache
    paths = sys.argv[3:]
    out = FMEmbedder(sys.argv[1], device="cpu", cache_dir=sys.argv[2], batch_size=1).fit().transform(paths)
    print(json.dumps({"emb": out.tolist(), **disk_cache(sys.argv[2]).stats()}))
    """
    cache_dir = tmp_path / "cache"
    args = [tiny_wavlm, str(cache_dir), *wav_files]
    results = _run_concurrently(script, [args, args])
    serial = FMEmbedder(tiny_wavlm, device="cpu").fit().transform(wav_files)
    for r in results:
        np.testing.assert_allclose(np.array(r["emb"]), serial, rtol=1e-5, atol=1e-6)
        assert r["corrupt"] == 0
    clear_caches()
    before = fm_clips(tiny_wavlm)
    np.testing.assert_allclose(
        FMEmbedder(tiny_wavlm, device="cpu", cache_dir=cache_dir).fit().transform(wav_files), serial, rtol=1e-5, atol=1e-6
    )
    assert fm_clips(tiny_wavlm) == before  # what they left behind is complete and valid


def test_grid_search_with_two_jobs_sharing_a_cache_matches_the_serial_search(
    tmp_path, tiny_clap, tiny_wavlm, ravdess_small
):
    paths, y, actors = ravdess_small
    paths, y, actors = paths[:16], y[:16], actors[:16]
    grid = {"fusion__weight": [0.0, 0.5, 1.0], "features__zs__text_repeats": [1, 2]}

    def search(n_jobs, cache_dir):
        pipe = make_zsfuse_pipeline(tiny_clap, tiny_wavlm, device="cpu", cache_dir=cache_dir)
        return GridSearchCV(pipe, grid, cv=GroupKFold(2), n_jobs=n_jobs).fit(paths, y, groups=actors)

    serial = search(1, None)
    clear_caches()
    parallel = search(2, tmp_path / "cache")
    np.testing.assert_allclose(
        parallel.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"], atol=1e-12
    )
    assert parallel.best_params_ == serial.best_params_
    # The workers filled the cache: this process now encodes nothing.
    clear_caches()
    before = fm_clips(tiny_wavlm), get_alm_encoder(tiny_clap, device="cpu").audio_clips
    search(1, tmp_path / "cache")
    assert (fm_clips(tiny_wavlm), get_alm_encoder(tiny_clap, device="cpu").audio_clips) == before


def test_a_writer_killed_mid_write_loses_only_the_entry_it_was_writing(tmp_path):
    """Issue 5: kill -9 a process halfway through writing an entry; nothing else is lost."""
    import signal

    script = textwrap.dedent(
        """
        import os, sys, time
        import numpy as np
        import sklearn_zsfuse.engine.cache as cache_mod
        from sklearn_zsfuse.engine.cache import DiskCache

        disk = DiskCache(sys.argv[1])
        for i in range(3):
            disk.put(("clip", i), np.full(1000, i, dtype=np.float32))

        real_fdopen = os.fdopen

        class HalfWriter:
            def __init__(self, f):
                self.f = f
            def __enter__(self):
                return self
            def __exit__(self, *exc):
                return False
            def write(self, data):
                self.f.write(data[: len(data) // 2])
                self.f.flush()
                print("HALF-WRITTEN", flush=True)
                time.sleep(120)  # killed here

        cache_mod.os.fdopen = lambda fd, mode: HalfWriter(real_fdopen(fd, mode))
        disk.put(("clip", 3), np.full(1000, 3, dtype=np.float32))
        """
    )
    directory = tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, "-c", script, str(directory)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "HALF-WRITTEN"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert list(directory.rglob("*.part")), "the killed writer's half-written temp file should be there"

    disk = DiskCache(directory)  # the next run
    for i in range(3):
        np.testing.assert_array_equal(disk.get(("clip", i)), np.full(1000, i, dtype=np.float32))
    assert disk.get(("clip", 3)) is None  # a miss, so it is recomputed; never half an array
    assert disk.corrupt == 0
    disk.put(("clip", 3), np.full(1000, 3, dtype=np.float32))
    np.testing.assert_array_equal(disk.get(("clip", 3)), np.full(1000, 3, dtype=np.float32))
