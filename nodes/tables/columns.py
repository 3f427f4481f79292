"""One type per column: what a cell looks like, what a column is, and unique column names.

Types are decided per column, never per cell: a column is a number column only when every filled cell is a
number, which keeps codes such as postcodes ("00123") and phone numbers ("+34 600…") as text.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

PREVIEW_ROWS = 10
TRUTH = {"true": True, "false": False, "verdadero": True, "falso": False}

_INT = re.compile(r"-?(0|[1-9]\d{0,14})")  # no '+', no leading zero, at most 15 digits: else it is a code
_FLOAT = re.compile(r"-?(0|[1-9]\d*)(\.\d+([eE][+-]?\d+)?|[eE][+-]?\d+)")  # a point or an exponent
_DECIMAL_COMMA = re.compile(r"-?(0|[1-9]\d*),\d+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?")


def parse_text(text: str, *, decimal_comma: bool = False) -> tuple[str, Any]:
    """The kind of one text cell (int, float, decimal_comma, bool, date, datetime or text) and its value."""
    if _INT.fullmatch(text):
        return "int", int(text)
    if _FLOAT.fullmatch(text):
        return "float", float(text)
    if decimal_comma and _DECIMAL_COMMA.fullmatch(text):
        return "decimal_comma", float(text.replace(",", "."))
    if text.lower() in TRUTH:
        return "bool", TRUTH[text.lower()]
    try:
        if _DATE.fullmatch(text):
            return "date", dt.date.fromisoformat(text)
        if _DATETIME.fullmatch(text):
            return "datetime", dt.datetime.fromisoformat(text)
    except ValueError:  # 2024-13-45: shaped like a date, but not one
        pass
    return "text", text


def _kind_of_cell(value: Any, infer: bool, decimal_comma: bool) -> tuple[str, Any]:
    if isinstance(value, str):
        return parse_text(value, decimal_comma=decimal_comma) if infer else ("text", value)
    if isinstance(value, bool):
        return "bool", value
    if isinstance(value, int):
        return "int", value
    if isinstance(value, float):
        return "float", value
    if isinstance(value, dt.datetime):  # Excel keeps dates as datetimes; a midnight one is a plain date
        value = (value + dt.timedelta(microseconds=500_000)).replace(microsecond=0)
        return ("date", value.date()) if value.time() == dt.time() else ("datetime", value)
    if isinstance(value, dt.date):
        return "date", value
    return "text", as_text(value)


def as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date | dt.time) else value


def type_column(cells: list[Any], *, infer: bool, decimal_comma: bool = False) -> tuple[str, list[Any]]:
    """One type for a whole column and its cells as JSON values; a column that mixes kinds is text."""
    parsed = [None if cell is None else _kind_of_cell(cell, infer, decimal_comma) for cell in cells]
    kinds = {p[0] for p in parsed if p}
    if not kinds:
        return "empty", [None] * len(cells)
    if kinds <= {"int", "float"} or kinds <= {"int", "decimal_comma"}:
        kind = "int" if kinds == {"int"} else "float"
        return kind, [None if p is None else (p[1] if kind == "int" else float(p[1])) for p in parsed]
    if kinds == {"date", "datetime"}:
        return "datetime", [None if p is None else json_value(
            dt.datetime.combine(p[1], dt.time()) if p[0] == "date" else p[1]) for p in parsed]
    if len(kinds) == 1 and kinds != {"text"}:
        return kinds.pop(), [None if p is None else json_value(p[1]) for p in parsed]
    return "text", [None if cell is None else cell if isinstance(cell, str) else as_text(cell) for cell in cells]


def column_names(header: list[Any]) -> list[str]:
    """Header cells as unique names: an empty one becomes column_N (its position), a repeated one name_2…"""
    texts = [" ".join(as_text(h).split()) if h is not None else "" for h in header]
    taken = {t for t in texts if t}
    first = {}
    for j, text in enumerate(texts):
        first.setdefault(text, j)
    names = []
    for j, text in enumerate(texts):
        if text and first[text] == j:
            names.append(text)
            continue
        base = text or f"column_{j + 1}"
        name, number = (base, 2) if not text else (f"{text}_2", 3)
        while name in taken:
            name, number = f"{base}_{number}", number + 1
        taken.add(name)
        names.append(name)
    return names


def markdown_preview(names: list[str], rows: list[dict[str, Any]], limit: int = PREVIEW_ROWS) -> str:
    def cell(value: Any) -> str:
        text = "" if value is None else as_text(value) if not isinstance(value, float) else repr(value)
        text = " ".join(text.split()).replace("|", "\\|")
        return text if len(text) <= 40 else text[:39] + "…"

    lines = ["| " + " | ".join(map(cell, names)) + " |", "|" + " --- |" * len(names)]
    lines += ["| " + " | ".join(cell(row[n]) for n in names) + " |" for row in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"\n_First {limit} of {len(rows)} rows._")
    return "\n".join(lines)
