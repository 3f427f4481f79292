"""data.read_table and data.write_table: CSV and Excel sheets as lists of records, and back.

A table travels between nodes as a list of records (one object per row, keys = column names) with one
type per column, so a template can use `row.total` as a number and a loop can take the rows one by one.
Types are detected per column, never per cell: a column is a number column only when every filled cell
is a number, which keeps codes such as postcodes ("00123") and phone numbers ("+34 600…") as text.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from .base import NodeContext, NodeInputError, NodeType
from .files import Limits
from .ports import File, Json, ListOf, Number, Text
from .registry import register
from .tables import MAX_COLUMNS, XLSX_MEDIA_TYPE
from .tables.columns import markdown_preview
from .tables.read import csv_rows, split_header, table_kind, typed_rows, xlsx_rows
from .tables.write import cell_out, write_csv, write_xlsx
from .templating import check_name_template, render_file_name


class ReadConfig(BaseModel):
    sheet: str = Field("", max_length=100, title="Sheet", description="Excel sheet to read; empty = the first sheet")
    header_row: int = Field(1, ge=0, le=1000, title="Header row",
                            description="Row that holds the column names (1 = the first row; rows above it are "
                                        "skipped); 0 = the file has no names, columns become column_1, column_2…")
    delimiter: Literal["auto", "comma", "semicolon", "tab", "pipe"] = Field(
        "auto", title="CSV separator", description="What separates the values of a CSV file; auto = detect it")
    encoding: Literal["auto", "utf-8", "cp1252", "latin-1", "utf-16"] = Field(
        "auto", title="CSV encoding", description="Character set of a CSV file; auto tries UTF-8, then Windows "
                                                  "(cp1252), then Latin-1")
    max_rows: int | None = Field(None, ge=1, title="Max rows",
                                 description="Stop with an error when the table has more rows than this; empty = "
                                             "the server's limit")


class ReadIn(BaseModel):
    file: File = Field(description="A CSV or Excel (.xlsx) file")


class ReadOut(BaseModel):
    rows: ListOf[Json] = Field(description="One record per row; its keys are the column names")
    columns: Json = Field(description="Each column's name and type (int, float, bool, date, datetime, text, empty)")
    preview: Text = Field(description="The first rows as a Markdown table")
    count: Number = Field(description="How many rows were read")


@register
class ReadTable(NodeType[ReadConfig, ReadIn, ReadOut]):
    """Read a CSV or Excel sheet into a list of rows, with numbers, dates and yes/no columns typed.

    Each column gets one type from all its filled cells: whole numbers, decimals (1.5, or 1,5 in a file
    separated by semicolons), true/false, ISO dates (2024-03-01) and date-times. Anything else, or a column
    that mixes kinds, stays text, so codes such as 00123 keep their zeros. Empty cells are empty (null). An
    empty or repeated column name becomes column_N or name_2.
    """

    type_id = "data.read_table"
    display_name = "Read table"
    category = "data"
    queue = "documents"
    timeout_s = 300

    def run(self, ctx: NodeContext, config: ReadConfig, inputs: ReadIn) -> ReadOut:
        path = ctx.artifacts.path(inputs.file)
        kind = table_kind(path)
        limit = min(config.max_rows or ctx.limits.max_table_rows, ctx.limits.max_table_rows)
        # Room for the header, the rows above it and one row too many, so "too long" can be told apart.
        budget = limit + config.header_row + 1
        if kind == "xlsx":
            raw, infer, decimal_comma = xlsx_rows(path, config.sheet, ctx.limits, budget), False, False
        else:
            raw, delimiter = csv_rows(path, config.delimiter, config.encoding, budget)
            infer, decimal_comma = True, delimiter != ","
        header, body = split_header(raw, config.header_row)
        if len(body) > limit:
            fix = "raise 'Max rows'" if config.max_rows and config.max_rows < ctx.limits.max_table_rows else \
                "ask the administrator to raise MINDDOCS_LIMITS__MAX_TABLE_ROWS"
            raise NodeInputError("file", f"The table has more than {limit:,} rows, the most this node may read; "
                                 f"split the file, or {fix}.")
        names, columns, rows, renamed = typed_rows(header, body, infer, decimal_comma)
        if config.header_row and renamed:
            ctx.log(f"Columns without a name or with a repeated name were named {', '.join(renamed[:10])}.")
        return ReadOut(rows=rows, columns=[{"name": n, "type": t} for n, t in zip(names, columns, strict=True)],
                       preview=markdown_preview(names, rows), count=len(rows))


class WriteConfig(BaseModel):
    format: Literal["xlsx", "csv"] = Field("xlsx", title="Format", description="Excel workbook or CSV text")
    file_name: str = Field("table", max_length=300, title="File name", description="Name of the file, without "
                                                                                   "the extension")
    columns: list[str] = Field(default_factory=list, max_length=MAX_COLUMNS, title="Columns",
                               description="Columns to write, in this order; empty = every column, in the order "
                                           "they first appear")
    sheet: str = Field("Sheet1", min_length=1, max_length=31, title="Sheet name", description="Name of the Excel sheet")
    csv_delimiter: Literal["comma", "semicolon", "tab"] = Field(
        "comma", title="CSV separator", description="Spanish Excel opens semicolon-separated files directly")
    protect_formulas: bool = Field(True, title="Protect against formulas",
                                   description="Put ' before text that starts with = + - @ so a spreadsheet shows it "
                                               "instead of running it; turn off only to write real Excel formulas")

    @field_validator("file_name")
    @classmethod
    def _file_name_compiles(cls, pattern: str) -> str:
        return check_name_template(pattern)

    @field_validator("sheet")
    @classmethod
    def _sheet_name(cls, name: str) -> str:
        if re.search(r"[\[\]:*?/\\]", name) or not name.strip():
            raise ValueError("a sheet name cannot be empty or contain [ ] : * ? / \\")
        return name


class WriteIn(BaseModel):
    rows: Json = Field(description="A list of records (one object per row), e.g. the rows of Read table")


class WriteOut(BaseModel):
    file: File


@register
class WriteTable(NodeType[WriteConfig, WriteIn, WriteOut]):
    """Write a list of records as an Excel or CSV file, one row per record and one column per field.

    Text that starts with = + - or @ gets a ' in front, so a spreadsheet shows it instead of running it as a
    formula; numbers such as -12,50 or +34 600 111 222 are left as they are.
    """

    type_id = "data.write_table"
    display_name = "Write table"
    category = "data"
    queue = "documents"
    timeout_s = 300

    def run(self, ctx: NodeContext, config: WriteConfig, inputs: WriteIn) -> WriteOut:
        records = _records_of(inputs.rows, ctx.limits)
        names = _columns_to_write(records, config.columns)
        cells = [[cell_out(record.get(name)) for name in names] for record in records]
        name = render_file_name(config.file_name, {}, default="table", extension=config.format)
        with tempfile.TemporaryDirectory(prefix="minddocs-table-") as tmp:
            target = Path(tmp) / f"table.{config.format}"
            if config.format == "csv":
                write_csv(target, names, cells, config.csv_delimiter, config.protect_formulas)
                media_type = "text/csv"
            else:
                write_xlsx(target, names, cells, config.sheet, config.protect_formulas)
                media_type = XLSX_MEDIA_TYPE
            return WriteOut(file=ctx.artifacts.put_file(target, name=name, media_type=media_type))


def _records_of(value: Any, limits: Limits) -> list[dict[str, Any]]:
    records = [value] if isinstance(value, dict) else value
    if not isinstance(records, list):
        raise NodeInputError("rows", f"Write table needs a list of records (objects), but received "
                             f"{_kind_name(value)}; connect the rows of Read table or another list of objects.")
    for number, record in enumerate(records, 1):
        if not isinstance(record, dict):
            raise NodeInputError("rows", f"Item {number} of the list is {_kind_name(record)}, not a record; every "
                                 "item must be an object such as {\"name\": \"Ana\", \"total\": 12}.")
    if len(records) > limits.max_table_rows:
        raise NodeInputError("rows", f"There are {len(records):,} rows, more than the limit of "
                             f"{limits.max_table_rows:,}; split them into several files.")
    return records


def _kind_name(value: Any) -> str:
    names = {str: "a text", bool: "a yes/no value", int: "a number", float: "a number", list: "a list",
             dict: "an object", type(None): "nothing (empty)"}
    return names.get(type(value), f"a {type(value).__name__}")


def _columns_to_write(records: list[dict[str, Any]], wanted: list[str]) -> list[str]:
    present = list(dict.fromkeys(str(key) for record in records for key in record))
    if not wanted:
        if not present:
            raise NodeInputError("rows", "There is nothing to write: the list has no rows (or only empty ones). "
                                 "Set 'Columns' to write a file with only the column names.")
        if len(present) > MAX_COLUMNS:
            raise NodeInputError("rows", f"The records have {len(present)} different fields, more than the "
                                 f"{MAX_COLUMNS} columns allowed; choose the ones to write in 'Columns'.")
        return present
    missing = [name for name in wanted if name not in present]
    if records and missing:
        raise NodeInputError("rows", f"No record has the field(s) {', '.join(map(repr, missing))}; the fields are: "
                             f"{', '.join(present[:30]) or 'none'}. Correct 'Columns'.")
    return list(dict.fromkeys(wanted))
