"""Progress display for long encoding loops: one place decides how progress is shown.

Library code asks :func:`progress_bar` for a bar. Without a run open, that is a
tqdm bar when ``verbose`` is set (nothing otherwise). Inside :func:`run_progress`
(the ``zsfuse`` command opens one for its whole run) every bar reports into one
display instead: the stages running now, clips done of total, and an estimate for
the whole run, on one status line redrawn in place on a terminal, and as plain
lines at intervals (no escape codes) when the stream is a file or a pipe.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
import time

__all__ = ["RunProgress", "current_run", "note", "progress_bar", "quiet_library_bars", "run_progress"]


class _NoProgress:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, desc: str, *, unit: str = "batch", verbose: int = 0):
    """An object with ``update(n)`` and ``close()``.

    Inside :func:`run_progress`, a stage of the run's display (whatever
    ``verbose`` says: the run decides what is shown); else a tqdm bar when
    ``verbose`` is set, else nothing.
    """
    run = current_run()
    if run is not None:
        return run.stage(total, desc, unit=unit)
    if not verbose or total <= 0:
        return _NoProgress()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit)


def note(message: str) -> None:
    """A log line: through the open run's display (on its stream, never into its status line), else printed."""
    run = current_run()
    if run is not None:
        run.note(message)
    else:
        print(message, flush=True)


_current: list = []  # the open runs, innermost last; process-wide so worker threads report too
_current_lock = threading.Lock()


def current_run() -> RunProgress | None:
    with _current_lock:
        return _current[-1] if _current else None


@contextlib.contextmanager
def run_progress(stream=None, *, quiet: bool = False, interval: float = 10.0, clock=time.monotonic):
    """Open a :class:`RunProgress` that every :func:`progress_bar` of this process reports into."""
    run = RunProgress(stream, quiet=quiet, interval=interval, clock=clock)
    with _current_lock:
        _current.append(run)
    try:
        yield run
    finally:
        with _current_lock:
            _current.remove(run)
        run.close()


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _plural(unit: str) -> str:
    if unit.endswith("s"):  # given plural already ("clips", "texts")
        return unit
    return unit + ("es" if unit.endswith(("x", "ch", "sh")) else "s")


class _Stage:
    def __init__(self, run: RunProgress, total: int, desc: str, unit: str):
        self.run, self.total, self.desc, self.unit = run, max(int(total), 0), desc, unit
        self.done = 0
        self.closed = False
        # Encoding the prompts is quick and not a pass over the audio the run planned.
        self.counts = not unit.startswith("text")

    def update(self, n: int = 1) -> None:
        self.run._update(self, n)

    def close(self) -> None:
        self.run._close(self)

    def text(self) -> str:
        return f"{self.desc} {self.done}/{self.total} {_plural(self.unit)}"


