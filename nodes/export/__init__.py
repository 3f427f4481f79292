"""Conversion helpers for doc.export and doc.merge_pdf: pandoc (sandboxed) and the two PDF routes."""

from __future__ import annotations

from pathlib import Path

from ..files import Limits, check_zip, expect_kind
from .pandoc import READERS

ZIPPED = frozenset({"docx", "odt", "epub"})
MEDIA_TYPES = {"pdf": "application/pdf", "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml"
               ".document", "odt": "application/vnd.oasis.opendocument.text", "html": "text/html",
               "md": "text/markdown", "txt": "text/plain", "epub": "application/epub+zip"}


def check_source(path: Path, port: str, limits: Limits, what: str, also: frozenset[str] = frozenset()) -> str:
    """The sniffed kind of a document to convert (pandoc's inputs, PDF, and `also`), checked for zip bombs."""
    kind = expect_kind(path, port, set(READERS) | {"pdf"} | also, what)
    if kind in ZIPPED:
        check_zip(path, port, limits)
    return kind
