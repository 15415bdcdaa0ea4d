"""Every shell command of README.md and docs/*.md runs (issue 18 item 3), as the ```python blocks do.

How a ```bash block is run
--------------------------
* A block is read as a reader pastes it: lines ending in ``\\`` continue the command,
  ``&&`` chains are one command, a line starting with ``#`` is a comment. Each command
  runs with ``bash -c`` in one working directory shared by every file (the
  "repository root" the docs speak of), in document order, so a file's later command
  finds what an earlier one wrote (``--save-model`` before ``zsfuse predict``).
  Running one command alone (``-k``) runs the commands above it in its file first.
* ``zsfuse``, ``python``, ``python3`` and ``.venv/bin/<either>`` are this checkout's
  package in the suite's interpreter (``PYTHONPATH`` is the checkout). Every command
  must start with one of them, or be an install (``pip install ...``,
  ``python3 -m venv ...``: not run, the suite runs in an installed environment; an
  ``&&`` chain runs its other steps) or the test suite itself (``... -m pytest``: not
  run, it is this suite). Any other program fails :func:`test_every_shell_command_is_understood`.
* A command that already ran (README's first evaluation, repeated in docs/index.md and
  docs/guide.md) is not run again: it is reported as skipped, naming the one that ran.
* A comment right below a command says what it prints: its text (``...`` and
  ``[...]`` stand for anything) must appear in the output, and ``(exit N)`` at its end
  is the exit status expected; otherwise a command must exit 0.
* The directory holds what the docs tell the reader to make: ``tiny-clap``,
  ``tiny-clap-2`` (``seed=1``) and ``tiny-wavlm`` from :mod:`sklearn_zsfuse.testing`;
  beside it ``../shared/data/ravdess`` with 30 real clips (actors 01-06, five emotions,
  RAVDESS's metadata.csv); ``korpus``, a csv corpus whose labels are German words
  (``wut``, ``freude``, ``trauer``); ``rated``, a csv corpus with numeric columns
  ``arousal`` and ``val`` on a 1-5 scale (a proxy from each category's place on
  Russell's circumplex, for these tests only); ``clip.wav``, ``clip1.wav``, ``clip2.flac``. Hub
  ids resolve offline to tiny models with the real ones' layer counts
  (``microsoft/wavlm-large``: 25 hidden states), and ``~`` is a private home.
* A command that names ``egemaps``, a ``.parquet`` file or ``skops`` is skipped where
  opensmile, pyarrow or skops is missing (the backends environment has no opensmile).
* Marks work as for python blocks (``<!-- docs-test: skip|slow|gpu (reason) -->`` on
  the line above the fence). The first README command evaluates all 1,440 RAVDESS
  clips on a fresh machine; here it runs on the 30 clips, and
  :func:`test_readme_first_command_on_the_whole_corpus` (slow) runs its evaluation on
  the real corpus and checks the figures README quotes.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_docs import DOC_FILES, REPO, blocks

SHELL_LANGS = ("bash", "sh", "shell", "console")
_PROGRAM = re.compile(r"^(?:\.venv/bin/)?(zsfuse|python3?)$")
_EXIT = re.compile(r"\(exit (\d+)\)\s*$")
ACTORS = ("01", "02", "03", "04", "05", "06")
EMOTIONS = ("neutral", "happy", "sad", "angry", "fearful")
KORPUS = {"angry": "wut", "happy": "freude", "sad": "trauer"}  # German label spellings of the csv corpus
# (valence, arousal) of each category on Russell's circumplex, in [-1, 1]: the *proxy* ratings of the
# ``rated`` corpus (RAVDESS has none), as in tests/test_dimensional_proxy.py; never a corpus annotation.
CIRCUMPLEX = {"neutral": (0.0, 0.0), "happy": (0.8, 0.5), "sad": (-0.7, -0.4), "angry": (-0.6, 0.7)}
TIMEOUT = 900


class Command:
    def __init__(self, block, index: int, text: str, expected: str, status: int):
        self.block, self.index, self.text, self.expected, self.status = block, index, text, expected, status

    @property
    def id(self) -> str:
        return f"{self.block.id}#{self.index}"

    def steps(self) -> list[str]:
        return [s.strip() for s in re.split(r"\s&&\s", self.text)]

    def runnable(self) -> str | None:
        """The command without its install steps; None when nothing is left to run."""
        kept = [s for s in self.steps() if kind(s) == "run"]
        return " && ".join(kept) if kept else None


def kind(step: str) -> str:
    """'run', 'install' (pip, venv), 'suite' (pytest) or 'unknown'."""
    words = shlex.split(step, comments=True)
    if not words:
        return "unknown"
    program = words[0]
    if program.endswith("/pip") or program == "pip" or words[1:3] == ["-m", "venv"] or words[1:3] == ["-m", "pip"]:
        return "install"
    if not _PROGRAM.match(program):
        return "unknown"
    if words[1:3] == ["-m", "pytest"]:
        return "suite"
    return "run"


def commands(block) -> list[Command]:
    """The block's commands, continuation lines joined, each with the comment below it."""
    out, current = [], None
    for line in block.code.splitlines():
        stripped = line.strip()
        if current is not None and current.endswith("\\"):
            current = current[:-1] + " " + stripped
            continue
        if current is not None:
            out.append(Command(block, len(out) + 1, current, "", 0))
            current = None
        if stripped.startswith("#") and out:  # what the command above prints
            comment = stripped.lstrip("#").strip()
            status = _EXIT.search(comment)
            out[-1].expected = _EXIT.sub("", comment).strip()
            out[-1].status = int(status.group(1)) if status else 0
        elif stripped and not stripped.startswith("#"):
            current = stripped
    if current is not None:
        out.append(Command(block, len(out) + 1, current, "", 0))
    return out


