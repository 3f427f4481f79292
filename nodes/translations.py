"""Node types' texts in other languages: `locale/<lang>.toml` beside the modules that define the node types.

English is the source text, in the code (docstring, `display_name`, port and `Field` descriptions); a
translation file holds the other languages, keyed by type id, so a plug-in ships its own next to its node
modules and nothing has to be registered. What a file has no text for stays in English.

    [categories]
    text = "Texto"

    ["text.join"]
    display_name = "Unir textos"
    description = "Une varios textos en uno, en orden, con un separador."   # the docstring's first line
    doc = "..."                                 # optional: the whole docstring (palette tooltip)
    inputs."text_{n}" = "Texto número {n}"      # {n}: ports numbered by the settings (text_1, text_2, ...)
    inputs."*" = "Valor para {{ {name} }}"      # {name}: any other input (named by the settings)
    outputs.text = "Los textos unidos"
    outputs.value = ""                          # "": keep the node's own text (it comes from the settings)
    fields.parts = { title = "Partes", description = "Cuántos textos unir" }
    fields.style = { title = "Estilo", enum = { prose = "Prosa", bullets = "Viñetas" } }
"""

from __future__ import annotations

import copy
import functools
import logging
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LOCALE_DIR = "locale"
_PLACEHOLDERS = {"{n}": r"(?P<n>\d+)", "{name}": r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)"}


@dataclass(frozen=True)
class NodeTexts:
    """The texts of one node type in one language (any of them may be missing)."""

    display_name: str = ""
    description: str = ""
    doc: str = ""
    inputs: dict[str, str] = field(default_factory=dict, hash=False)
    outputs: dict[str, str] = field(default_factory=dict, hash=False)
    fields: dict[str, dict[str, Any]] = field(default_factory=dict, hash=False)

    def port(self, role: str, name: str) -> str | None:
        """The text of input (`role` "inputs") or output ("outputs") `name`: an exact entry, else the first
        pattern ("text_{n}", then "*") that fits; None when there is none; "" for "keep the node's own"."""
        texts = self.inputs if role == "inputs" else self.outputs
        if name in texts:
            return texts[name]
        for key, text in texts.items():
            if key == "*":
                continue
            pattern = re.escape(key)
            for placeholder, group in _PLACEHOLDERS.items():
                pattern = pattern.replace(re.escape(placeholder), group)
            match = re.fullmatch(pattern, name)
            if match:
                return _fill(text, match.groupdict())
        if "*" in texts:
            return _fill(texts["*"], {"name": name})
        return None


def _fill(text: str, values: dict[str, str]) -> str:
    # plain replacement, not str.format: texts may hold template braces such as "{{ {name} }}"
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


@functools.cache
def read_locale_file(path: Path) -> dict[str, Any]:
    """One translation file, read once; a broken file is logged and ignored (the texts stay in English)."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        log.error("The node translation file %s cannot be read (%s); its texts are shown in English.", path, exc)
        return {}


def locale_file(cls: type, lang: str) -> Path | None:
    """Where the translations of the node type `cls` into `lang` live: `locale/<lang>.toml` by its module."""
    module = sys.modules.get(cls.__module__)
    source = getattr(module, "__file__", None)
    if not source or not re.fullmatch(r"[a-z]{2,3}(_[A-Za-z]{2})?", lang):
        return None
    return Path(source).resolve().parent / LOCALE_DIR / f"{lang}.toml"


def texts_of(cls: type, lang: str) -> NodeTexts | None:
    """The node type's texts in `lang`, or None when no file translates it."""
    path = locale_file(cls, lang)
    entry = read_locale_file(path).get(getattr(cls, "type_id", "")) if path else None
    if not isinstance(entry, dict):
        return None
    return NodeTexts(display_name=entry.get("display_name", ""), description=entry.get("description", ""),
                     doc=entry.get("doc", ""), inputs=dict(entry.get("inputs", {})),
                     outputs=dict(entry.get("outputs", {})),
                     fields={k: v for k, v in entry.get("fields", {}).items() if isinstance(v, dict)})


def category_text(cls: type, lang: str) -> str | None:
    path = locale_file(cls, lang)
    categories = read_locale_file(path).get("categories", {}) if path else {}
    return categories.get(getattr(cls, "category", "")) if isinstance(categories, dict) else None


def translate_ports(texts: NodeTexts | None, role: str, ports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Port JSON (`Port.to_json()`) of `role` ("inputs"/"outputs") with translated descriptions (in place)."""
    if texts is not None:
        for port in ports:
            text = texts.port(role, port["name"])
            if text:
                port["description"] = text
    return ports


def translate_schema(texts: NodeTexts, schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of a config JSON Schema with translated field titles, descriptions and choice labels.

    Set on the property itself (which wins over a `$ref`'d definition); choice labels go in `x-enum-labels`.
    """
    schema = copy.deepcopy(schema)
    for name, prop in schema.get("properties", {}).items():
        field_texts = texts.fields.get(name) or {}
        for key in ("title", "description"):
            if field_texts.get(key):
                prop[key] = field_texts[key]
        if isinstance(field_texts.get("enum"), dict):
            prop["x-enum-labels"] = {str(k): str(v) for k, v in field_texts["enum"].items()}
    return schema


def translate_entry(cls: type, entry: dict[str, Any], lang: str) -> dict[str, Any]:
    """A catalogue entry (see `Registry.catalogue`) in `lang`, English where there is no translation."""
    texts = texts_of(cls, lang)
    entry = {**entry, "category_label": category_text(cls, lang) or entry["category"]}
    if texts is None:
        return entry
    entry["display_name"] = texts.display_name or entry["display_name"]
    if texts.description:
        entry["description"] = texts.description
        entry["doc"] = texts.doc or texts.description  # the English docstring would undo the translation
    entry["config_schema"] = translate_schema(texts, entry["config_schema"])
    for role in ("inputs", "outputs"):
        entry[role] = translate_ports(texts, role, copy.deepcopy(entry[role]))
    return entry
