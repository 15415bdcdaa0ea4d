"""Model files written by someone else: a crafted ``.skops`` file must not write outside our
private directory, nor re-point model names the user's estimator does not carry.

The files are forged the way an attacker would: by editing the zip and its
``schema.json`` by hand, not through the package's API.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import numpy as np
import pytest

from sklearn_zsfuse import SKOPS_TRUSTED_TYPES, ALMZeroShotScorer, ModelLoadError
from sklearn_zsfuse.encoders import loaded_models, resolve_alm
from sklearn_zsfuse.encoders.embedded import EmbeddedModel

sio = pytest.importorskip("skops.io")

HUB_ID = "laion/clap-htsat-unfused"


def _blake(files: dict[str, bytes]) -> str:
    # The digest scheme is in the (public) source: an attacker recomputes it.
    h = hashlib.blake2b(digest_size=16)
    for name in sorted(files):
        h.update(name.encode())
        h.update(len(files[name]).to_bytes(8, "little"))
        h.update(files[name])
    return h.hexdigest()


def _find(node, key):
    if isinstance(node, dict):
        if key in node:
            return node[key]
        for value in node.values():
            found = _find(value, key)
            if found is not None:
                return found
    elif isinstance(node, list):
        for value in node:
            found = _find(value, key)
            if found is not None:
                return found
    return None


def forge(data: bytes, *, add: dict[str, str] | None = None, model: str | None = None) -> bytes:
    """A copy of the skops file ``data`` whose embedded files gain the names ``add`` (new name ->
    an existing name whose bytes it takes), with ``model`` as the embedded model name."""
    source = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(source.read("schema.json"))
    payload = _find(schema, "_embedded_model")["content"]
    files = payload["files"]["content"]
    key_types = payload["files"]["key_types"]["content"]  # one entry per key, in order
    for new, old in (add or {}).items():
        files[new] = dict(files[old])
        key_types.append(dict(key_types[0]))
    contents = {name: source.read(node["file"]) for name, node in files.items()}
    payload["digest"]["content"] = json.dumps(_blake(contents))
    if model is not None:
        # A fresh node id: skops would otherwise share the node with the estimator's own model.
        payload["model"] = {**payload["model"], "content": json.dumps(model), "__id__": 1}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as forged:
        for item in source.infolist():
            if item.filename != "schema.json":
                forged.writestr(item, source.read(item.filename))
        forged.writestr("schema.json", json.dumps(schema))
    return out.getvalue()


@pytest.fixture
def skops_with_weights(tiny_clap, sine_clips):
    waves, sr = sine_clips
    est = ALMZeroShotScorer(tiny_clap, sampling_rate=sr, device="cpu", store_weights_in_pickle=True)
    est.fit(waves, np.array(["angry", "sad", "happy"]))
    return sio.dumps(est)


def _passes_readme_check(data: bytes) -> bool:
    return set(sio.get_untrusted_types(data=data)) <= set(SKOPS_TRUSTED_TYPES)


def test_traversal_names_in_embedded_weights_are_refused_and_write_nothing(skops_with_weights, tmp_path):
    absolute = tmp_path / "absolute" / "pwned"
    relative = tmp_path / "relative" / "pwned"
    forged = forge(
        skops_with_weights,
        add={str(absolute): "config.json", "../" * 40 + str(relative).lstrip("/"): "config.json"},
    )
    assert _passes_readme_check(forged)  # the check a user is told to run cannot see it
    with pytest.raises(ModelLoadError, match=r"embeds a model file name .*(pwned|\.\.)"):
        sio.loads(forged, trusted=SKOPS_TRUSTED_TYPES)
    assert not absolute.exists() and not absolute.parent.exists()
    assert not relative.exists() and not relative.parent.exists()


@pytest.mark.parametrize(
    "name",
    ["a/../../x", "./config.json", "sub//x", "sub\\..\\x", ".hidden", "x\x00y", "C:evil", "", "a/" * 40 + "x"],
    ids=["dotdot", "dot", "empty-part", "backslash", "hidden", "nul", "drive", "empty", "deep"],
)
def test_odd_embedded_names_are_refused(skops_with_weights, name):
    with pytest.raises(ModelLoadError, match="embeds a model file name"):
        sio.loads(forge(skops_with_weights, add={name: "config.json"}), trusted=SKOPS_TRUSTED_TYPES)


def test_names_that_collide_on_disk_are_refused(skops_with_weights):
    # Two names for one file on a case-insensitive disk, and a file where a directory must be.
    for add in ({"CONFIG.JSON": "config.json"}, {"config.json/x": "config.json"}):
        with pytest.raises(ModelLoadError, match="embeds a model file name"):
            sio.loads(forge(skops_with_weights, add=add), trusted=SKOPS_TRUSTED_TYPES)


def test_a_file_cannot_re_point_a_model_name_its_estimator_does_not_carry(skops_with_weights):
    forged = forge(skops_with_weights, model=HUB_ID)
    assert _passes_readme_check(forged)
    with pytest.raises(ModelLoadError, match=rf"embeds weights for model='{HUB_ID}'.*model="):
        sio.loads(forged, trusted=SKOPS_TRUSTED_TYPES)
    # nothing re-pointed, nothing of that name loaded
    assert resolve_alm(HUB_ID).model == HUB_ID and all(HUB_ID not in repr(key) for key in loaded_models())


def test_the_unforged_file_still_loads(skops_with_weights, sine_clips):
    waves, _ = sine_clips
    restored = sio.loads(skops_with_weights, trusted=SKOPS_TRUSTED_TYPES)
    assert restored.transform(waves).shape == (3, 3)
    spec = restored._record().key[1]  # its own weights, from the file, for this estimator only
    assert isinstance(spec, EmbeddedModel) and spec == restored._embedded and restored._embedded.carries(restored.model, None)