SHELL_BLOCKS = [b for path in DOC_FILES for b in blocks(path) if b.lang in SHELL_LANGS]
COMMANDS = [c for b in SHELL_BLOCKS for c in commands(b)]


def test_every_shell_command_is_understood():
    unknown = [f"{c.id}: {s}" for c in COMMANDS for s in c.steps() if kind(s) == "unknown"]
    assert not unknown, (
        f"shell commands this test cannot run: {unknown}. Start them with zsfuse, python or .venv/bin/..., or "
        "teach tests/test_docs_shell.py what they are."
    )
    assert not [b.id for b in SHELL_BLOCKS if b.mark and not b.reason], "docs-test marks need a reason"
    assert any("--layer 0 1 2 all" in c.text and "egemaps tiny-wavlm" in c.text for c in COMMANDS)


def _shim(path: Path, program: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {program}"$@"\n')
    path.chmod(0o755)


def _copy_ravdess(target: Path, rows) -> None:
    from conftest import RAVDESS

    for p in rows.path:
        (target / p).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(RAVDESS / p, target / p)


@pytest.fixture(scope="module")
def shell_env(tmp_path_factory):
    """The directory the commands run in, and the environment they run with (see the module docstring)."""
    import pandas as pd
    import soundfile as sf
    from backend_support import add_dir_to_hub_cache
    from conftest import RAVDESS

    from sklearn_zsfuse.testing import make_tiny_clap, make_tiny_wavlm

    if not (RAVDESS / "metadata.csv").is_file():
        pytest.skip(f"RAVDESS not found at {RAVDESS}")
    base = tmp_path_factory.mktemp("shell")
    work = base / "work"
    work.mkdir()
    meta = pd.read_csv(RAVDESS / "metadata.csv", dtype={"actor": str}).sort_values("path")
    rows = meta[meta.actor.isin(ACTORS) & meta.emotion.isin(EMOTIONS)].groupby(["actor", "emotion"]).head(1)
    corpus = base / "shared" / "data" / "ravdess"
    _copy_ravdess(corpus, rows)
    rows.to_csv(corpus / "metadata.csv", index=False)
    korpus = work / "korpus"
    german = meta[meta.actor.isin(("09", "10", "11", "12")) & meta.emotion.isin(KORPUS)]
    german = german.groupby(["actor", "emotion"]).head(1)
    _copy_ravdess(korpus, german)
    pd.DataFrame({"path": german.path, "label": german.emotion.map(KORPUS), "speaker": "k" + german.actor}).to_csv(
        korpus / "metadata.csv", index=False)
    rated = work / "rated"
    picked = meta[meta.actor.isin(("13", "14", "15", "16")) & meta.emotion.isin(CIRCUMPLEX)]
    picked = picked.groupby(["actor", "emotion"]).head(1)
    _copy_ravdess(rated, picked)
    pd.DataFrame({"path": picked.path, "label": picked.emotion, "speaker": "r" + picked.actor,
                  "arousal": [3 + 2 * CIRCUMPLEX[e][1] for e in picked.emotion],
                  "val": [3 + 2 * CIRCUMPLEX[e][0] for e in picked.emotion]}).to_csv(rated / "metadata.csv", index=False)
    first = RAVDESS / rows.path.iloc[0]
    audio, rate = sf.read(first)
    sf.write(work / "clip.wav", audio, rate)
    sf.write(work / "clip1.wav", audio, rate)
    shutil.copyfile(RAVDESS / rows.path.iloc[7], work / "clip2.flac")
    make_tiny_clap(work / "tiny-clap")
    make_tiny_clap(work / "tiny-clap-2", seed=1)
    make_tiny_wavlm(work / "tiny-wavlm")
    # Hub ids: a private cache holding tiny models with the real ones' layer counts.
    hub = base / "hf" / "hub"
    env_before = os.environ.get("HF_HUB_CACHE")
    os.environ["HF_HUB_CACHE"] = str(hub)  # add_dir_to_hub_cache writes where this says
    try:
        add_dir_to_hub_cache("laion/clap-htsat-unfused", make_tiny_clap(base / "models" / "clap"))
        add_dir_to_hub_cache("microsoft/wavlm-large",
                             make_tiny_wavlm(base / "models" / "wavlm", num_hidden_layers=24))
    finally:
        os.environ["HF_HUB_CACHE"] = env_before
    bin_dir = base / "bin"
    for where in (bin_dir, work / ".venv" / "bin"):
        _shim(where / "zsfuse", "-m sklearn_zsfuse.cli ")
        _shim(where / "python", "")
        _shim(where / "python3", "")
    (base / "home").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZSFUSE_", "PYTEST_"))}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", PYTHONPATH=str(REPO), HOME=str(base / "home"),
               HF_HUB_CACHE=str(hub), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", MPLBACKEND="Agg")
    return {"work": work, "env": env, "base": base}


def _matches(expected: str, output: str) -> bool:
    """Whether ``expected`` (``...``/``[...]`` standing for anything) appears in ``output``, one line."""
    flat = " ".join(output.split())
    pattern = ".*".join(re.escape(" ".join(part.split())) for part in re.split(r"\[\.\.\.\]|\.\.\.", expected))
    return re.search(pattern, flat) is not None


# What a command needs beyond the core install, read from the command: the extras that the
# backends environment lacks (it has no opensmile, whose pyarrow needs numpy 2).
_NEEDS = (("egemaps", "opensmile"), (".parquet", "pyarrow"), ("skops", "skops"), ("tiny-wavlm", "transformers"))


def needs(command: Command) -> list[str]:
    return [module for word, module in _NEEDS if word in (command.runnable() or "")]


def run_command(command: Command, env: dict, cwd: Path) -> None:
    text = command.runnable()
    if text is None:
        return
    for module in needs(command):
        pytest.importorskip(module, reason=f"{command.id} needs {module}")
    done = subprocess.run(["bash", "-c", text], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    output = done.stdout + done.stderr
    problem = None
    if done.returncode != command.status:
        problem = f"exit status {done.returncode}, documented {command.status}"
    elif command.expected and not _matches(command.expected, output):
        problem = f"the output does not show the documented line {command.expected!r}"
    if problem:
        pytest.fail(f"the shell command at {command.id} ({text}): {problem}:\n{output[-3000:]}\n"
                    "Fix the docs or the code, or mark the block as tests/test_docs_shell.py explains.",
                    pytrace=False)


def _param(command: Command):
    marks, block = [], command.block
    if block.mark == "skip":
        marks.append(pytest.mark.skip(reason=block.reason))
    elif block.mark == "slow":
        marks.append(pytest.mark.slow)
    elif block.mark == "gpu":
        marks.append(pytest.mark.gpu)
    if command.runnable() is None:
        reason = "installs packages" if any(kind(s) == "install" for s in command.steps()) else "runs this suite"
        marks.append(pytest.mark.skip(reason=f"{reason}: the suite runs in an installed environment"))
    return pytest.param(command, id=command.id, marks=marks)


_done: dict = {}  # each step that ran (``.venv/bin/`` left out) -> the id of the command it ran in


def _steps(command: Command) -> list[str]:
    return [re.sub(r"^\.venv/bin/", "", s) for s in command.steps() if kind(s) == "run"]


def _run_once(command: Command, env: dict, cwd: Path) -> None:
    """Run ``command``, unless its very steps already ran here (README's evaluation, repeated in the docs)."""
    earlier = {_done.get(step) for step in _steps(command)}
    if None not in earlier and earlier != {command.id}:
        pytest.skip(f"the same command ran in {', '.join(sorted(earlier))}")
    run_command(command, env, cwd)
    for step in _steps(command):
        _done.setdefault(step, command.id)


@pytest.mark.parametrize("command", [_param(c) for c in COMMANDS])
def test_documented_shell_command_runs(command, shell_env):
    if command.block.mark == "gpu":
        torch = pytest.importorskip("torch")
        if not torch.cuda.is_available():
            pytest.skip("needs a CUDA device")
    for earlier in COMMANDS:  # the commands above it in its file first (once), as a reader ran them
        if earlier is command:
            break
        if earlier.block.path == command.block.path and earlier.block.mark is None and \
                not all(step in _done for step in _steps(earlier)):
            run_command(earlier, shell_env["env"], shell_env["work"])
            for step in _steps(earlier):
                _done.setdefault(step, earlier.id)
    _run_once(command, shell_env["env"], shell_env["work"])


@pytest.mark.slow
def test_readme_first_command_on_the_whole_corpus(tmp_path):
    """README's first command (its evaluation) on all 1,440 RAVDESS clips: the figures README quotes."""
    from conftest import RAVDESS

    if not (RAVDESS / "metadata.csv").is_file():
        pytest.skip(f"RAVDESS not found at {RAVDESS}")
    first = next(c for c in COMMANDS if c.block.path.name == "README.md")
    steps = [s for s in first.steps() if kind(s) == "run"]
    assert steps[-1].startswith(".venv/bin/zsfuse evaluate --dataset ravdess --root ../shared/data/ravdess")
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "shared" / "data" / "ravdess").symlink_to(RAVDESS)
    for name in ("zsfuse", "python", "python3"):
        _shim(work / ".venv" / "bin" / name, "-m sklearn_zsfuse.cli " if name == "zsfuse" else "")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZSFUSE_", "PYTEST_"))}
    env.update(PYTHONPATH=str(REPO), MPLBACKEND="Agg")
    done = subprocess.run(["bash", "-c", " && ".join(steps)], cwd=work, env=env, capture_output=True, text=True,
                          timeout=3600)
    assert done.returncode == 0, done.stderr[-3000:]
    table = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in done.stdout.splitlines()
             if line.startswith("| ") and not line.startswith("| system")}
    doc = json.loads((work / "zsfuse-results" / "ravdess" / "results.json").read_text())
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    # every specialist README quotes ("`ge2e [layer 1]`: UA 61.6 ± 4.0"), against the run's results.json
    quoted = re.findall(r"`([^`]+)`:\s+UA ([\d.]+) ± ([\d.]+)", readme)
    assert len(quoted) >= 6 and {name for name, _, _ in quoted} <= set(doc["fms"]), quoted
    for name, ua, std in quoted:
        result = doc["fm"][name]["systems"]["specialist"]
        # GE2E's LSTM rounds differently on other CPUs: README gives its spread (0.2 points, AMD EPYC against
        # Intel Xeon); eGeMAPS must match to the digit
        spread = 0.2 if "ge2e" in name else 0.0
        got = (round(100 * result["ua"], 1), round(100 * result["ua_std"], 1))
        assert got == pytest.approx((float(ua), float(std)), abs=spread + 1e-9), name
    # the fusions of the primary table (tiny-clap with eGeMAPS), as printed
    for system in ("zs_fuse", "zs_fuse+calibrated", "zs_fuse+concat"):
        figure = re.search(rf"`{re.escape(system)}` ([\d.]+)", readme)
        assert float(table[system].split(" ± ")[0]) == pytest.approx(float(figure.group(1)), abs=0.005), system
