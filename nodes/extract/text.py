"""Plain text as it is, and Markdown: its source, and its text and tables through its HTML rendering."""

from __future__ import annotations

from pathlib import Path

from .html import html_to_result
from .result import Extracted, ExtractOptions, decode_text

MARKDOWN_NAMES = (".md", ".markdown", ".mdown", ".mkd")


def is_markdown(name: str, media_type: str) -> bool:
    """Markdown looks like plain text to a content check, so the name or media type decides."""
    return name.lower().endswith(MARKDOWN_NAMES) or media_type in ("text/markdown", "text/x-markdown")


def extract_text(path: Path, options: ExtractOptions) -> Extracted:
    text = decode_text(path.read_bytes()).replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    return Extracted([text], [text])


def extract_markdown(path: Path, options: ExtractOptions) -> Extracted:
    """The source is the Markdown output; the text and tables come from rendering it (CommonMark + tables)."""
    from markdown_it import MarkdownIt

    source = decode_text(path.read_bytes()).replace("\r\n", "\n").strip("\n")
    return html_to_result(MarkdownIt("commonmark", {"html": False}).enable("table").render(source), source)
