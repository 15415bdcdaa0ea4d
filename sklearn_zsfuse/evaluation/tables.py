"""Tables as (header, rows) of strings, rendered as markdown or HTML from the same cells."""

from __future__ import annotations

import html

__all__ = ["html_table", "markdown_cell", "markdown_table", "markdown_text"]


def markdown_text(value) -> str:
    """``value`` as one line of Markdown text: HTML characters as entities, line breaks as spaces.

    Labels and corpus names come from files someone else may have written: raw HTML
    would render (``<script>``) in viewers that allow it, and a newline would end a
    table or heading.
    """
    text = html.escape(str(value), quote=False)
    return " ".join(text.splitlines()) if ("\n" in text or "\r" in text) else text


def markdown_cell(value) -> str:
    """:func:`markdown_text` with ``|`` (and the backslash that could cancel its escape) escaped."""
    return markdown_text(value).replace("\\", "\\\\").replace("|", "\\|")


def markdown_table(header: list, rows: list) -> str:
    if not header:
        return ""
    lines = ["| " + " | ".join(map(markdown_cell, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(markdown_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def html_table(header: list, rows: list, caption: str | None = None) -> str:
    """A ``<table>``: first column as row headers, numbers right-aligned (class ``num``)."""
    if not header:
        return ""

    def cell(tag, value, first):
        text = str(value)
        numeric = not first and text[:1] in "+-−0123456789[—<" and any(ch.isdigit() for ch in text) or text == "—"
        cls = ' class="num"' if numeric else ""
        return f"<{tag}{cls}>{html.escape(text)}</{tag}>"

    parts = ["<table>"]
    if caption:
        parts.append(f"<caption>{html.escape(caption)}</caption>")
    parts.append("<thead><tr>" + "".join(cell("th", h, i == 0) for i, h in enumerate(header)) + "</tr></thead>")
    parts.append("<tbody>")
    for row in rows:
        parts.append("<tr>" + "".join(cell("th" if i == 0 else "td", v, i == 0) for i, v in enumerate(row)) + "</tr>")
    parts.append("</tbody></table>")
    return "\n".join(parts)
