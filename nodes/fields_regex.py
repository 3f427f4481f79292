"""Offline field extraction with regular expressions: the fallback of llm.extract_fields.

For each field, in order:
1. its own `pattern`, if it has one (the value is the group named `value`, else the first group, else the
   whole match);
2. a label: the field's name ('invoice_number' -> 'invoice number') or its description when that is short,
   followed by ':' or '=' and the value ('Invoice number: F-2024-001'); then the label without a separator;
3. a default by kind: the first e-mail address for e-mail-like names (email, correo, mail), the first web
   address for url/web/website, the first phone number for phone/tel/teléfono/móvil, the first date in
   the text for date fields. Number, bool, list and text fields need a label or a pattern.
Values are converted to the field's type: numbers understand '1.234,56' and '1,234.56'; dates understand
ISO, day-first numeric dates (month-first only when the day cannot be a month) and written Spanish and
English dates ('6 de agosto de 2020', 'August 6, 2020').
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

MONTHS = {
    **dict.fromkeys(("january", "jan", "enero", "ene"), 1),
    **dict.fromkeys(("february", "feb", "febrero"), 2),
    **dict.fromkeys(("march", "mar", "marzo"), 3), **dict.fromkeys(("april", "apr", "abril", "abr"), 4),
    **dict.fromkeys(("may", "mayo"), 5), **dict.fromkeys(("june", "jun", "junio"), 6),
    **dict.fromkeys(("july", "jul", "julio"), 7), **dict.fromkeys(("august", "aug", "agosto", "ago"), 8),
    **dict.fromkeys(("september", "sep", "sept", "septiembre", "setiembre", "set"), 9),
    **dict.fromkeys(("october", "oct", "octubre"), 10), **dict.fromkeys(("november", "nov", "noviembre"), 11),
    **dict.fromkeys(("december", "dec", "diciembre", "dic"), 12),
}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_DATES = [
    (re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"), "ymd"),
    (re.compile(r"\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})\b"), "dmy?"),
    (re.compile(rf"\b(\d{{1,2}})(?:º|st|nd|rd|th)?\s+(?:de\s+)?({_MONTH})\.?,?\s+(?:del?\s+)?(\d{{4}})\b",
                re.IGNORECASE), "d-month-y"),
    (re.compile(rf"\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.IGNORECASE), "month-d-y"),
]
NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:[.,\u00a0\u202f]\d{3})+(?!\d)|\d+)(?:[.,]\d+)?")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]+")
PHONE = re.compile(r"(?<![\w+])\+?\d[\d\s().-]{6,}\d\b")
TRUE_WORDS = {"yes", "y", "sí", "si", "true", "verdadero", "x", "✓", "✔", "1", "ok"}
FALSE_WORDS = {"no", "n", "false", "falso", "0", "-", "—"}
_KINDS = [(("email", "e_mail", "correo", "mail"), EMAIL), (("url", "website", "web", "link", "sitio"), URL),
          (("phone", "tel", "telefono", "teléfono", "movil", "móvil", "mobile"), PHONE)]


def find_fields(text: str, fields: list[Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Values found for each field (None when not found) and how each was found."""
    values: dict[str, Any] = {}
    how: dict[str, str] = {}
    for field in fields:
        value, method = find_value(text, field.name, field.type, field.description, field.pattern)
        values[field.name] = value
        if method:
            how[field.name] = method
    return values, how


def find_value(text: str, name: str, kind: str, description: str = "",
               pattern: str | None = None) -> tuple[Any, str | None]:
    if pattern:
        for match in re.finditer(pattern, text, re.IGNORECASE | re.MULTILINE):
            group = "value" if "value" in match.re.groupindex else (1 if match.re.groups else 0)
            raw = match.group(group)
            value = convert(raw or "", kind)
            if value is not None:
                return value, "pattern"
        return None, None
    for separator in (r"[^\S\n]*[:=][^\S\n]*", r"[^\S\n]+"):  # 'Total: 12' before 'Total 12'
        for label in _labels(name, description):
            for match in re.finditer(rf"(?<!\w){label}{separator}(?P<value>[^\n]+)", text, re.IGNORECASE):
                value = convert(match.group("value"), kind)
                if value is not None:
                    return value, "label"
    default = _default_pattern(name)
    if default is not None:
        for match in default.finditer(text):
            value = convert(match.group(0), kind)
            if value is not None:
                return value, "type default"
    if kind == "date":
        date = find_date(text)
        if date:
            return date.isoformat(), "type default"
    return None, None


def convert(raw: str, kind: str) -> Any:
    """The value of `raw` as a field of `kind`, or None when it holds none."""
    raw = raw.strip().strip(".;,").strip()
    if not raw:
        return None
    if kind == "number":
        match = NUMBER.search(raw)
        return parse_number(match.group(0)) if match else None
    if kind == "date":
        found = find_date(raw)
        return found.isoformat() if found else None
    if kind == "bool":
        word = raw.split()[0].lower().strip(".,;:!")
        return True if word in TRUE_WORDS else False if word in FALSE_WORDS else None
    if kind == "list":
        items = [item.strip() for item in re.split(r"[;,]|\s+(?:and|y|e)\s+", raw) if item.strip()]
        return items or None
    return raw


def parse_number(raw: str) -> float | None:
    """'1.234,56' and '1,234.56' -> 1234.56; '1.5' -> 1.5; '1.234' -> 1234 (three digits after one mark
    are thousands)."""
    s = re.sub(r"[\s\u00a0\u202f]", "", raw)
    if "," in s and "." in s:
        decimal = "," if s.rfind(",") > s.rfind(".") else "."
        s = s.replace("." if decimal == "," else ",", "").replace(",", ".")
    elif "," in s or "." in s:
        mark = "," if "," in s else "."
        head, _, tail = s.rpartition(mark)
        if s.count(mark) > 1 or (len(tail) == 3 and len(head.lstrip("+-")) <= 3):
            s = s.replace(mark, "")
        else:
            s = s.replace(",", ".")
    try:
        return float(s)
    except ValueError:
        return None


def find_date(text: str) -> dt.date | None:
    """The first date written in `text`."""
    found: list[tuple[int, dt.date]] = []
    for pattern, order in _DATES:
        for match in pattern.finditer(text):
            date = _to_date(match.groups(), order)
            if date:
                found.append((match.start(), date))
                break
    return min(found)[1] if found else None


def _to_date(parts: tuple[str, ...], order: str) -> dt.date | None:
    try:
        if order == "ymd":
            y, m, d = map(int, parts)
        elif order == "dmy?":
            d, m, y = map(int, parts)
            if m > 12 >= d:  # 08/26/2020 can only be month-first
                d, m = m, d
            if y < 100:
                y += 2000 if y < 70 else 1900
        elif order == "d-month-y":
            d, m, y = int(parts[0]), MONTHS[parts[1].lower()], int(parts[2])
        else:
            m, d, y = MONTHS[parts[0].lower()], int(parts[1]), int(parts[2])
        return dt.date(y, m, d)
    except (ValueError, KeyError):
        return None


def _labels(name: str, description: str) -> list[str]:
    labels = [r"[\s_-]+".join(map(re.escape, name.split("_")))]
    if description and len(description.split()) <= 4:
        labels.append(r"\s+".join(map(re.escape, description.rstrip(".:").split())))
    return labels


def _default_pattern(name: str) -> re.Pattern[str] | None:
    lowered = name.lower()
    for words, pattern in _KINDS:
        if any(word in lowered.split("_") or lowered.startswith(word) for word in words):
            return pattern
    return None
