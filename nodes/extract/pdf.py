"""PDF with PyMuPDF: text in reading order, headings, tables, metadata and form fields; OCR for scans.

Reading order is our own XY-cut over PyMuPDF's text lines (layout.py), not `get_text(sort=True)` (which
mixes neighbouring columns) nor pymupdf4llm's layout model (the same order on our samples, but 16 s for
the 15-page Federal Register on 2 cores where this takes well under one). Tables: pdf_tables.py.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymupdf

from ..base import NodeInputError
from ..files import PYMUPDF_LOCK
from .layout import reading_order
from .pdf_tables import find_tables, has_rulings
from .result import (
    Extracted,
    ExtractOptions,
    as_markdown_list,
    join_lines,
    markdown_table,
    select_pages,
    table_entry,
    table_text,
)

PORT = "document"
TEXT_FLAGS = pymupdf.TEXTFLAGS_DICT & ~pymupdf.TEXT_PRESERVE_LIGATURES & ~pymupdf.TEXT_PRESERVE_IMAGES
MIN_GUTTER_PT = 3.0
BOLD = 16  # span flag
pymupdf.TOOLS.mupdf_display_errors(False)  # a damaged file would print to stderr; we say it in a warning


@dataclass
class Block:
    bbox: tuple[float, float, float, float]
    text: str  # the block's lines as one paragraph
    size: float = 0.0  # the font size most of its characters use
    bold: bool = False
    lines: int = 1
    rows: list[list[str]] | None = None  # set when the block is a table


@dataclass
class Line:
    bbox: tuple[float, float, float, float]
    text: str
    paragraph: int  # lines of one paragraph share this number
    spans: list[dict]


@dataclass
class Page:
    blocks: list[Block]  # in reading order
    margin: list[str]  # text that is not horizontal (margin stamps), read after the page
    ocr_text: str | None = None


def extract_pdf(path: Path, options: ExtractOptions) -> Extracted:
    with PYMUPDF_LOCK:
        doc = _open(path, options.password)
    try:
        with PYMUPDF_LOCK:
            count = doc.page_count
            chosen = select_pages(options.pages, count, options.limits)
            fields = _fields(doc) if doc.is_form_pdf else {}
            result = Extracted([], [], metadata=_metadata(doc), fields=fields)
            if doc.is_repaired:
                result.warnings.append("The PDF was damaged and has been repaired; some text may be missing.")
        pages, ocr_pages = [], []
        for index in chosen:
            options.check_cancelled()
            with PYMUPDF_LOCK:
                page = doc[index]
                read, needs_ocr = _read_page(page, options, result)
            if needs_ocr:
                engine = options.ocr_engine()  # loads the model on first use: outside the lock
                options.log(f"Reading page {index + 1} with OCR ({engine.name}).")
                with PYMUPDF_LOCK:
                    picture = _render(page, engine.dpi, options)
                read.ocr_text = engine.read(picture)
                ocr_pages.append(index + 1)
            pages.append(read)
    finally:
        with PYMUPDF_LOCK:
            doc.close()
    _write(pages, result)
    result.metadata |= {"page_count": count, "pages_read": [i + 1 for i in chosen], "ocr_pages": ocr_pages}
    return result


def _open(path: Path, password: str) -> pymupdf.Document:
    try:
        doc = pymupdf.open(path, filetype="pdf")
    except (RuntimeError, ValueError):  # FileDataError and EmptyFileError are RuntimeErrors
        raise NodeInputError(PORT, "The PDF is damaged and cannot be opened; upload an intact copy "
                             "(open and save it again, or export it again).") from None
    if doc.needs_pass and not doc.authenticate(password):
        doc.close()
        if not password:
            raise NodeInputError(PORT, "This PDF is protected with a password. Store the password as a "
                                 "secret (Secrets page), choose it in the 'PDF password' setting and run again.")
        raise NodeInputError(PORT, "The PDF password is wrong; check the secret chosen in the 'PDF password' "
                             "setting.")
    if doc.page_count == 0:
        doc.close()
        raise NodeInputError(PORT, "The PDF has no readable pages; it is damaged or cut short. Upload an "
                             "intact copy.")
    return doc


def _read_page(page: pymupdf.Page, options: ExtractOptions, result: Extracted) -> tuple[Page, bool]:
    lines, margin = _lines(page)
    has_text = bool(lines or margin)
    # No text but something drawn: a scan, or text turned into outlines. A blank page is left alone.
    scanned = not has_text and bool(page.get_images() or page.get_cdrawings())
    needs_ocr = options.ocr == "always" or (options.ocr == "auto" and scanned)
    if options.ocr == "never" and scanned:
        result.warnings.append(f"Page {page.number + 1} has no text layer (a scan?) and OCR is off, so it "
                               "gave no text.")
    units: list[Line | Block] = list(lines)
    if options.tables and has_text and has_rulings(page):
        units = _with_tables(page, lines, result)
    order = reading_order([u.bbox for u in units], MIN_GUTTER_PT)
    return Page(_paragraphs([units[i] for i in order]), margin), needs_ocr


def _lines(page: pymupdf.Page) -> tuple[list[Line], list[str]]:
    """The page's horizontal lines, each tagged with its paragraph, and the text of the others."""
    lines, margin = [], []
    for raw in page.get_text("dict", flags=TEXT_FLAGS)["blocks"]:
        horizontal = []
        for line in raw.get("lines", ()):
            text = "".join(span["text"] for span in line["spans"])
            if not text.strip():
                continue
            if abs(line["dir"][1]) > 0.1 or line["dir"][0] < 0:  # vertical or upside down: a margin note
                margin.append(" ".join(text.split()))
            else:
                horizontal.append(line)
        for group in _side_by_side(horizontal):
            paragraph = len(lines)
            lines += [Line(tuple(line["bbox"]), "".join(span["text"] for span in line["spans"]), paragraph,
                           line["spans"]) for line in group]
    return lines, margin


