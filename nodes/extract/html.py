"""HTML with lxml (already installed by python-docx): text, Markdown, headings, lists and tables.

Scripts, styles and other invisible parts are dropped. Markdown input is rendered to HTML first
(text.py), so both share this walker.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..base import NodeInputError
from .result import (
    Extracted,
    ExtractOptions,
    clean_rows,
    decode_text,
    markdown_table,
    table_entry,
    table_text,
)

PORT = "document"
SKIP = {"script", "style", "noscript", "template", "head", "title", "svg", "math", "iframe", "object",
        "canvas", "select", "button", "map"}
BLOCK = {"p", "div", "section", "article", "header", "footer", "main", "aside", "nav", "blockquote", "dd",
         "dt", "figure", "figcaption", "address", "form", "fieldset", "details", "summary", "center", "dl",
         "hr", "body", "html"}
HEADINGS = {f"h{n}": n for n in range(1, 7)}


def extract_html(path: Path, options: ExtractOptions) -> Extracted:
    return html_to_result(decode_text(path.read_bytes()))


def html_to_result(html: str, markdown_source: str | None = None) -> Extracted:
    """Text, Markdown (the source itself when given) and tables of an HTML string."""
    import lxml.html
    from lxml.etree import ParserError

    html = re.sub(r"^\s*<\?xml[^>]*>", "", html)  # lxml refuses a str that declares its own encoding
    try:
        root = lxml.html.document_fromstring(html) if html.strip() else None
    except (ParserError, ValueError):
        root = None
    walker = _Walker()
    try:
        if root is not None:
            walker.walk(root)
    except RecursionError:
        raise NodeInputError(PORT, "The HTML is nested too deeply to read; it may be machine-made junk.") \
            from None
    walker.flush()
    title = root.findtext(".//title") if root is not None else None
    metadata: dict[str, Any] = {"title": " ".join(title.split())} if title and title.strip() else {}
    if root is not None:
        for meta in root.iterfind(".//meta[@name]"):
            name, content = meta.get("name", "").lower(), meta.get("content", "")
            if name in ("author", "description", "keywords", "generator") and content.strip():
                metadata[name] = content.strip()
        if root.get("lang"):
            metadata["language"] = root.get("lang")
    text = "\n\n".join(walker.texts)
    markdown = markdown_source if markdown_source is not None else "\n\n".join(walker.marks)
    return Extracted([text], [markdown], tables=walker.tables, metadata=metadata)


class _Walker:
    """Turns the element tree into paragraphs: one list for plain text, one for Markdown."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.marks: list[str] = []
        self.tables: list[dict[str, Any]] = []
        self._text: list[str] = []
        self._mark: list[str] = []
        self._lists: list[str] = []  # ul/ol nesting
        self._prefix = ""  # the marker of the list item whose text comes next

    def walk(self, el: Any) -> None:
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if tag in SKIP or not isinstance(el.tag, str):  # comments and processing instructions have no str tag
            self._tail(el)
            return
        if tag in HEADINGS:
            self.flush()
            words = " ".join(el.text_content().split())
            if words:
                self.texts.append(words)
                self.marks.append("#" * HEADINGS[tag] + " " + words)
        elif tag == "table":
            self.flush()
            self._table(el)
        elif tag == "img":
            pass
        elif tag == "pre":
            self.flush()
            code = el.text_content().strip("\n")
            if code.strip():
                self.texts.append(code)
                self.marks.append(f"```\n{code}\n```")
        elif tag == "br":
            self._add("\n", "\n")
        elif tag in ("ul", "ol"):
            self.flush()
            self._lists.append(tag)
            self._children(el)
            self.flush()
            self._lists.pop()
        elif tag == "li":
            self.flush()
            marker = "1." if self._lists and self._lists[-1] == "ol" else "-"
            self._prefix = "  " * max(len(self._lists) - 1, 0) + marker + " "
            self._children(el)
            self.flush()
        elif tag in BLOCK:
            self.flush()
            self._children(el)
            self.flush()
        elif tag == "a" and el.get("href", "").startswith(("http://", "https://", "mailto:")):
            words = " ".join(el.text_content().split())
            self._add(words, f"[{words}]({el.get('href')})" if words else "")
        else:  # inline elements; an image's alt text is left out, as a reader of the page would not see it
            self._children(el)
        self._tail(el)

    def _children(self, el: Any) -> None:
        if el.text:
            self._add(el.text, el.text)
        for child in el:
            self.walk(child)

    def _tail(self, el: Any) -> None:
        if el.tail:
            self._add(el.tail, el.tail)

    def _add(self, text: str, mark: str) -> None:
        self._text.append(text)
        self._mark.append(mark)

    def flush(self) -> None:
        text = _squash("".join(self._text))
        if text:
            self.texts.append(text)
            self.marks.append(self._prefix + _squash("".join(self._mark)))
            self._prefix = ""
        self._text, self._mark = [], []

    def _table(self, table: Any) -> None:
        rows: list[list[str]] = []
        carried: dict[int, int] = {}  # column -> rows still covered by a rowspan above
        for tr in table.iter("tr"):
            if tr.getparent() is not None and _nearest_table(tr) is not table:
                continue  # a row of a table nested in a cell
            row: list[str] = []
            for cell in tr:
                if not isinstance(cell.tag, str) or cell.tag.lower() not in ("td", "th"):
                    continue
                while carried.get(len(row), 0) > 0:
                    carried[len(row)] -= 1
                    row.append("")
                row.append(" ".join(cell.text_content().split()))
                span = _int(cell.get("colspan"))
                rowspan = _int(cell.get("rowspan"))
                for extra in range(span):
                    if extra:
                        row.append("")
                    if rowspan > 1:
                        carried[len(row) - 1] = rowspan - 1
            rows.append(row)
        caption = table.find("caption")
        rows = clean_rows(rows)
        if caption is not None and caption.text_content().strip():
            self.texts.append(" ".join(caption.text_content().split()))
            self.marks.append(self.texts[-1])
        if rows:
            self.texts.append(table_text(rows))
            self.marks.append(markdown_table(rows))
            self.tables.append(table_entry(1, rows))


def _nearest_table(el: Any) -> Any:
    parent = el.getparent()
    while parent is not None and parent.tag != "table":
        parent = parent.getparent()
    return parent


def _int(value: str | None) -> int:
    return max(1, min(int(value), 1000)) if value and value.strip().isdigit() else 1


def _squash(text: str) -> str:
    """Runs of spaces as one, line breaks from <br> kept, no blank lines."""
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return "\n".join(line for line in lines if line)
