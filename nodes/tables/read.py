"""CSV and Excel files as rows of cells, before any typing: what the file is, its encoding and separator,
and the limits that keep a hostile file (a bomb, an endless sheet) from filling the worker."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..base import NodeInputError
from ..files import Limits, check_zip, sniff
from . import DELIMITERS, MAX_COLUMNS
from .columns import as_text, column_names, type_column

EXCEL_MAX_ROWS = 1_048_576


def table_kind(path: Path) -> str:
    """'text' (a CSV) or 'xlsx', judged by the content; anything else is refused, saying what it is."""
    kind = sniff(path)
    if kind == "ole":
        raise NodeInputError("file", _ole_problem(path))
    if kind == "zip":
        raise NodeInputError("file", "This file is a ZIP archive, not an Excel workbook; unzip it first "
                             "(node Unzip) and read the CSV or XLSX inside.")
    if kind not in ("text", "xlsx", "empty"):
        shown = {"unknown": "not a text or spreadsheet file", "corrupt_zip": "a damaged Excel or ZIP file"}
        raise NodeInputError("file", f"This file is {shown.get(kind, 'a ' + kind.upper() + ' file')}, not a table; "
                             "Read table accepts CSV files and Excel workbooks (.xlsx).")
    if kind == "empty":
        raise NodeInputError("file", "The file is empty (0 bytes); upload the table again.")
    return kind


def _ole_problem(path: Path) -> str:
    """Office's encrypted files and old .xls files share one container (OLE); the stream names tell them apart."""
    if "EncryptedPackage".encode("utf-16-le") in path.read_bytes():
        return ("The Excel file is protected with a password, so it cannot be read. Open it in Excel, remove the "
                "password (File > Info > Protect Workbook > Encrypt with Password), save and upload it again.")
    return ("This is an old Excel 97-2003 (.xls) or other legacy Office file; open it in Excel or LibreOffice, "
            "save it as .xlsx or CSV and upload that.")


def csv_rows(path: Path, delimiter_choice: str, encoding_choice: str, budget: int) -> tuple[list[list[Any]], str]:
    """The rows of a CSV file and the separator used; `budget` as in `_records`."""
    encodings = [encoding_choice] if encoding_choice != "auto" else _auto_encodings(path)
    for number, encoding in enumerate(encodings, 1):
        try:
            with open(path, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline="") as f:
                delimiter = DELIMITERS.get(delimiter_choice) or detect_delimiter(f.read(64 * 1024))
                f.seek(0)
                return _records(csv.reader(f, delimiter=delimiter), budget), delimiter
        except UnicodeDecodeError as exc:
            if number == len(encodings):
                raise NodeInputError("file", f"The file is not {encoding} text ({exc.reason} for bytes such as "
                                     f"{exc.object[exc.start:exc.start + 2]!r}); choose another 'CSV encoding', or "
                                     "'auto'.") from None
        except csv.Error as exc:
            raise NodeInputError("file", f"The CSV file cannot be read ({exc}); check that it is a plain table "
                                 "of text, saved from a spreadsheet as CSV.") from None
    raise AssertionError("unreachable")


def _auto_encodings(path: Path) -> list[str]:
    with open(path, "rb") as f:
        head = f.read(2)
    return ["utf-16"] if head in (b"\xff\xfe", b"\xfe\xff") else ["utf-8", "cp1252", "latin-1"]


def detect_delimiter(sample: str) -> str:
    """csv.Sniffer's answer among , ; tab |; when it cannot tell, the separator that splits the first lines
    into the same number of values (more than one), else a comma (a one-column file)."""
    sample = sample[: sample.rfind("\n") + 1] or sample  # whole lines only
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        pass
    lines = [line for line in sample.splitlines()[:20] if line.strip()]
    for candidate in ",;\t|":
        widths = {len(row) for row in csv.reader(lines, delimiter=candidate)}
        if len(widths) == 1 and widths.pop() > 1:
            return candidate
    return ","


