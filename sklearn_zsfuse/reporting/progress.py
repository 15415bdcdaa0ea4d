"""Progress display for long runs: one place decides how progress is shown.

Library code asks :func:`progress_bar` for a bar. Without a run open, that is a
tqdm bar when ``verbose`` is set (nothing otherwise). Inside :func:`run_progress`
(the ``zsfuse`` command opens one for its whole run) every bar reports into one
display instead, on one status line redrawn in place on a terminal, and as plain
lines at intervals (no escape codes) when the stream is a file or a pipe.

A run goes through phases (:func:`phase`): ``encoding`` (the passes of the
models over the audio), then whatever the caller names (``selection``, ``final
fit``, ``report``). The status line names the phase, what runs now and the
phase's own share done with an estimate of its time left: an estimate is only
given for work that can be counted, never carried over from another phase.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
import time

__all__ = ["RunProgress", "current_run", "note", "phase", "progress_bar", "quiet_library_bars", "run_progress"]


class _NoProgress:
    def update(self, n: int = 1) -> None:
        pass

    def describe(self, about: str) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, desc: str, *, unit: str = "batch", verbose: int = 0, detail: bool = False):
    """An object with ``update(n)`` and ``close()``.

    Inside :func:`run_progress`, a stage of the run's display (whatever
    ``verbose`` says: the run decides what is shown); else a tqdm bar when
    ``verbose`` is set, else nothing. ``detail=True``: a part of whatever the run
    is counting (inner splits of a selection step), never a pass of its own.
    """
    run = current_run()
    if run is not None:
        return run.stage(total, desc, unit=unit, detail=detail)
    if not verbose or total <= 0:
        return _NoProgress()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit)


def phase(name: str, total: int = 0, unit: str = "step"):
    """The open run enters phase ``name``; returns a bar counting its ``total`` units (no run: a silent one).

    Bars opened while that counter runs are its detail (what the current unit is
    doing: "inner split 3/5"): shown, not counted, no line of their own.
    """
    run = current_run()
    if run is None:
        return _NoProgress()
    return run.phase(name, total, unit=unit)


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


_ENCODING = "encoding"
# What a stage is to its run: a pass of the encoding over the audio (counted), a
# quick text stage (shown only), a phase's counter, or a detail of that counter's unit.
_PASS, _TEXT, _COUNTER, _DETAIL = "pass", "text", "counter", "detail"


class _Stage:
    def __init__(self, run: RunProgress, total: int, desc: str, unit: str, role: str):
        self.run, self.total, self.desc, self.unit, self.role = run, max(int(total), 0), desc, unit, role
        self.done = 0
        self.closed = False
        self.started = run.clock()
        self.about = ""  # what the unit being counted now is (a phase's counter)

    @property
    def counts(self) -> bool:
        return self.role == _PASS

    def update(self, n: int = 1) -> None:
        self.run._update(self, n)

    def describe(self, about: str) -> None:
        """Say what the unit counted now is ("fold 2: tiny-clap + egemaps, zs_fuse")."""
        self.run._describe(self, about)

    def close(self) -> None:
        self.run._close(self)

    def text(self) -> str:
        about = f" ({self.about})" if self.about else ""
        name = "" if self.role == _COUNTER else f"{self.desc} "  # a counter's name is the phase's
        return f"{name}{self.done}/{self.total} {_plural(self.unit)}{about}"

    def eta(self, now: float) -> float | None:
        """This stage's own time left at its rate so far (None before its first unit)."""
        if self.done <= 0 or self.total <= 0:
            return None
        return (now - self.started) * (self.total - self.done) / self.done


