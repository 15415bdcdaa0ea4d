"""report.html: one self-contained page, rendered by a real headless browser where one is installed."""

import re
import shutil
import subprocess

import numpy as np
import pytest

from sklearn_zsfuse.evaluation import Grid, run_study
from sklearn_zsfuse.reporting.files import write_report
from sklearn_zsfuse.reporting.sections import display_names

from test_evaluation_study import two_by_two

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    pytest.importorskip("matplotlib")
    features, labels, folds, speakers = two_by_two()
    study = run_study(features, labels, folds, speakers, grid=Grid(audio_repeats=(1, 2), text_repeats=(1,)),
                      dataset="toy corpus")
    out = tmp_path_factory.mktemp("report")
    return write_report(study, out), study


def test_the_page_is_self_contained_and_holds_every_table_and_plot(report):
    written, study = report
    page = written["html"].read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<title>toy corpus: speaker-independent evaluation</title>" in page
    # Nothing is fetched: no scripts, no external stylesheets, images or fonts.
    assert "<script" not in page and "<link" not in page
    assert not re.search(r"""(src|href)=["'](?!data:)""", page)
    assert not re.search(r"url\((?!data:)", page)
    markdown = written["table"].read_text(encoding="utf-8")
    assert page.count("<table>") == markdown.count("\n|---")
    assert page.count('src="data:image/png;base64,') == len([k for k in written if k.endswith("png") or k in (
        "confusion", "weight", "amplification", "reliability", "layers")])
    for text in ("Summary: zs_fuse UA (%), ALM x specialist", "clap-a + fm-good", "Per-class recall", "McNemar p",
                 "ECE before", "zs_fuse+concat", "Configuration"):
        assert text in page, text


def test_display_names_shorten_directories_only_when_unambiguous():
    assert display_names(["/m/clap0", "egemaps", "/x/wavlm/"]) == {"/m/clap0": "clap0", "egemaps": "egemaps",
                                                                   "/x/wavlm/": "wavlm"}
    both = display_names(["/a/model", "/b/model"])
    assert both == {"/a/model": "/a/model", "/b/model": "/b/model"}


def _browser():
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip(f"no headless browser installed (looked for {', '.join(BROWSERS)})")


def test_the_page_renders_in_a_headless_browser(report, tmp_path):
    browser = _browser()
    written, _ = report
    url = written["html"].resolve().as_uri()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'p'}"]
    dom = subprocess.run([browser, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    # The browser parsed every table and image: the rendered DOM holds them.
    assert dom.stdout.count("<table>") == written["html"].read_text().count("<table>") > 0
    assert dom.stdout.count("<img") >= 3
    shot = tmp_path / "report.png"
    run = subprocess.run([browser, *flags, "--window-size=1280,2400", f"--screenshot={shot}", url],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[:2] == (2400, 1280)
    assert np.std(pixels[..., :3]) > 0.05  # not a blank page
