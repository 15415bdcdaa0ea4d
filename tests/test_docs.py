"""Every ```python block of README.md and docs/*.md runs (issue 10 item 9).

How a documentation block is run
--------------------------------
* Every fence names its language. ```python blocks are executed; ```text (output,
  layouts, listings), ```bash/```console (shell), ```yaml, ```toml ... are not. A bare
  ``` fence fails :func:`test_every_fence_names_its_language`, so that nothing is left
  out by accident.
* The blocks of one file run in order in one namespace, as a reader pastes them into one
  session: a block may use names defined by the blocks above it (``pipe`` from the first
  README example, ...). Running one block alone (``-k``) runs the blocks above it first.
* Each file's session starts with :data:`NAMESPACE_DOC` below: short RAVDESS lists
  ``paths``/``labels``/``speakers`` (18 real clips, 6 speakers, 3 emotions), ``alm`` and
  ``fm`` (the default hub ids), ``pipe`` (``make_zsfuse_pipeline(alm, fm)``, unfitted),
  ``np`` and ``MyParaCLAP`` (README's stand-in for the reader's own encoder). Use these
  names in examples instead of inventing data; import everything else in the block.
* Hub ids are real ids: ``laion/clap-htsat-unfused`` and ``microsoft/wavlm-large`` resolve,
  through the Hugging Face cache and nothing else, to the tiny random models of
  :mod:`sklearn_zsfuse.testing` (:data:`HUB_MODELS`; the one place to add an id). Other
  hub ids cannot load offline.
* Blocks run in a temporary working directory, beside a ``../shared/data/ravdess`` that
  holds the same 18 clips with RAVDESS's metadata.csv, so files a block writes
  (``ser.joblib``) land there and the README's corpus path works as written.
* A block that cannot run here says so on the line above its fence, with a reason:
  ``<!-- docs-test: skip (needs a running dask scheduler) -->`` or, for one that runs but
  takes minutes, ``<!-- docs-test: slow (90 candidates x 30 folds) -->`` (run with
  ``-m slow``); one that shows an optional extra names the modules it needs,
  ``<!-- docs-test: needs (opensmile pyarrow) -->``, and is skipped where one is missing
  (the backends environment has neither); one that needs a CUDA device says
  ``<!-- docs-test: gpu (needs a CUDA device) -->`` (marked ``gpu``, skipped without one).
  Later blocks must not depend on names a skipped, slow, needs or gpu block defines.
* ```bash blocks run too, command by command: ``tests/test_docs_shell.py``.
"""

from __future__ import annotations

import re
import shutil
import textwrap
import traceback
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DOC_FILES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

# A fence: optional indent (blocks inside list items), ``` and the language word.
_FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[^\s`]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.S | re.M)
_MARK = re.compile(r"<!--\s*docs-test:\s*(?P<kind>skip|slow|needs|gpu)\s*(?:\((?P<reason>[^)]*)\))?\s*-->\s*$")

NAMESPACE_DOC = """Names every documentation session starts with (see the module docstring)."""
# Hub id -> builder of the tiny local model that stands for it here.
HUB_MODELS = {
    "laion/clap-htsat-unfused": "make_tiny_clap",
    "microsoft/wavlm-large": "make_tiny_wavlm",
}
# RAVDESS clips of the documentation sessions: one actor of each EmoBox fold, three emotions.
DOC_ACTORS = ("01", "04", "08", "03", "02", "06")
DOC_EMOTIONS = ("neutral", "angry", "fearful")


class Block:
    def __init__(self, path: Path, line: int, lang: str, code: str, mark: str | None, reason: str | None):
        self.path, self.line, self.lang, self.code, self.mark, self.reason = path, line, lang, code, mark, reason

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    found = []
    for m in _FENCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        previous = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = _MARK.search(previous)
        found.append(
            Block(
                path,
                line,
                m.group("lang").lower(),
                textwrap.dedent(m.group("body")),
                mark.group("kind") if mark else None,
                (mark.group("reason") or "").strip() if mark else None,
            )
        )
    return found


PYTHON_BLOCKS = [b for path in DOC_FILES for b in blocks(path) if b.lang in ("python", "py", "python3")]


def test_every_fence_names_its_language():
    bare = [b.id for path in DOC_FILES for b in blocks(path) if not b.lang]
    assert not bare, (
        f"code fences without a language: {bare}. Write ```python for code that runs, ```text for "
        "output or layouts, ```bash for shell (see tests/test_docs.py)."
    )


def test_marks_give_a_reason():
    unexplained = [b.id for b in PYTHON_BLOCKS if b.mark and not b.reason]
    assert not unexplained, f"docs-test skip/slow marks need a reason in parentheses: {unexplained}"


