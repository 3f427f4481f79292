"""Node types' texts in Spanish: every built-in one complete, the catalogue translated, plug-ins ship their own."""

from __future__ import annotations

import importlib
import logging
import sys
import textwrap

import pytest

from app.services import load_registry
from nodes.registry import Registry, _safe_ports
from nodes.translations import NodeTexts, locale_file, read_locale_file, texts_of, translate_ports
from tests.conftest import ROOT, make_settings

SPANISH = ROOT / "nodes" / "locale" / "es.toml"


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Registry:
    return load_registry(make_settings(tmp_path_factory.mktemp("data")))


def built_in(registry: Registry) -> list[type]:
    return [cls for cls in registry if cls.__module__.startswith("nodes.")]


def missing_spanish(cls) -> list[str]:
    """What a node type lacks in Spanish: names, description, its ports' and its settings' texts."""
    texts = texts_of(cls, "es")
    if texts is None:
        return [f"{cls.type_id}: no entry in {SPANISH.name}"]
    missing = [f"{cls.type_id}: {what}" for what in ("display_name", "description") if not getattr(texts, what)]
    default_config = cls.Config.model_construct()
    for role, method, model in (("inputs", cls.input_ports, cls.Inputs), ("outputs", cls.output_ports, cls.Outputs)):
        for port in _safe_ports(method, default_config, model):
            if texts.port(role, port.name) is None:
                missing.append(f"{cls.type_id}: {role}.{port.name}")
    for name, prop in cls.Config.model_json_schema().get("properties", {}).items():
        field_texts = texts.fields.get(name, {})
        if not field_texts.get("title"):
            missing.append(f"{cls.type_id}: fields.{name}.title")
        if prop.get("description") and not field_texts.get("description"):
            missing.append(f"{cls.type_id}: fields.{name}.description")
    return missing


def test_every_built_in_node_type_speaks_spanish(registry):
    missing = [problem for cls in built_in(registry) for problem in missing_spanish(cls)]
    assert not missing, f"add these to nodes/locale/{SPANISH.name}:\n" + "\n".join(missing)


def test_the_spanish_file_names_only_real_node_types_and_settings(registry):
    # Given the Spanish file as it is on disk (a typo in a type id or a setting would be silently ignored)
    data = read_locale_file(SPANISH)

    # Then every node type and every setting it translates exists
    unknown = []
    for type_id, entry in data.items():
        if type_id == "categories":
            continue
        cls = registry.get(type_id)
        if cls is None:
            unknown.append(f"{type_id}: not a registered node type")
            continue
        settings = set(cls.Config.model_json_schema().get("properties", {}))
        unknown += [f"{type_id}: fields.{name}" for name in entry.get("fields", {}) if name not in settings]
        unknown += [f"{type_id}: {key}" for key in entry if key not in
                    {"display_name", "description", "doc", "inputs", "outputs", "fields"}]
    assert not unknown, unknown
    assert {cls.category for cls in built_in(registry)} <= set(data["categories"])


def test_the_catalogue_in_spanish_has_translated_names_ports_and_settings(registry):
    spanish = {entry["type_id"]: entry for entry in registry.catalogue("es")}
    english = {entry["type_id"]: entry for entry in registry.catalogue()}

    join = spanish["text.join"]
    assert (join["display_name"], join["category_label"]) == ("Unir textos", "Texto")
    assert join["description"] == join["doc"] == "Une varios textos en uno, en orden, con un separador."
    assert [p["description"] for p in join["inputs"]] == ["Texto número 1", "Texto número 2"]
    assert join["config_schema"]["properties"]["parts"]["title"] == "Partes"
    style = spanish["text.summarise"]["config_schema"]["properties"]["style"]
    assert style["x-enum-labels"] == {"prose": "Prosa", "bullets": "Viñetas", "executive": "Ejecutivo"}
    assert spanish["llm.prompt"]["outputs"][0]["description"] == "La respuesta del modelo"
    assert spanish["llm.prompt"]["inputs"][0]["description"] == "Valor para {{ text }}"
    # English is the source text: the plain catalogue (API, CLI) is unchanged
    assert english["text.join"]["display_name"] == "Join texts"
    assert english["text.join"]["inputs"][0]["description"] == "Text number 1"
    assert "category_label" not in english["text.join"]
    assert english["text.join"]["config_schema"] == registry.get("text.join").Config.model_json_schema()


