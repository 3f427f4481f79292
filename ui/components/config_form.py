"""A node's settings as a form generated from its config JSON Schema, validated as the person types."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from nicegui import ui

from ..i18n import t
from .file_field import file_field
from .secret_picker import secret_picker

LONG_TEXT = 200


def resolve(schema: dict[str, Any], root: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The field's own schema (following $ref and Optional[...]), and whether it may be empty (null)."""
    nullable = False
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        schema = {**root.get("$defs", {}).get(name, {}), **{k: v for k, v in schema.items() if k != "$ref"}}
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            nullable = len(options) < len(schema[key])
            if len(options) == 1:
                inner, _ = resolve(options[0], root)
                schema = {**inner, **{k: v for k, v in schema.items() if k != key}}
    return schema, nullable


def field_kind(schema: dict[str, Any]) -> str:
    if schema.get("format") in ("secret", "file"):  # a stored secret's name; a stored file's reference
        return schema["format"]
    if "enum" in schema or "const" in schema:
        return "enum"
    kind = schema.get("type")
    if kind == "boolean":
        return "bool"
    if kind in ("integer", "number"):
        return kind
    if kind == "string":
        long = schema.get("format") == "textarea" or schema.get("maxLength", 0) > LONG_TEXT
        return "textarea" if long else "text"
    if kind == "array" and schema.get("items", {}).get("type") in ("string", "number", "integer"):
        return "list"
    return "json"


def config_form(schema: dict[str, Any], config: dict[str, Any], *,
                on_change: Callable[[str, Any], None], problems: dict[str, str]) -> dict[str, ui.label]:
    """Draw one field per config property; returns field -> the label that shows its problem."""
    errors: dict[str, ui.label] = {}
    required = set(schema.get("required", []))
    for name, raw in schema.get("properties", {}).items():
        field, nullable = resolve(raw, schema)
        kind = field_kind(field)
        title = field.get("title") or raw.get("title") or name
        label = title + (" *" if name in required else "")
        value = config.get(name, field.get("default", raw.get("default")))
        with ui.column().classes("w-full gap-0").mark(f"config-{name}"):
            if kind == "secret":
                secret_picker(label, name, value, on_change)
            elif kind == "file":
                file_field(label, name, value, field, on_change)
            elif kind == "enum":
                options = field.get("enum") or [field.get("const")]
                labels = field.get("x-enum-labels") or {}  # choices in the person's language (nodes/translations.py)
                ui.select({o: labels.get(str(o), str(o)) for o in options} if labels else options,
                          value=value if value in options else None, label=label,
                          on_change=lambda e, n=name: on_change(n, e.value)).classes("w-full")
            elif kind == "bool":
                ui.switch(label, value=bool(value), on_change=lambda e, n=name: on_change(n, e.value))
            elif kind in ("integer", "number"):
                low = field.get("minimum", field.get("exclusiveMinimum"))
                high = field.get("maximum", field.get("exclusiveMaximum"))
                ui.number(label, value=value, min=low, max=high, step=1 if kind == "integer" else None,
                          format="%d" if kind == "integer" else None,
                          on_change=lambda e, n=name, k=kind, nb=nullable: on_change(
                              n, None if e.value is None else (int(e.value) if k == "integer" else e.value))) \
                    .classes("w-full")
            elif kind == "textarea":
                ui.textarea(label, value=value or "", on_change=lambda e, n=name: on_change(n, e.value)) \
                    .props("outlined autogrow").classes("w-full font-mono text-xs")
            elif kind == "text":
                ui.input(label, value=value or "",
                         on_change=lambda e, n=name, nb=nullable: on_change(n, (e.value or None) if nb else e.value)) \
                    .classes("w-full")
            elif kind == "list":
                ui.input_chips(label, value=list(value or []), new_value_mode="add-unique",
                               on_change=lambda e, n=name: on_change(n, list(e.value or []))).classes("w-full") \
                    .tooltip(t("editor.add_item"))
            else:
                text = "" if value is None else json.dumps(value, ensure_ascii=False, indent=1)

                def json_changed(e, n=name) -> None:
                    if not (e.value or "").strip():
                        on_change(n, None)
                        return
                    try:
                        parsed = json.loads(e.value)
                    except json.JSONDecodeError:
                        # a plain word is a text value, as people expect for defaults; broken JSON is not
                        parsed = e.value if not e.value.strip().startswith(("{", "[", '"')) else None
                        if parsed is None:
                            errors[n].text = f"JSON: {e.value[:40]}…"
                            return
                    on_change(n, parsed)

                ui.textarea(label, value=text, on_change=json_changed).props("outlined autogrow") \
                    .classes("w-full font-mono text-xs")
            description = field.get("description") or raw.get("description")
            if description:
                ui.label(description).classes("text-xs text-gray-500")
            errors[name] = ui.label(problems.get(name, "")).classes("text-xs text-negative").mark(f"problem-{name}")
    return errors
