"""One progress display for a whole run; plain lines in log files; library bars quieted and restored."""

import io
import re
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


def test_bars_of_a_run_report_into_one_display_with_an_estimate_for_every_pass():
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
        # the estimate is the encoding's, every planned pass (issue 18: it was called "run")
        assert "encoding 50% ETA 10s" in run.status()
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


def test_the_encoding_estimate_waits_for_the_slowest_concurrent_pass():
    """Issue 18: "run 99% ETA 2s", then minutes: the average over passes hid a slow one."""
    clock = Clock()
    with run_progress(io.StringIO(), clock=clock) as run:
        run.plan(7)
        fast = [progress_bar(100, "ALMZeroShotScorer", unit="clips") for _ in range(6)]
        slow = progress_bar(100, "FMEmbedder", unit="clips")
        clock.now = 60.0
        for bar in fast:
            bar.update(100)
            bar.close()
        slow.update(40)  # 40 clips a minute: 90 s left, whatever the other passes did
        assert run.fraction() == pytest.approx(6.4 / 7)
        assert "ETA 1m30s" in run.status()


def test_a_phase_after_the_encoding_counts_its_own_units_with_its_own_estimate():
    stream, clock = io.StringIO(), Clock()
    with run_progress(stream, interval=5, clock=clock) as run:
        run.plan(1)
        bar = progress_bar(10, "FMEmbedder", unit="clips")
        clock.now = 100.0
        bar.update(10)
        bar.close()
        steps = progress.phase("selection", 4, unit="step")
        steps.describe("fold 1/2: tiny-clap + egemaps, zs_fuse")
        inner = progress_bar(5, "inner CV", unit="split", detail=True)
        clock.now = 110.0
        inner.update(2)  # 2 of the first step's 5 splits in 10 s
        status = run.status()
        assert status.startswith("[  110.0s] selection: 0/4 steps (fold 1/2: tiny-clap + egemaps, zs_fuse), "
                                 "inner CV 2/5 splits")
        assert "selection 10% ETA 1m30s" in status  # 0.4 of 4 steps in 10 s; not the encoding's 100%
        inner.update(3)
        inner.close()
        steps.update()
        clock.now = 120.0
        for _ in range(3):
            steps.update()
        steps.close()
    text = stream.getvalue()
    assert "inner CV:" not in text  # a detail has no line of its own
    assert "selection: 4/4 steps done in 20s" in text
    assert "\r" not in text


def test_a_phase_shows_in_a_log_file_at_intervals_while_its_units_run():
    stream, clock = io.StringIO(), Clock()
    with run_progress(stream, interval=10, clock=clock):
        steps = progress.phase("selection", 6, unit="step")
        for k in range(6):
            inner = progress_bar(5, "inner CV", unit="split", detail=True)
            for _ in range(5):
                clock.now += 1.0  # 5 s a step, 30 s in all: a line every 10 s
                inner.update()
            inner.close()
            steps.update()
        steps.close()
    lines = [line for line in stream.getvalue().splitlines() if "| selection" in line]
    assert 3 <= len(lines) <= 5, lines
    assert all("ETA" in line for line in lines)


def test_a_detail_bar_outside_any_phase_is_not_a_pass():
    with run_progress(io.StringIO()) as run:
        run.plan(1)
        inner = progress_bar(5, "inner CV", unit="split", detail=True)
        inner.update(5)
        inner.close()
        assert run.fraction() == 0


def test_phase_without_a_run_is_silent():
    steps = progress.phase("selection", 3)
    steps.describe("fold 1")
    steps.update()
    steps.close()


def test_the_protocols_selection_reports_every_fold_and_fusion_with_an_estimate():
    """Issue 18: 22 minutes of selection showed one "fold k" line every ~220 s and no estimate."""
    from sklearn_zsfuse.evaluation.features import FeatureSet, Features
    from sklearn_zsfuse.evaluation.grid import Grid
    from sklearn_zsfuse.evaluation.protocol import run_study

    rng = np.random.default_rng(0)
    classes = np.array(["angry", "happy", "sad"])
    y = classes[rng.integers(0, 3, 90)]
    speakers = np.repeat(np.arange(9), 10)
    zs = rng.normal(size=(90, 3))
    features = Features(embeddings=rng.normal(size=(90, 6)), zero_shot=zs, ensemble={(1, 1): zs})
    clock = Clock()

    class Watch(io.StringIO):
        def write(self, text):
            clock.now += 1.0  # every write a second later: the estimate has a rate to go by
            return super().write(text)

    stream = Watch()
    with run_progress(stream, interval=0, clock=clock):
        run_study(FeatureSet.from_features(features, "clap", "egemaps"), y, speakers % 3, speakers,
                  classes=classes, grid=Grid(audio_repeats=(1,), text_repeats=(1,), weights=(0, 1)))
    text = stream.getvalue()
    # 3 folds x (the ALM, the specialist, 3 fusion rows) = 15 steps
    assert "selection: 0/15 steps" in text
    assert "(fold 2/3: clap + egemaps, zs_fuse+concat)" in text
    assert "inner CV 1/2 splits" in text
    status = [line for line in text.splitlines() if "| selection" in line]
    assert len(status) > 15  # a line for every step and inner split (interval=0)
    later = [line for line in status if "selection: 0/15" not in line]
    assert later and all(re.search(r"\| selection \d+% ETA \d", line) for line in later), later
    assert "selection: 15/15 steps done in" in text