@pytest.fixture(scope="module")
def docs_env(tmp_path_factory):
    """The one fixture behind every block: tiny models under the hub ids, a small RAVDESS, a work dir."""
    import pandas as pd
    from backend_support import add_dir_to_hub_cache, hub_cache
    from conftest import RAVDESS

    import sklearn_zsfuse.testing as testing
    from sklearn_zsfuse import clear_caches, clear_models
    from sklearn_zsfuse.encoders import registered_alms, unregister_alm

    if not (RAVDESS / "metadata.csv").is_file():
        pytest.skip(f"RAVDESS not found at {RAVDESS}")
    base = tmp_path_factory.mktemp("docs")
    added = []
    for repo_id, builder in HUB_MODELS.items():
        directory = getattr(testing, builder)(base / "models" / repo_id.replace("/", "--"))
        if not (hub_cache() / f"models--{repo_id.replace('/', '--')}").exists():
            added.append(hub_cache() / f"models--{repo_id.replace('/', '--')}")
        add_dir_to_hub_cache(repo_id, directory)
    # ../shared/data/ravdess from the work dir: a copy of 18 clips with their metadata rows.
    corpus = base / "shared" / "data" / "ravdess"
    meta = pd.read_csv(RAVDESS / "metadata.csv", dtype={"actor": str})
    meta = meta[meta.actor.isin(DOC_ACTORS) & meta.emotion.isin(DOC_EMOTIONS)]
    meta = meta.groupby(["actor", "emotion"]).head(1).sort_values("path")
    for p in meta.path:
        (corpus / p).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(RAVDESS / p, corpus / p)
    meta.to_csv(corpus / "metadata.csv", index=False)
    work = base / "work"
    work.mkdir()

    class MyParaCLAP:
        """Stands for the reader's own encoder class of README's "Your own model": here the
        tiny CLAP's towers behind the ALMEncoder protocol (``ref`` is the reader's path)."""

        def __new__(cls, ref, device):
            # Not get_alm_encoder: a loader runs under the registry's lock.
            from sklearn_zsfuse.encoders.hf_clap import HFClapEncoder

            return HFClapEncoder("laion/clap-htsat-unfused", device=device)

    from sklearn_zsfuse import make_zsfuse_pipeline

    namespace = {
        "__name__": "__docs__",
        "pipe": make_zsfuse_pipeline("laion/clap-htsat-unfused", "microsoft/wavlm-large"),
        "np": np,
        "paths": [str(corpus / p) for p in meta.path],
        "labels": meta.emotion.to_numpy(),
        "speakers": meta.actor.to_numpy(),
        "alm": "laion/clap-htsat-unfused",
        "fm": "microsoft/wavlm-large",
        "MyParaCLAP": MyParaCLAP,
    }
    registered = set(registered_alms())
    clear_models()
    yield {"namespace": namespace, "work": work}
    for name in set(registered_alms()) - registered:  # README registers "paraclap:"
        unregister_alm(name)
    clear_models()
    clear_caches()
    for path in added:  # other tests expect these ids not to load offline
        shutil.rmtree(path, ignore_errors=True)


_sessions: dict[Path, dict] = {}


def _run(block: Block, namespace: dict) -> None:
    try:
        exec(compile(block.code, f"{block.id} (```python block)", "exec"), namespace)
    except Exception:
        pytest.fail(
            f"the ```python block at {block.id} fails:\n{traceback.format_exc(limit=-6)}\n"
            "Fix the example, or mark it as tests/test_docs.py explains.",
            pytrace=False,
        )


def _param(block: Block):
    marks = []
    if block.mark == "skip":
        marks.append(pytest.mark.skip(reason=block.reason))
    elif block.mark == "slow":
        marks.append(pytest.mark.slow)
    elif block.mark == "gpu":
        marks.append(pytest.mark.gpu)
    return pytest.param(block, id=block.id, marks=marks)


@pytest.mark.filterwarnings("ignore::UserWarning")  # e.g. a class_prompts key the short corpus lacks
@pytest.mark.parametrize("block", [_param(b) for b in PYTHON_BLOCKS])
def test_documentation_block_runs(block, docs_env, monkeypatch):
    monkeypatch.chdir(docs_env["work"])
    session = _sessions.setdefault(block.path, {"namespace": dict(docs_env["namespace"]), "done": set()})
    # The blocks above this one first (once), as a reader who pasted them would have.
    for earlier in PYTHON_BLOCKS:
        if earlier is block:
            break
        if earlier.path == block.path and earlier.mark is None and earlier.id not in session["done"]:
            session["done"].add(earlier.id)
            _run(earlier, session["namespace"])
    session["done"].add(block.id)
    if block.mark == "needs":
        for module in block.reason.split():
            pytest.importorskip(module, reason=f"{block.id} shows an optional extra that needs {module}")
    _run(block, session["namespace"])
