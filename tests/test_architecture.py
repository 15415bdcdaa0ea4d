"""The package's shape (issue 16): where state lives, how a clip reaches the model, the layout.

- Module-level mutable objects: every module is imported and its globals walked;
  each mutable object (dict, list, set, deque, weak map, an instance of the
  package's own classes; each object once; locks not counted) must be in
  :data:`ALLOWED_STATE`, where each says why it is process-wide.
- From each estimator's ``transform`` the model's forward pass is reached through its
  adapter class in at most 3 calls, with no closure on the way.
- No import circles (imports inside functions count too); at most 10 entries at the
  top level; no module over 400 lines.
"""

from __future__ import annotations

import ast
import collections
import dataclasses
import importlib
import inspect
import pickle
import pkgutil
import threading
import weakref
from pathlib import Path

import numpy as np
import pytest

import sklearn_zsfuse

PACKAGE = Path(sklearn_zsfuse.__file__).parent

# The only process-wide mutable objects, and why each is one.
ALLOWED_STATE = {
    "sklearn_zsfuse.encoders.records._records":
        "loaded models: one record per model per process, so clones share a 300M-parameter model",
    "sklearn_zsfuse.encoders.declarations.declared":
        "what the user declares about model names, per process by design: their own encoders (register_alm, "
        "register_fm) and the models allowed to run their own code (allow_remote_code)",
    "sklearn_zsfuse.encoders.file_digest._digests":
        "SHA-256 of model files, once per process per file version: a fingerprint vouches for the bytes (issue 17)",
    "sklearn_zsfuse.engine.cache.caches":
        "the embedding caches: memory tiers shared by every estimator and clone, one disk cache per directory",
    "sklearn_zsfuse.reporting.progress._current":
        "the open progress display, which bars of any thread report into",
}
assert len(ALLOWED_STATE) <= 5

_MUTABLE = (dict, list, set, bytearray, collections.deque, weakref.WeakKeyDictionary, weakref.WeakValueDictionary,
            weakref.WeakSet)
_LOCKS = (type(threading.Lock()), type(threading.RLock()), threading.Condition, threading.Event, threading.Semaphore)


def _modules():
    names = [sklearn_zsfuse.__name__]
    names += [m.name for m in pkgutil.walk_packages(sklearn_zsfuse.__path__, sklearn_zsfuse.__name__ + ".")
              if not m.name.endswith(".__main__")]  # running it is `python -m sklearn_zsfuse.cli`
    return [importlib.import_module(name) for name in names]


def _is_state(value) -> bool:
    if inspect.ismodule(value) or inspect.isclass(value) or inspect.isroutine(value) or isinstance(value, _LOCKS):
        return False
    if isinstance(value, _MUTABLE):
        return True
    frozen = dataclasses.is_dataclass(value) and type(value).__dataclass_params__.frozen  # a constant record
    return type(value).__module__.startswith(sklearn_zsfuse.__name__ + ".") and not frozen


def module_state() -> dict[str, object]:
    """``module.name -> object`` for every module-level mutable object, each object once."""
    found, seen = {}, set()
    for module in _modules():
        for name, value in vars(module).items():
            if name.startswith("__") or id(value) in seen or not _is_state(value):
                continue
            seen.add(id(value))
            found[f"{module.__name__}.{name}"] = value
    return found


def test_module_level_mutable_objects_are_the_documented_few():
    state = module_state()
    unexpected = sorted(set(state) - set(ALLOWED_STATE))
    assert not unexpected, f"module-level mutable objects outside the allow-list: {unexpected}"
    assert set(state) == set(ALLOWED_STATE)


def _snapshot() -> dict:
    from sklearn_zsfuse.encoders import loaded_models
    from sklearn_zsfuse.engine.cache import caches
    from sklearn_zsfuse.reporting import progress

    return {
        "records": sorted(map(repr, loaded_models())),
        "memory": (len(caches.audio), len(caches.text)),
        "disks": sorted(map(str, caches._disks)),
        "runs": len(progress._current),
    }