def _side_by_side(lines: list[dict]) -> list[list[dict]]:
    """A block's lines in groups that do not overlap left to right: MuPDF sometimes puts the lines of
    neighbouring columns of a fixed-layout report into one block (pdf_la_precinct_bulletin_table.pdf)."""
    groups: list[list[dict]] = []
    right = float("-inf")
    for line in sorted(lines, key=lambda li: li["bbox"][0]):
        if line["bbox"][0] >= right:
            groups.append([])
        groups[-1].append(line)
        right = max(right, line["bbox"][2]) if line["bbox"][0] < right else line["bbox"][2]
    return [sorted(group, key=lambda li: li["bbox"][1]) for group in groups]


def _paragraphs(units: list[Line | Block]) -> list[Block]:
    """Lines in reading order joined into paragraphs: a run of lines from one MuPDF block is one paragraph."""
    blocks: list[Block] = []
    run: list[Line] = []
    for unit in [*units, None]:
        if run and (not isinstance(unit, Line) or unit.paragraph != run[-1].paragraph):
            blocks.append(_block(run))
            run = []
        if isinstance(unit, Line):
            run.append(unit)
        elif unit is not None:
            blocks.append(unit)
    return blocks


def _block(lines: list[Line]) -> Block:
    sizes: Counter = Counter()
    bold = chars = 0
    for line in lines:
        for span in line.spans:
            count = len(span["text"].strip())
            sizes[round(span["size"], 1)] += count
            chars += count
            bold += count if span["flags"] & BOLD or "bold" in span["font"].lower() else 0
    boxes = [line.bbox for line in lines]
    bbox = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
            max(b[3] for b in boxes))
    text = join_lines([line.text for line in lines])
    return Block(bbox, text, sizes.most_common(1)[0][0], bold >= 0.8 * chars, len(lines))


def _with_tables(page: pymupdf.Page, lines: list[Line], result: Extracted) -> list[Line | Block]:
    """The lines, with those inside a table replaced by the table."""
    units: list[Line | Block] = list(lines)
    try:
        tables = find_tables(page, TEXT_FLAGS)
    except Exception as exc:  # noqa: BLE001  heuristic code that fails on odd pages: keep the text then
        result.warnings.append(f"Tables on page {page.number + 1} could not be read ({type(exc).__name__}); "
                               "its text is kept as paragraphs.")
        return units
    for area, rows in tables:
        inside = pymupdf.Rect(area)
        units = [u for u in units if not inside.contains(_middle(u.bbox))]
        units.append(Block(area, table_text(rows), rows=rows))
        result.tables.append(table_entry(page.number + 1, rows))
    return units


