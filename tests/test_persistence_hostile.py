"""Saving and loading models with their weights, against careless directories and crafted files.

Issue 17:
- item 4: ``store_weights_in_pickle=True`` followed links out of the model directory
  (``notes.txt -> /elsewhere/secret.txt`` put the secret into the pickle);
- item 16: a 300 MB zero-filled deflated entry in a small ``.skops`` file was inflated
  in memory and written to ``$TMPDIR`` before anything failed; embedded weights that
  are not a whole safetensors file were written to disk first, then failed to load;
- item 17: SIGTERM during predict left ``$TMPDIR/zsfuse-models-*`` behind.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

from sklearn_zsfuse import FMEmbedder, ModelLoadError, SKOPS_TRUSTED_TYPES
from sklearn_zsfuse.estimators.skops_files import load_skops
from test_untrusted_model_files import _blake, _find, skops_with_weights  # noqa: F401  (a fixture)

SR = 16000


@pytest.fixture
def waves(sine_clips):
    return sine_clips[0]


def _unpacked_dirs() -> set:
    """The private directories embedded model files were written to, in this process's $TMPDIR."""
    import tempfile

    return {p for p in os.listdir(tempfile.gettempdir()) if p.startswith("zsfuse-models-")}


# ---- item 4 ---------------------------------------------------------------------------------------


def test_a_link_out_of_the_model_directory_is_refused_not_embedded(tiny_wavlm, tmp_path, waves):
    secret = tmp_path / "elsewhere" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("THE-SECRET-TEXT")
    directory = tmp_path / "wavlm"
    shutil.copytree(tiny_wavlm, directory)
    (directory / "notes.txt").symlink_to(secret)
    emb = FMEmbedder(str(directory), sampling_rate=SR, device="cpu", store_weights_in_pickle=True)
    with pytest.raises(ValueError, match=r"notes.txt.*link to .*secret.txt.* outside"):
        emb.fit(waves)  # refused at fit, before any file is written
    emb.store_weights_in_pickle = False
    emb.fit(waves)
    emb.store_weights_in_pickle = True  # set after fit: the pickle itself refuses
    with pytest.raises(ValueError, match=r"notes.txt.*outside"):
        pickle.dumps(emb)


def test_links_inside_the_directory_and_hub_cache_snapshots_are_embedded(tiny_wavlm, tmp_path, waves):
    # The Hugging Face cache layout: snapshots/<rev>/file -> ../../blobs/<hash>.
    repo = tmp_path / "models--org--wavlm"
    (repo / "blobs").mkdir(parents=True)
    snapshot = repo / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    for i, f in enumerate(sorted(os.listdir(tiny_wavlm))):
        shutil.copy(os.path.join(tiny_wavlm, f), repo / "blobs" / f"blob{i}")
        (snapshot / f).symlink_to(f"../../blobs/blob{i}")
    (snapshot / "alias.json").symlink_to("config.json")  # inside the directory
    emb = FMEmbedder(str(snapshot), sampling_rate=SR, device="cpu", store_weights_in_pickle=True).fit(waves)
    data = pickle.dumps(emb)
    assert b'"num_hidden_layers"' in data
    restored = pickle.loads(data)
    np.testing.assert_allclose(restored.transform(waves), emb.transform(waves), rtol=1e-6)


# ---- item 16 --------------------------------------------------------------------------------------


def _rewrite(data: bytes, name: str, content_writer) -> bytes:
    """The skops file ``data`` with the embedded model file ``name`` replaced (digest recomputed)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(source.read("schema.json"))
    payload = _find(schema, "_embedded_model")["content"]
    files = payload["files"]["content"]
    entry = files[name]["file"]
    entries = {n: source.read(n) for n in source.namelist() if n not in ("schema.json", entry)}
    contents = {other: source.read(node["file"]) for other, node in files.items() if other != name}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as forged:
        for n, blob in entries.items():
            forged.writestr(n, blob)
        with forged.open(entry, "w", force_zip64=True) as f:
            contents[name] = content_writer(f)
        payload["digest"]["content"] = json.dumps(_blake(contents))
        forged.writestr("schema.json", json.dumps(schema))
    return out.getvalue()


def test_a_deflate_bomb_is_refused_before_it_is_inflated(skops_with_weights, tmp_path):  # noqa: F811
    def zeros(f, total=300 << 20):
        block = bytes(1 << 20)
        for _ in range(total >> 20):
            f.write(block)
        return block * (total >> 20)

    path = tmp_path / "bomb.skops"
    path.write_bytes(_rewrite(skops_with_weights, "model.safetensors", zeros))
    assert path.stat().st_size < 2 << 20
    before = _unpacked_dirs()
    with pytest.raises(ModelLoadError, match=r"bomb.skops.* inflates? to .* bytes"):
        load_skops(path)
    assert _unpacked_dirs() == before


def test_embedded_weights_that_are_not_safetensors_are_refused_before_writing(skops_with_weights, tmp_path):  # noqa: F811
    import skops.io as sio

    def garbage(f):
        data = b"\xff" * 1000
        f.write(data)
        return data

    forged = _rewrite(skops_with_weights, "model.safetensors", garbage)
    before = _unpacked_dirs()
    with pytest.raises(ModelLoadError, match=r"embedded file 'model.safetensors' is damaged"):
        sio.loads(forged, trusted=SKOPS_TRUSTED_TYPES)
    assert _unpacked_dirs() == before


def test_load_skops_loads_an_honest_file_and_names_untrusted_types(skops_with_weights, tmp_path, sine_clips):  # noqa: F811
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    path = tmp_path / "ok.skops"
    path.write_bytes(skops_with_weights)
    restored = load_skops(path)
    assert restored.transform(sine_clips[0]).shape == (3, 3)
    sio.dump(FunctionTransformer(_identity), tmp_path / "fn.skops")
    with pytest.raises(ModelLoadError, match=r"not trusted.*test_persistence_hostile._identity"):
        load_skops(tmp_path / "fn.skops")


def _identity(x):
    return x


# ---- item 17: SIGTERM ------------------------------------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import os, pickle, sys, tempfile, time
    import numpy as np
    with open(sys.argv[1], "rb") as f:
        est = pickle.load(f)
    est.transform([np.zeros(16000, np.float32) + 0.1])  # predicting: the embedded model is loaded now
    print(sorted(p for p in os.listdir(tempfile.gettempdir()) if p.startswith("zsfuse-models-")), flush=True)
    time.sleep(60)
    """
)


def test_sigterm_during_predict_leaves_no_model_files_behind(tiny_wavlm, tmp_path, waves):
    # The embedded files are written only while the model loads, and removed as soon as it
    # has: a process ended by SIGTERM (a scheduler's stop) leaves nothing in $TMPDIR, and
    # no signal handler of ours is installed (the process ends as SIGTERM ends it).
    emb = FMEmbedder(tiny_wavlm, sampling_rate=SR, device="cpu", store_weights_in_pickle=True).fit(waves)
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(emb))
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir), "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path / "model.pkl")], stdout=subprocess.PIPE,
                             text=True, env=env)
    assert child.stdout.readline().strip() == "[]"  # loaded and predicting: no model files on disk
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=60) == -signal.SIGTERM
    assert not [p for p in os.listdir(tmpdir) if p.startswith("zsfuse-models-")], os.listdir(tmpdir)