def test_ports_named_by_the_settings_use_patterns_and_settings_driven_texts_stay():
    texts = NodeTexts(inputs={"text_{n}": "Texto número {n}", "*": "Valor para {{ {name} }}"},
                      outputs={"value": "", "text": "El texto"})

    ports = translate_ports(texts, "inputs", [{"name": "text_12", "description": "Text number 12"},
                                              {"name": "client", "description": "Value for {{ client }}"}])
    kept = translate_ports(texts, "outputs", [{"name": "value", "description": "Client's name"},
                                              {"name": "other", "description": "Other"}])

    assert [p["description"] for p in ports] == ["Texto número 12", "Valor para {{ client }}"]
    assert [p["description"] for p in kept] == ["Client's name", "Other"]
    assert texts.port("outputs", "text") == "El texto" and texts.port("inputs", "text") == "Valor para {{ text }}"


PLUGIN = '''
from pydantic import BaseModel, Field
from typing import Literal
from nodes.base import NodeType
from nodes.ports import Text


class ShoutConfig(BaseModel):
    times: int = Field(1, ge=1, description="How many exclamation marks")
    tone: Literal["loud", "polite"] = "loud"


class ShoutIn(BaseModel):
    text: Text = Field(description="What to shout")


class ShoutOut(BaseModel):
    text: Text


class Shout(NodeType[ShoutConfig, ShoutIn, ShoutOut]):
    """Turn a text into upper case."""

    type_id = "acme.shout"
    category = "acme"

    def run(self, ctx, config, inputs):
        return ShoutOut(text=inputs.text.upper() + "!" * config.times)
'''

PLUGIN_SPANISH = '''
[categories]
acme = "Acme"

["acme.shout"]
display_name = "Gritar"
description = "Pasa un texto a mayúsculas."
inputs.text = "Lo que se grita"
fields.times = { title = "Veces", description = "Cuántos signos de exclamación" }
fields.tone = { title = "Tono", enum = { loud = "Fuerte" } }
'''


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """A plug-in package with its own node type and its own Spanish file beside it."""
    package = tmp_path / "acme_nodes"
    (package / "locale").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "shout.py").write_text(textwrap.dedent(PLUGIN))
    (package / "locale" / "es.toml").write_text(PLUGIN_SPANISH, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("acme_nodes.shout")
    yield module, package
    for name in ("acme_nodes.shout", "acme_nodes"):
        sys.modules.pop(name, None)
    read_locale_file.cache_clear()


def test_a_plug_in_ships_its_own_translations(plugin):
    module, package = plugin
    own = Registry()
    own.register(module.Shout)

    (entry,) = own.catalogue("es")
    (english,) = own.catalogue("en")

    assert locale_file(module.Shout, "es") == package / "locale" / "es.toml"
    assert (entry["display_name"], entry["description"], entry["category_label"]) == (
        "Gritar", "Pasa un texto a mayúsculas.", "Acme")
    assert entry["inputs"][0]["description"] == "Lo que se grita"
    assert entry["outputs"][0]["description"] == ""  # no text in either language
    times, tone = entry["config_schema"]["properties"]["times"], entry["config_schema"]["properties"]["tone"]
    assert (times["title"], times["description"]) == ("Veces", "Cuántos signos de exclamación")
    assert tone["x-enum-labels"] == {"loud": "Fuerte"}  # "polite" has no label: the form shows the value
    assert english["display_name"] == "Shout" and english["category_label"] == "acme"  # no en.toml: the code


def test_a_broken_translation_file_is_reported_and_the_texts_stay_in_english(plugin, caplog):
    module, package = plugin
    (package / "locale" / "es.toml").write_text('["acme.shout"]\ndisplay_name = "Gritar\n', encoding="utf-8")
    read_locale_file.cache_clear()
    own = Registry()
    own.register(module.Shout)

    with caplog.at_level(logging.ERROR, logger="nodes.translations"):
        (entry,) = own.catalogue("es")

    assert entry["display_name"] == "Shout"
    assert "es.toml cannot be read" in caplog.text and "shown in English" in caplog.text


def test_an_odd_language_code_reads_no_file(registry):
    assert locale_file(registry.get("text.join"), "../../etc/passwd") is None
    assert registry.texts("text.join", "xx") is None
