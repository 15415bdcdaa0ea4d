"""report.html: the whole evaluation on one self-contained page.

The same sections as ``table.md`` (:func:`sklearn_zsfuse.reporting.sections.sections`), the
plots embedded as base64 PNG, and the run's configuration. No script, no
external stylesheet, font or image: the file opens the same offline, attached
to an e-mail or in a browser's print-to-PDF.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from types import MappingProxyType

from .sections import report_title, sections

__all__ = ["html_document"]

_CSS = """
body { font-family: "Latin Modern Roman", "Computer Modern", Georgia, "Times New Roman", serif;
       color: #111; background: #fff; margin: 2rem auto; max-width: 62rem; padding: 0 1.5rem; line-height: 1.4; }
h1 { font-size: 1.55rem; margin-bottom: 0.3rem; }
h2 { font-size: 1.2rem; margin-top: 2.2rem; border-bottom: 1px solid #999; padding-bottom: 0.15rem; }
h3 { font-size: 1.0rem; margin: 1.4rem 0 0.4rem; font-style: italic; font-weight: normal; }
ul.facts { padding-left: 1.2rem; margin: 0.4rem 0; }
ul.facts li { margin: 0.1rem 0; }
table { border-collapse: collapse; margin: 0.4rem 0 0.8rem; font-size: 0.92rem;
        border-top: 2px solid #111; border-bottom: 2px solid #111; font-variant-numeric: tabular-nums; }
thead th { border-bottom: 1px solid #111; font-weight: 600; }
th, td { padding: 0.22rem 0.8rem; text-align: left; white-space: nowrap; vertical-align: baseline; }
tbody th { font-weight: normal; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.85rem; }
td.num, th.num { text-align: right; }
tbody tr:nth-child(even) { background: #f4f4f4; }
.scroll { overflow-x: auto; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(27rem, 1fr)); gap: 1.2rem 1.6rem;
         align-items: start; }
figure { margin: 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 0.85rem; color: #333; margin-top: 0.2rem; }
p.note { font-size: 0.85rem; color: #333; max-width: 52rem; }
table.config { font-size: 0.8rem; width: 100%; table-layout: fixed; }
table.config th { width: 11rem; }
table.config td { white-space: normal; overflow-wrap: anywhere; }
table.config code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
"""

_CAPTIONS = MappingProxyType({
    "confusion": "Confusion matrix of the best system (rows: true class, share of its clips; counts in brackets).",
    "weight": "UA against the fusion weight: inner CV on the training folds (what chose w) and the test folds "
              "(diagnostic only).",
    "amplification": "Zero-shot (prompt ensemble) UA over audio and text repeats; boxes: the inner-CV choices.",
    "reliability": "Reliability of the zero-shot probabilities before and after temperature scaling.",
    "layers": "UA against the specialist's layer.",
    "scatter": "Predicted against rated, per dimension: the best system of each dimension's first table, test clips "
               "of every fold pooled; the diagonal is perfect agreement.",
})


def _image(kind: str, path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    caption = html.escape(_CAPTIONS.get(kind, kind))
    return (f'<figure><img alt="{html.escape(kind)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{caption}</figcaption></figure>")


def _compact(value) -> str:
    """A setting on one line: strings as they are, everything else as compact JSON."""
    return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)


def html_document(study, plots: dict, parts=None, title=None) -> str:
    """The page for ``study`` (a Study), with ``plots`` ({kind: PNG path}) embedded.

    ``parts`` and ``title``: the report's sections and title where they are not a
    categorical Study's (:func:`~.sections.sections`, :func:`~.sections.report_title`).
    """
    from ..evaluation.tables import html_table

    e = html.escape
    page_title = report_title(study) if title is None else title
    body = [f"<h1>{e(page_title)}</h1>"]
    for level, title, kind, payload in (sections(study) if parts is None else parts):
        body.append(f"<h{level}>{e(title)}</h{level}>")
        if kind == "facts":
            body.append('<ul class="facts">' + "".join(f"<li>{e(f)}</li>" for f in payload) + "</ul>")
        elif kind == "table":
            body.append(f'<div class="scroll">{html_table(*payload)}</div>')
        else:
            body.append(f'<p class="note">{e(payload)}</p>')
    if plots:
        body.append("<h2>Plots</h2>")
        first = next(iter(study.pairs), None)
        if first is not None and len(study.pairs) > 1:
            body.append(f'<p class="note">Plots of the first pair, {e(" + ".join(first))}; the tables above give '
                        "every pair.</p>")
        body.append('<div class="plots">' + "".join(_image(kind, path) for kind, path in plots.items()) + "</div>")
    body.append("<h2>Configuration</h2>")
    body.append('<p class="note">The run\'s settings, as in <code>results.json</code> (<code>config</code>).</p>')
    rows = "".join(f"<tr><th>{e(str(key))}</th><td><code>{e(_compact(value))}</code></td></tr>"
                   for key, value in study.config.items())
    body.append(f'<table class="config"><tbody>{rows}</tbody></table>')
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{e(page_title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")
