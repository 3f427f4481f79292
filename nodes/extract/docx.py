"""DOCX with python-docx: paragraphs with heading levels, tables with merged cells, headers and footers."""

from __future__ import annotations

import re
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from ..base import NodeInputError
from ..files import check_zip
from .result import Extracted, ExtractOptions, clean_rows, markdown_table, table_entry, table_text

PORT = "document"
_HEADING = re.compile(r"^(heading|título|titulo|titre|überschrift|kop)\s*([1-9])$", re.IGNORECASE)


def extract_docx(path: Path, options: ExtractOptions) -> Extracted:
    check_zip(path, PORT, options.limits)  # before python-docx unpacks a byte of it
    import docx
    from lxml.etree import XMLSyntaxError

    try:
        document = docx.Document(str(path))
    except (KeyError, ValueError, zipfile.BadZipFile, XMLSyntaxError) as exc:
        raise NodeInputError(PORT, f"The Word document is damaged and cannot be read ({type(exc).__name__}); "
                             "open it in Word or LibreOffice and save it again.") from None
    texts, marks, tables = [], [], []
    for item in document.iter_inner_content():
        if hasattr(item, "rows"):  # a Table
            rows = clean_rows(table_rows(item))
            if rows:
                texts.append(table_text(rows))
                marks.append(markdown_table(rows))
                tables.append(table_entry(1, rows))
        elif item.text.strip():
            level = heading_level(item)
            texts.append(item.text.strip())
            marks.append(("#" * level + " " if level else "- " if _is_list(item) else "") + item.text.strip())
    headers, footers = _headers_and_footers(document)
    text = "\n\n".join(headers + texts + footers)
    markdown = "\n\n".join(headers + marks + footers)
    metadata = _core_properties(document) | {"headers": headers, "footers": footers}
    return Extracted([text], [markdown], tables=tables, metadata=metadata, fields=_content_controls(document))


def heading_level(paragraph: Any) -> int:
    """1-6 for a heading (its style, or an outline level set on it); 0 for body text."""
    style = paragraph.style
    while style is not None:
        if style.name == "Title":
            return 1
        match = _HEADING.match(style.name or "")
        if match:
            return min(int(match.group(2)), 6)
        outline = style.element.find(f"{_w('pPr')}/{_w('outlineLvl')}")
        if outline is not None and (outline.get(_w("val")) or "9").isdigit():
            level = int(outline.get(_w("val")) or "9")  # 0-8; 9 means body text
            return min(level + 1, 6) if level < 9 else 0
        style = style.base_style
    return 0


def _is_list(paragraph: Any) -> bool:
    numbered = paragraph._p.find(".//{*}numPr") is not None
    return numbered or (paragraph.style is not None and (paragraph.style.name or "").startswith("List"))


def table_rows(table: Any) -> list[list[str]]:
    """The table as a grid, read from the XML: a cell merged across columns (gridSpan) or down rows
    (vMerge) gives its text once, in its first grid position, and empty strings in the others."""
    from docx.table import _Cell

    rows = []
    for tr in table._tbl.tr_lst:
        row: list[str] = []
        for tc in tr.tc_lst:
            continued = tc.vMerge == "continue"
            row.append("" if continued else _Cell(tc, table).text.strip())
            row += [""] * (tc.grid_span - 1)
        rows.append(row)
    return rows


def _headers_and_footers(document: Any) -> tuple[list[str], list[str]]:
    headers: list[str] = []
    footers: list[str] = []
    for section in document.sections:
        kinds = [("header", section.header), ("footer", section.footer)]
        if section.different_first_page_header_footer:
            kinds += [("header", section.first_page_header), ("footer", section.first_page_footer)]
        if document.settings.odd_and_even_pages_header_footer:
            kinds += [("header", section.even_page_header), ("footer", section.even_page_footer)]
        for kind, part in kinds:
            if part.is_linked_to_previous:
                continue
            text = "\n".join(p.text.strip() for p in part.paragraphs if p.text.strip())
            text = "\n".join([text] + [table_text(clean_rows(table_rows(t))) for t in part.tables]).strip()
            target = headers if kind == "header" else footers
            if text and text not in target:
                target.append(text)
    return headers, footers


def _core_properties(document: Any) -> dict[str, Any]:
    props = document.core_properties
    names = ["title", "author", "subject", "keywords", "category", "comments", "last_modified_by", "created",
             "modified", "language", "revision"]
    out = {}
    for name in names:
        value = getattr(props, name, None)
        if value not in (None, "", 0):
            out[name] = value.isoformat() if isinstance(value, datetime) else value
    return out


def _content_controls(document: Any) -> dict[str, str]:
    """Word content controls (the fillable boxes of Word forms): tag or title -> the text inside."""
    fields = {}
    for sdt in document.element.body.iter(_w("sdt")):
        props = sdt.find(_w("sdtPr"))
        if props is None:
            continue
        names = [el.get(_w("val")) for el in (props.find(_w("tag")), props.find(_w("alias")))
                 if el is not None]
        if not any(names):
            continue
        content = sdt.find(_w("sdtContent"))
        empty = content is None or props.find(_w("showingPlcHdr")) is not None  # a placeholder is no answer
        value = "" if empty else "".join(t.text or "" for t in content.iter(_w("t")))
        fields[next(n for n in names if n)] = value
    return fields


def _w(tag: str) -> str:
    return "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}" + tag