class RunProgress:
    """The display of one whole run: its phase, its stages, units done of total, and the time left.

    In the encoding phase, ``plan(passes)`` tells how many encoding passes (calls
    of :func:`progress_bar`) the run will make, so the estimate covers every pass
    and not only the stage running now (stages in ``unit="text"`` are shown but
    not counted: they are not passes over the audio); the time left is the longer
    of that estimate and each running stage's own (concurrent passes run at
    different rates). :meth:`phase` starts another phase with a counter of its
    units; its estimate comes from its own rate. On a terminal
    (``stream.isatty()``) one status line is redrawn in place; otherwise a plain
    line is written when a stage starts and ends and at most every ``interval``
    seconds between. :meth:`note` writes a log line, always ending with a newline.
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
        self.phase_name = _ENCODING
        self.phase_start = self.start
        self.counter: _Stage | None = None
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._status_shown = False
        self._last_line = ""  # the status line on a terminal, to blank it out
        self._last_written = None  # when the last plain status line was written
        self._lock = threading.RLock()

    # -- what the run says ------------------------------------------------------------
    def plan(self, passes: int) -> None:
        """The number of encoding passes this run will make (for the encoding's estimate)."""
        with self._lock:
            self.passes = int(passes)

    def phase(self, name: str, total: int = 0, *, unit: str = "step") -> _Stage:
        """Enter phase ``name``, counting ``total`` units of it (0: nothing to count); its counter."""
        with self._lock:
            self.phase_name, self.phase_start = name, self.clock()
            counter = _Stage(self, total, name, unit, _COUNTER)
            self.counter = counter if counter.total > 0 else None
            if self.counter is None:
                counter.closed = True
            else:
                self.active.append(counter)
            self._show(force=True)
            return counter

    def stage(self, total: int, desc: str, *, unit: str = "batch", detail: bool = False) -> _Stage:
        with self._lock:
            if self.counter is not None and not self.counter.closed:
                role = _DETAIL
            elif detail:  # nothing counted it belongs to: shown only
                role = _TEXT
            else:
                # Encoding the prompts is quick and not a pass over the audio the run planned.
                role = _TEXT if unit.startswith("text") else _PASS
            stage = _Stage(self, total, desc, unit, role)
            if stage.total <= 0:  # everything came from the caches: a pass done at once
                self.finished += stage.counts
                stage.closed = True
                return stage
            self.active.append(stage)
            if role != _DETAIL:
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
        """Share of the current phase done (encoding: of its planned passes, running ones by their share)."""
        with self._lock:
            if self.phase_name != _ENCODING:
                counter = self.counter
                if counter is None:
                    return 0.0
                details = [s for s in self.active if s.role == _DETAIL and s.total]
                within = details[-1].done / details[-1].total if details and counter.done < counter.total else 0.0
                return min((counter.done + within) / counter.total, 1.0)
            counted = [s for s in self.active if s.counts]
            passes = max(self.passes, self.finished + len(counted), 1)
            running = sum(s.done / s.total for s in counted)
            return min((self.finished + running) / passes, 1.0)

    def eta(self) -> float | None:
        with self._lock:
            fraction, now = self.fraction(), self.clock()
            if fraction <= 0:
                return None
            elapsed = now - (self.start if self.phase_name == _ENCODING else self.phase_start)
            left = elapsed * (1 - fraction) / fraction
            if self.phase_name == _ENCODING:  # a slower concurrent pass outlasts the average
                own = [e for e in (s.eta(now) for s in self.active if s.counts) if e is not None]
                left = max([left, *own])
            return left

    def status(self) -> str:
        with self._lock:
            stages = ", ".join(s.text() for s in self.active) or "waiting"
            eta = self.eta()
            left = "ETA --" if eta is None else f"ETA {_duration(eta)}"
            name = self.phase_name
            return f"[{self.elapsed():7.1f}s] {name}: {stages} | {name} {100 * self.fraction():.0f}% {left}"

    def _update(self, stage: _Stage, n: int) -> None:
        with self._lock:
            stage.done = min(stage.done + int(n), stage.total)
            self._show()

    def _describe(self, stage: _Stage, about: str) -> None:
        with self._lock:
            stage.about = about
            self._show()

    def _close(self, stage: _Stage) -> None:
        with self._lock:
            if stage.closed:
                return
            stage.closed = True
            self.active.remove(stage)
            self.finished += stage.counts
            if stage is self.counter:
                self.counter = None
            if not self.quiet and stage.role != _DETAIL:
                self._clear_status()
                took = f" in {_duration(self.clock() - stage.started)}" if stage.role == _COUNTER else ""
                self._write(f"[{self.elapsed():7.1f}s] {stage.desc}: {stage.done}/{stage.total} "
                            f"{_plural(stage.unit)} done{took}\n")
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
