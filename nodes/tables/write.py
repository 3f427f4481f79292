"""Rows out as CSV or XLSX, with text that a spreadsheet would run as a formula defused."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import Any

from ..base import NodeInputError
from . import DELIMITERS
from .columns import as_text, parse_text

_RISKY_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-][\d\s.,]*\d[\d\s.,]*")  # "-12,50" or "+34 600 111 222": no formula inside


def defuse(text: str) -> str:
    """Put ' before text a spreadsheet would run as a formula (OWASP's advice against CSV injection)."""
    return "'" + text if text.startswith(_RISKY_START) and not _PLAIN_NUMBER.fullmatch(text) else text


def cell_out(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float) and math.isnan(value):  # NaN has no place in a table
        return None
    return value


def write_csv(target: Path, names: list[str], cells: list[list[Any]], delimiter: str, protect: bool) -> None:
    def text(value: Any) -> str:
        if value is None:
            return ""
        out = as_text(value) if not isinstance(value, float) else repr(value)
        return defuse(out) if protect and isinstance(value, str) else out

    # utf-8 with a byte-order mark: Excel then reads accents right; Read table skips the mark.
    with open(target, "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, delimiter=DELIMITERS[delimiter])
        writer.writerow([text(n) if protect else n for n in names])
        writer.writerows([text(v) for v in row] for row in cells)


def write_xlsx(target: Path, names: list[str], cells: list[list[Any]], sheet_name: str, protect: bool) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    # Text columns that hold only ISO dates become real date cells, so Excel can sort and filter them.
    # Excel has no time zones: a column with one stays text.
    for j in range(len(names)):
        column = [row[j] for row in cells]
        if any(v is not None for v in column) and all(v is None or isinstance(v, str) for v in column):
            parsed = [None if v is None else parse_text(v) for v in column]
            if {p[0] for p in parsed if p} in ({"date"}, {"datetime"}) and \
                    all(p is None or getattr(p[1], "tzinfo", None) is None for p in parsed):
                for row, p in zip(cells, parsed, strict=True):
                    row[j] = None if p is None else p[1]

    def value_of(value: Any, number: int, name: str) -> Any:
        if not isinstance(value, str):
            return value
        value = ILLEGAL_CHARACTERS_RE.sub("", value)  # control characters cannot be stored in XLSX
        if len(value) > 32_767:
            raise NodeInputError("rows", f"Row {number}, column '{name}' has {len(value):,} characters; an Excel "
                                 "cell holds at most 32,767. Shorten it or write CSV.")
        return defuse(value) if protect else value

    # Every value checked before the workbook exists: openpyxl's streaming writer must not be left half-done.
    header = [value_of(name, 0, name) for name in names]
    body = [[value_of(v, number, n) for v, n in zip(row, names, strict=True)] for number, row in enumerate(cells, 1)]
    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name)
    bold = Font(bold=True)
    cells_of_header = []
    for value in header:
        cell = WriteOnlyCell(sheet, value=value)
        cell.font = bold
        cells_of_header.append(cell)
    sheet.append(cells_of_header)
    for row in body:
        sheet.append(row)
    book.save(target)
