"""table.md escapes what a corpus's labels and names may hold (issue 17, item 12).

Label text went into table.md raw: a ``|`` added a column, a newline ended the table,
and ``<script>`` went through to any Markdown viewer that renders HTML. report.html
already escaped them; table.md now does too.
"""

from __future__ import annotations

import numpy as np
import pytest

from sklearn_zsfuse.evaluation import Grid, run_study
from sklearn_zsfuse.evaluation.tables import markdown_table
from sklearn_zsfuse.reporting.files import write_report
from test_evaluation_study import two_by_two

HOSTILE = ["a|b", "two\nlines", "<script>alert(1)</script>"]


def _cells(line: str) -> list[str]:
    """The cells of one Markdown table row, splitting on unescaped pipes."""
    cells, cell, i = [], "", 1
    while i < len(line):
        if line[i] == "\\" and i + 1 < len(line):
            cell += line[i : i + 2]
            i += 2
            continue
        if line[i] == "|":
            cells.append(cell)
            cell = ""
        else:
            cell += line[i]
        i += 1
    return cells


def test_markdown_table_escapes_pipes_newlines_and_html():
    text = markdown_table(["label", "recall"], [[h, "50.0"] for h in HOSTILE] + [["back\\slash|", "1"]])
    lines = text.splitlines()
    assert len(lines) == 2 + len(HOSTILE) + 1  # a newline in a cell does not end the table
    assert all(len(_cells(line)) == 2 for line in lines if not line.startswith("|---")), lines
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "a\\|b" in text and "back\\\\slash\\|" in text


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    pytest.importorskip("matplotlib")
    features, labels, folds, speakers = two_by_two()
    relabel = {"a": HOSTILE[0], "b": HOSTILE[2]}
    labels = np.array([relabel[v] for v in labels], dtype=object)
    study = run_study(features, labels, folds, speakers, grid=Grid(audio_repeats=(1,), text_repeats=(1,)),
                      dataset="toy | <b>corpus</b>\nname")
    return write_report(study, tmp_path_factory.mktemp("report"), plots=False)


def test_table_md_of_a_corpus_with_hostile_labels(report):
    markdown = report["table"].read_text(encoding="utf-8")
    assert "<script>" not in markdown and "<b>" not in markdown
    tables = [block for block in markdown.split("\n\n") if block.startswith("|")]
    assert tables
    for block in tables:
        rows = [r for r in block.splitlines() if not r.startswith("|---")]
        widths = {len(_cells(r)) for r in rows}
        assert len(widths) == 1, block  # every row has the header's number of cells
    assert markdown.splitlines()[0].startswith("# toy \\| &lt;b&gt;corpus&lt;/b&gt; name")
    html = report["html"].read_text(encoding="utf-8")
    assert "<script>alert" not in html  # as before