def _middle(box: tuple[float, float, float, float]) -> pymupdf.Point:
    return pymupdf.Point((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)


def _render(page: pymupdf.Page, dpi: int, options: ExtractOptions):
    from PIL import Image

    inches = page.rect.width * page.rect.height / 72 / 72
    dpi = max(36, min(dpi, int((options.limits.max_image_pixels / max(inches, 1e-6)) ** 0.5)))
    pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY, alpha=False)
    return Image.frombytes("L", (pix.width, pix.height), pix.samples)


def _write(pages: list[Page], result: Extracted) -> None:
    """Per-page text and Markdown; headings are blocks set larger (or in bold at body size) than the text."""
    sizes: Counter = Counter()
    for page in pages:
        for b in page.blocks:
            if b.rows is None:
                sizes[b.size] += len(b.text)
    body = sizes.most_common(1)[0][0] if sizes else 0.0
    heading_sizes = sorted({round(b.size) for p in pages for b in p.blocks if _heading(b, body) == "size"},
                           reverse=True)[:5]
    for page in pages:
        if page.ocr_text is not None:
            result.pages.append(page.ocr_text)
            result.markdown_pages.append(page.ocr_text)
            continue
        texts, marks = [], []
        for b in page.blocks:
            texts.append(b.text)
            kind = _heading(b, body)
            if b.rows is not None:
                marks.append(markdown_table(b.rows))
            elif kind:
                ranked = kind == "size" and round(b.size) in heading_sizes
                level = heading_sizes.index(round(b.size)) + 1 if ranked else len(heading_sizes) + 1
                marks.append("#" * min(level, 6) + " " + " ".join(b.text.split()))
            else:
                marks.append(as_markdown_list(b.text))
        texts += page.margin
        marks += page.margin
        result.pages.append("\n\n".join(texts))
        result.markdown_pages.append("\n\n".join(marks))


def _heading(b: Block, body: float) -> str | None:
    """'size' for a short block set larger than the body text, 'bold' for a short bold line at body size."""
    if b.rows is not None or b.lines > 3 or len(b.text) > 200 or not body:
        return None
    if not re.search(r"[^\W\d_]", b.text):  # no letter: a page number
        return None
    if b.size >= body * 1.15 and (b.bold or b.size >= body * 1.4):
        return "size"
    if b.bold and b.size >= body * 0.95 and b.lines == 1 and not b.text.rstrip().endswith((".", ",", ";")):
        return "bold"
    return None


def _metadata(doc: pymupdf.Document) -> dict[str, Any]:
    names = {"title": "title", "author": "author", "subject": "subject", "keywords": "keywords",
             "creator": "creator", "producer": "producer", "creationDate": "created", "modDate": "modified",
             "format": "format"}
    meta = {names[k]: _pdf_date(v) if k.endswith("Date") else v for k, v in (doc.metadata or {}).items()
            if k in names and v}
    # Not doc.needs_pass: after authenticate() MuPDF re-tries the empty password and garbles all text.
    return meta | {"encrypted": bool((doc.metadata or {}).get("encryption"))}


def _pdf_date(value: str) -> str:
    """'D:20220626105843+02'00'' -> '2022-06-26T10:58:43+02:00'; anything else as it is."""
    m = re.match(r"D:(\d{4})(\d\d)?(\d\d)?(\d\d)?(\d\d)?(\d\d)?([Zz]|[+-]\d\d'?\d\d'?)?", value)
    if not m:
        return value
    y, mo, d, h, mi, s, tz = m.groups()
    out = f"{y}-{mo or '01'}-{d or '01'}T{h or '00'}:{mi or '00'}:{s or '00'}"
    if tz:
        out += "Z" if tz in "Zz" else f"{tz[:3]}:{tz.replace(chr(39), '')[3:5] or '00'}"
    return out


def _fields(doc: pymupdf.Document) -> dict[str, Any]:
    """AcroForm field name -> value: text as text, a check box as true/false, a radio group as the chosen
    option (None when none is), a list as the chosen item(s)."""
    fields: dict[str, Any] = {}
    for page in doc:
        for widget in page.widgets():
            name, value = widget.field_name, widget.field_value
            if widget.field_type == pymupdf.PDF_WIDGET_TYPE_CHECKBOX:
                fields[name] = value not in (None, "", "Off", False)
            elif widget.field_type == pymupdf.PDF_WIDGET_TYPE_RADIOBUTTON:
                chosen = value not in (None, "", "Off", False)
                if chosen or name not in fields:
                    fields[name] = widget.on_state() if chosen else None
            else:
                fields[name] = value
    return fields
