"""One progress display for a whole run; plain lines in log files; library bars quieted and restored."""

import io
import threading

import numpy as np
import pytest

from sklearn_zsfuse.reporting import progress
from sklearn_zsfuse.reporting.progress import progress_bar, quiet_library_bars, run_progress


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_without_a_run_the_library_keeps_its_tqdm_bar():
    from tqdm.auto import tqdm

    bar = progress_bar(3, "x", unit="clip", verbose=1)
    try:
        assert isinstance(bar, tqdm)
    finally:
        bar.close()
    silent = progress_bar(3, "x", verbose=0)
    silent.update()
    silent.close()


def test_bars_of_a_run_report_into_one_display_with_a_whole_run_estimate():
    stream, clock = io.StringIO(), Clock()
    with run_progress(stream, interval=5, clock=clock) as run:
        run.plan(2)
        first = progress_bar(10, "FMEmbedder", unit="clip")
        second = progress_bar(10, "ALMZeroShotScorer", unit="clip")  # concurrent, on another thread in real runs
        assert progress.current_run() is run
        clock.now = 10.0
        first.update(5)
        second.update(5)  # half of both planned passes done in 10 s: 10 s left
        assert "FMEmbedder 5/10 clips, ALMZeroShotScorer 5/10 clips" in run.status()
        assert "run 50% ETA 10s" in run.status()
        first.update(5)
        first.close()
        second.update(5)
        second.close()
    assert progress.current_run() is None
    text = stream.getvalue()
    assert "\r" not in text and "\x1b" not in text  # a log file gets plain lines
    lines = text.splitlines()
    assert all(line.startswith("[") for line in lines)
    assert text.endswith("\n")
    assert any("FMEmbedder: 10/10 clips done" in line for line in lines)


def test_plain_lines_come_at_intervals_not_on_every_update():
    stream, clock = io.StringIO(), Clock()
    with run_progress(stream, interval=5, clock=clock):
        bar = progress_bar(100, "FMEmbedder", unit="clip")
        for _ in range(40):  # 40 updates within 4 s: no new status line
            clock.now += 0.1
            bar.update()
        clock.now += 2  # 6 s after the first line: one more
        bar.update()
        bar.close()
    status = [line for line in stream.getvalue().splitlines() if "encoding:" in line]
    assert len(status) == 2
    assert "41/100 clips" in status[-1]


def test_notes_end_with_a_newline_and_do_not_run_into_the_status_line():
    stream, clock = Terminal(), Clock()
    with run_progress(stream, clock=clock) as run:
        bar = progress_bar(4, "FMEmbedder", unit="clip")
        bar.update(2)
        run.note("fold 1: 12 training clips")
        bar.update(2)
        bar.close()
    text = stream.getvalue()
    # On a terminal the status line is redrawn in place and wiped before every log line.
    logged = [part.strip() for part in text.split("\n") if part.strip()]
    note_line = next(p for p in logged if "fold 1" in p)
    assert note_line.rsplit("\r", 1)[-1].strip().endswith("fold 1: 12 training clips")
    assert "\x1b" not in text
    assert text.endswith("\r") or text.endswith("\n")  # nothing left half-drawn


def test_quiet_run_writes_nothing():
    stream = io.StringIO()
    with run_progress(stream, quiet=True) as run:
        bar = progress_bar(4, "FMEmbedder", unit="clip", verbose=1)
        bar.update(4)
        bar.close()
        run.note("hello")
    assert stream.getvalue() == ""


def test_a_pass_served_from_the_caches_counts_as_done():
    with run_progress(io.StringIO()) as run:
        run.plan(2)
        progress_bar(0, "ALMZeroShotScorer").close()
        assert run.fraction() == pytest.approx(0.5)


def test_worker_threads_report_into_the_run():
    stream = io.StringIO()
    with run_progress(stream, interval=0):
        def work():
            bar = progress_bar(3, "FMEmbedder", unit="clip")
            bar.update(3)
            bar.close()

        t = threading.Thread(target=work)
        t.start()
        t.join()
    assert "FMEmbedder: 3/3 clips done" in stream.getvalue()


def test_quiet_library_bars_restores_their_previous_state():
    hf_logging = pytest.importorskip("transformers.utils.logging")
    from huggingface_hub.utils import are_progress_bars_disabled

    assert hf_logging.is_progress_bar_enabled()
    with quiet_library_bars():
        assert not hf_logging.is_progress_bar_enabled()
        assert are_progress_bars_disabled()
    assert hf_logging.is_progress_bar_enabled() and not are_progress_bars_disabled()
    hf_logging.disable_progress_bar()  # a user who had them off keeps them off
    try:
        with quiet_library_bars():
            pass
        assert not hf_logging.is_progress_bar_enabled() and are_progress_bars_disabled()
    finally:
        hf_logging.enable_progress_bar()


def test_estimators_report_into_an_open_run(sine_clips):
    pytest.importorskip("opensmile")
    from sklearn_zsfuse import FMEmbedder

    clips, rate = sine_clips
    stream = io.StringIO()
    with run_progress(stream, interval=0):
        FMEmbedder("egemaps", sampling_rate=rate, verbose=0).fit_transform(clips)
    text = stream.getvalue()
    assert f"FMEmbedder: {len(clips)}/{len(clips)} clips done" in text
    assert "\r" not in text


def test_warnings_are_written_even_when_quiet():
    stream = Terminal()
    with run_progress(stream, quiet=True) as run:
        run.warning("zsfuse evaluate: UserWarning: 3 clips are digital silence")
    assert stream.getvalue() == "zsfuse evaluate: UserWarning: 3 clips are digital silence\n"


def test_text_stages_are_shown_but_not_counted_as_passes():
    clock = Clock()
    with run_progress(io.StringIO(), clock=clock) as run:
        run.plan(2)
        texts = progress_bar(10, "ALMZeroShotScorer", unit="texts")
        texts.update(10)
        texts.close()
        assert run.fraction() == 0
        audio = progress_bar(4, "ALMZeroShotScorer", unit="clips")
        audio.update(4)
        assert "ALMZeroShotScorer 4/4 clips" in run.status()
        audio.close()
        assert run.fraction() == pytest.approx(0.5)