def test_unpickling_embedded_weights_changes_no_process_state_until_first_use(tiny_clap, sine_clips, tmp_path):
    import shutil

    from sklearn_zsfuse import ALMZeroShotScorer, clear_caches, clear_models

    waves, sr = sine_clips
    clap = str(shutil.copytree(tiny_clap, tmp_path / "clap"))
    scorer = ALMZeroShotScorer(clap, classes=["angry", "sad"], sampling_rate=sr, device="cpu",
                               store_weights_in_pickle=True).fit()
    blob = pickle.dumps(scorer)
    shutil.rmtree(clap)
    clear_models()
    clear_caches()
    before = _snapshot()
    leftovers = set(Path(tmp_path).parent.glob("zsfuse-models-*"))
    restored = pickle.loads(blob)
    assert _snapshot() == before  # nothing loaded, cached, registered or re-pointed
    assert restored.transform(waves).shape == (3, 2)  # first use: the record is made now
    assert _snapshot()["records"] != before["records"]
    # the files were written only to load them, and are gone again
    assert set(Path(tmp_path).parent.glob("zsfuse-models-*")) == leftovers


# --------------------------------------------------------------------------------------
# From transform to the forward pass
# --------------------------------------------------------------------------------------


class _StackSpy:
    """Records the frames between an estimator's ``transform`` and the encoder's forward method."""

    def __init__(self):
        self.paths = []

    def record(self):
        frames, path = inspect.stack()[2:], []
        for info in frames:
            path.append(info.frame)
            if info.function == "transform":
                self.paths.append(path)
                return
        # called outside transform (fit's probe): not counted


class SpyALM:
    sampling_rate = 8000
    window = 4000
    logit_scale = 10.0
    fingerprint = "spy-alm|v1"

    def __init__(self, spy):
        self.spy = spy

    def encode_audio(self, waves):
        self.spy.record()
        return np.stack([[w.mean(), w.std() + 1, np.abs(w).max()] for w in waves]).astype(np.float32)

    def encode_text(self, texts):
        return np.stack([[len(t), t.count("a") + 1, t.count("e") + 2] for t in texts]).astype(np.float32)


class SpyFM:
    sampling_rate = 8000
    n_layers = 2
    hidden_size = 3
    fingerprint = "spy-fm|v1"

    def __init__(self, spy):
        self.spy = spy

    def encode(self, waves):
        self.spy.record()
        stats = np.stack([[w.mean(), w.std(), np.abs(w).max()] for w in waves]).astype(np.float32)
        return np.stack([stats, 2 * stats], axis=1)


@pytest.mark.parametrize("kind", ["alm", "fm"])
def test_transform_reaches_the_forward_pass_through_its_adapter_in_three_calls(kind, sine_clips):
    from sklearn_zsfuse import ALMZeroShotScorer, FMEmbedder
    from sklearn_zsfuse.encoders import register_alm, register_fm, unregister_alm, unregister_fm
    from sklearn_zsfuse.engine import adapters

    spy = _StackSpy()
    waves, sr = sine_clips
    name = f"spy-{kind}"
    if kind == "alm":
        register_alm(name, lambda ref, **kw: SpyALM(spy))
        est = ALMZeroShotScorer(name, classes=["angry", "sad"], sampling_rate=sr, device="cpu")
        adapter = adapters.ALMAudio
    else:
        register_fm(name, lambda ref, **kw: SpyFM(spy))
        est = FMEmbedder(name, sampling_rate=sr, device="cpu")
        adapter = adapters.SpeechLayers
    try:
        est.fit().transform(waves)
    finally:
        (unregister_alm if kind == "alm" else unregister_fm)(name)
    assert spy.paths, "the forward pass was not reached from transform"
    for path in spy.paths:
        # path[0] calls the encoder; path[-1] is transform: the calls transform -> ... -> encoder
        calls = len(path)
        assert calls <= 3, [f.f_code.co_qualname for f in path]
        assert isinstance(path[0].f_locals.get("self"), adapter), path[0].f_code.co_qualname
        assert not any("<locals>" in f.f_code.co_qualname for f in path), [f.f_code.co_qualname for f in path]


# --------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _import_graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: set() for name in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                submodules = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in files]
                # ``from . import sub`` needs the submodule; the package itself is its parent, already there
                targets = submodules if len(submodules) == len(node.names) else [base] + submodules
            for target in targets:
                if target in files and target != name:
                    graph[name].add(target)
    return graph


def test_there_are_no_import_circles():
    graph = _import_graph()
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert not cycles, cycles


def test_the_top_level_shows_the_architecture():
    entries = sorted(p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
                     if (p.suffix == ".py" and p.name != "__init__.py") or (p / "__init__.py").is_file())
    assert len(entries) <= 10, entries


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert not long, long