class RunProgress:
    """The display of one whole run: its stages, clips done of total, and the time left.

    ``plan(passes)`` tells how many encoding passes (calls of
    :func:`progress_bar`) the run will make, so the estimate covers the whole
    run and not only the stage running now (stages in ``unit="text"`` are shown
    but not counted: they are not passes over the audio). On a terminal (``stream.isatty()``)
    one status line is redrawn in place; otherwise a plain line is written when
    a stage starts and ends and at most every ``interval`` seconds between.
    :meth:`note` writes a log line, always ending with a newline.
    """

    def __init__(self, stream=None, *, quiet: bool = False, interval: float = 10.0, clock=time.monotonic):
        self.stream = sys.stderr if stream is None else stream
        self.quiet = quiet
        self.interval = interval
        self.clock = clock
        self.start = clock()
        self.passes = 0
        self.finished = 0
        self.active: list[_Stage] = []
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._status_shown = False
        self._last_line = ""  # the status line on a terminal, to blank it out
        self._last_written = None  # when the last plain status line was written
        self._lock = threading.RLock()

    # -- what the run says ------------------------------------------------------------
    def plan(self, passes: int) -> None:
        """The number of encoding passes this run will make (for the whole-run estimate)."""
        with self._lock:
            self.passes = int(passes)

    def stage(self, total: int, desc: str, *, unit: str = "batch") -> _Stage:
        stage = _Stage(self, total, desc, unit)
        with self._lock:
            if stage.total <= 0:  # everything came from the caches: a pass done at once
                self.finished += stage.counts
                stage.closed = True
                return stage
            self.active.append(stage)
            self._show(force=True)
        return stage

    def note(self, message: str) -> None:
        if self.quiet:
            return
        with self._lock:
            self._clear_status()
            self._write(f"[{self.elapsed():7.1f}s] {message}\n")
            if self.tty:
                self._show()

    def warning(self, message: str) -> None:
        """A line that is written even when quiet (a warning is not progress)."""
        with self._lock:
            self._clear_status()
            self._write(f"{message}\n")
            if self.tty:
                self._show()

    def close(self) -> None:
        with self._lock:
            for stage in list(self.active):
                self._close(stage)
            self._clear_status()

    # -- what the display shows -----------------------------------------------------
    def elapsed(self) -> float:
        return self.clock() - self.start

    def fraction(self) -> float:
        """Share of the run's planned passes done (stages running count by their share done)."""
        with self._lock:
            counted = [s for s in self.active if s.counts]
            passes = max(self.passes, self.finished + len(counted), 1)
            running = sum(s.done / s.total for s in counted)
            return min((self.finished + running) / passes, 1.0)

    def eta(self) -> float | None:
        fraction, elapsed = self.fraction(), self.elapsed()
        if fraction <= 0:
            return None
        return elapsed * (1 - fraction) / fraction

    def status(self) -> str:
        with self._lock:
            stages = ", ".join(s.text() for s in self.active) or "waiting"
            eta = self.eta()
            left = "ETA --" if eta is None else f"ETA {_duration(eta)}"
            return f"[{self.elapsed():7.1f}s] encoding: {stages} | run {100 * self.fraction():.0f}% {left}"

    def _update(self, stage: _Stage, n: int) -> None:
        with self._lock:
            stage.done = min(stage.done + int(n), stage.total)
            self._show()

    def _close(self, stage: _Stage) -> None:
        with self._lock:
            if stage.closed:
                return
            stage.closed = True
            self.active.remove(stage)
            self.finished += stage.counts
            if not self.quiet:
                self._clear_status()
                self._write(f"[{self.elapsed():7.1f}s] {stage.desc}: {stage.done}/{stage.total} {_plural(stage.unit)} done\n")
                if self.tty:
                    self._show()

    def _show(self, force: bool = False) -> None:
        if self.quiet or not self.active:
            return
        if self.tty:
            line = self.status()
            pad = " " * max(0, len(self._last_line) - len(line))
            self._write(f"\r{line}{pad}")
            self._last_line, self._status_shown = line, bool(self.active)
            return
        now = self.clock()
        if force or self._last_written is None or now - self._last_written >= self.interval:
            self._write(self.status() + "\n")
            self._last_written = now

    def _clear_status(self) -> None:
        if self.tty and self._status_shown:
            self._write("\r" + " " * len(self._last_line) + "\r")
            self._status_shown = False
            self._last_line = ""

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


@contextlib.contextmanager
def quiet_library_bars():
    """Silence transformers' and huggingface_hub's own tqdm bars ("Loading weights", downloads) for a block.

    Their previous settings are put back afterwards, whatever they were.
    """
    try:
        from transformers.utils import logging as hf_logging

        # The module, not the tqdm class that huggingface_hub.utils exports under the same name.
        hub_tqdm = importlib.import_module("huggingface_hub.utils.tqdm")
    except ImportError:  # neither installed: nothing of theirs to silence
        yield
        return
    was_enabled = hf_logging.is_progress_bar_enabled()
    hub_states = dict(hub_tqdm.progress_bar_states)
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
        else:
            hf_logging.disable_progress_bar()
        hub_tqdm.progress_bar_states.clear()
        hub_tqdm.progress_bar_states.update(hub_states)