def _records(reader: Iterable[list[Any]], budget: int) -> list[list[Any]]:
    """Rows with cells stripped (empty -> None), stopping after `budget` non-empty rows."""
    rows: list[list[Any]] = []
    filled = 0
    for physical, row in enumerate(reader, 1):
        if physical > EXCEL_MAX_ROWS + budget:  # a sheet's row numbers are its own claim: a bomb can say 10^12
            raise NodeInputError("file", f"The table goes on past row {EXCEL_MAX_ROWS:,}, more than a spreadsheet "
                                 "holds; split the file.")
        cells = [(c.strip() or None) if isinstance(c, str) else c for c in row]
        while cells and cells[-1] is None:
            cells.pop()
        if len(cells) > MAX_COLUMNS:
            raise NodeInputError("file", f"Row {physical} has {len(cells)} columns, more than the {MAX_COLUMNS} "
                                 "this node reads; remove the columns you do not need.")
        rows.append(cells)
        filled += bool(cells)
        if filled >= budget:
            break
    return rows


def xlsx_rows(path: Path, sheet: str, limits: Limits, budget: int) -> list[list[Any]]:
    """The rows of one sheet (empty `sheet`: the first), read-only and streamed, after the zip-bomb check."""
    import openpyxl

    check_zip(path, "file", limits)
    source = open(path, "rb")  # noqa: SIM115  a file, not a path: openpyxl judges a path by its extension
    try:
        book = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001  openpyxl raises many kinds (KeyError, XML, zip) for a damaged file
        source.close()
        raise NodeInputError("file", f"The Excel file is damaged and cannot be opened ({type(exc).__name__}); open "
                             "it in Excel or LibreOffice, save it again as .xlsx and upload it.") from None
    try:
        names = book.sheetnames
        chosen = sheet.strip() or names[0]
        matches = [n for n in names if n == chosen] or [n for n in names if n.lower() == chosen.lower()]
        if not matches:
            raise NodeInputError("file", f"The workbook has no sheet '{sheet}'; its sheets are: "
                                 f"{', '.join(names)}. Correct 'Sheet', or leave it empty for the first one.")
        worksheet = book[matches[0]]
        worksheet.reset_dimensions()  # the stored size may lie (or be absent); read the cells that exist
        try:
            return _records(worksheet.iter_rows(values_only=True), budget)
        except NodeInputError:
            raise
        except Exception as exc:  # noqa: BLE001  as above, for a damaged sheet
            raise NodeInputError("file", f"The sheet '{matches[0]}' is damaged ({type(exc).__name__}); open the "
                                 "file in Excel or LibreOffice, save it again and upload it.") from None
    finally:
        book.close()
        source.close()


def split_header(raw: list[list[Any]], header_row: int) -> tuple[list[Any], list[list[Any]]]:
    """The header row (number `header_row`, counted from 1; 0 = none) and the non-empty rows below it."""
    if not any(raw):
        raise NodeInputError("file", "The table is empty: there are no values in it.")
    if header_row == 0:
        return [], [row for row in raw if row]
    if header_row > len(raw) or not raw[header_row - 1]:
        raise NodeInputError("file", f"Row {header_row} is empty, so it cannot hold the column names; set 'Header "
                             "row' to the row with the names (0 if the file has none).")
    return raw[header_row - 1], [row for row in raw[header_row:] if row]


def typed_rows(header: list[Any], body: list[list[Any]], infer: bool,
               decimal_comma: bool) -> tuple[list[str], list[str], list[dict[str, Any]], list[str]]:
    """Column names, column types, the rows as records, and the names that were made up or numbered."""
    width = max([len(header), *map(len, body)])
    cells = [[row[j] if j < len(row) else None for row in body] for j in range(width)]
    # A column with neither a name nor a value (a spacer in a spreadsheet) is left out.
    keep = [j for j in range(width) if (j < len(header) and header[j] is not None) or any(v is not None
                                                                                         for v in cells[j])]
    header = [header[j] if j < len(header) else None for j in range(width)]
    all_names = column_names(header)
    names = [all_names[j] for j in keep]
    renamed = [repr(all_names[j]) for j in keep if header[j] is None or " ".join(as_text(header[j]).split())
               != all_names[j]]
    typed = [type_column(cells[j], infer=infer, decimal_comma=decimal_comma) for j in keep]
    rows = [{name: values[i] for name, (_, values) in zip(names, typed, strict=True)} for i in range(len(body))]
    return names, [kind for kind, _ in typed], rows, renamed
