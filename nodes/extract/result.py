"""What every reader hands back, what it is asked for, and the small text helpers they share."""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..base import NodeError
from ..files import Limits


@dataclass
class Extracted:
    """A document's content: one text and one Markdown string per page (one page for unpaged formats)."""

    pages: list[str]
    markdown_pages: list[str]
    tables: list[dict[str, Any]] = field(default_factory=list)  # {page, rows, markdown}
    metadata: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass
class ExtractOptions:
    ocr: str  # auto | always | never
    ocr_engine: Callable[[], Any]  # returns an ocr.OcrEngine; called only when a page needs OCR
    password: str
    pages: list[int] | None  # 1-based page numbers, or None for all
    tables: bool
    limits: Limits
    log: Callable[[str], None] = lambda message: None  # the run log (ctx.log)
    check_cancelled: Callable[[], None] = lambda: None  # raises when the run was cancelled (ctx.check_cancelled)


_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_-]+)""", re.IGNORECASE)


def decode_text(data: bytes) -> str:
    """Bytes to text: a byte-order mark or an HTML charset wins, then UTF-8, then Windows-1252 (which
    accepts any byte, so an old Latin-1 file still reads)."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    declared = _CHARSET.search(data[:4096])
    if declared:
        try:
            return data.decode(declared.group(1).decode("ascii"), errors="replace")
        except LookupError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


PAGES_PATTERN = r"^\s*(\d+\s*(-\s*\d+\s*)?)(,\s*\d+\s*(-\s*\d+\s*)?)*$"


def parse_pages(spec: str) -> list[int] | None:
    """'1-3, 5' -> [1, 2, 3, 5]; '' -> None (all pages). The spec is checked by PAGES_PATTERN first."""
    if not spec.strip():
        return None
    numbers: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.partition("-")
        start, end = int(first), int(last or first)
        if start < 1 or end < start:
            raise ValueError(f"'{part.strip()}' is not a page range; write e.g. 1-3 (pages count from 1)")
        if end - start > 1_000_000:
            raise ValueError(f"'{part.strip()}' is too long a range")
        numbers.update(range(start, end + 1))
    return sorted(numbers)


def select_pages(wanted: list[int] | None, count: int, limits: Limits, unit: str = "page") -> list[int]:
    """The 0-based page indexes to read, or a NodeError naming the setting to change."""
    if wanted is not None:
        beyond = [n for n in wanted if n > count]
        if beyond:
            raise NodeError(f"The document has {count} {unit}(s), but the 'Pages' setting asks for {unit} "
                            f"{beyond[0]}; change the setting.", code="bad_config")
    chosen = [n - 1 for n in wanted] if wanted is not None else list(range(count))
    if len(chosen) > limits.max_pages:
        raise NodeError(f"The document has {len(chosen)} {unit}s to read, more than the limit of "
                        f"{limits.max_pages}; choose fewer with the 'Pages' setting.", code="too_many_pages")
    return chosen


_LEADER = re.compile(r"\.{4,}")
_BULLET = re.compile(r"^\s*[•◦▪‣·●]\s*")


def join_lines(lines: list[str]) -> str:
    """The lines of one paragraph as one line: words split by a hyphen at a line end are mended
    ('adip-' + 'iscing' -> 'adipiscing'), other dashes are kept ('737–' + '9' -> '737–9', 'FAA-' +
    'approved' -> 'FAA-approved'),
    and a bullet starts a new line."""
    out = ""
    for line in (raw.strip() for raw in lines):
        if not line:
            continue
        if not out:
            out = line
        elif _BULLET.match(line):
            out += "\n" + line
        elif out.endswith("-") and out[-2:-1].islower() and line[0].islower():
            out = out[:-1] + line
        elif out.endswith(("-", "–", "/")) and not out.endswith((" -", " –")):
            out += line
        else:
            out += " " + line
    return out


def as_markdown_list(paragraph: str) -> str:
    return "\n".join(_BULLET.sub("- ", line) for line in paragraph.split("\n"))


def clean_rows(rows: list[list[Any]]) -> list[list[str]]:
    """Cells as tidy strings without dot leaders; rows and columns empty everywhere are dropped."""
    rows = [[_cell(cell) for cell in row] for row in rows]
    rows = [row for row in rows if any(row)]
    if not rows:
        return []
    width = max(len(row) for row in rows)
    rows = [row + [""] * (width - len(row)) for row in rows]
    keep = [j for j in range(width) if any(row[j] for row in rows)]
    return [[row[j] for j in keep] for row in rows]


def _cell(value: Any) -> str:
    lines = _LEADER.sub(" ", "" if value is None else str(value)).splitlines()
    return "\n".join(" ".join(line.split()) for line in lines if line.strip())


def markdown_table(rows: list[list[str]]) -> str:
    """A GitHub-style pipe table; the first row is the header (Markdown tables need one)."""
    if not rows:
        return ""

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

    return "\n".join([line(rows[0]), "| " + " | ".join("---" for _ in rows[0]) + " |", *map(line, rows[1:])])


def table_text(rows: list[list[str]]) -> str:
    """A table in plain text: one row a line, cells separated by tabs."""
    return "\n".join("\t".join(c.replace("\n", " ") for c in row) for row in rows)


def table_entry(page: int, rows: list[list[str]]) -> dict[str, Any]:
    return {"page": page, "rows": rows, "markdown": markdown_table(rows)}
