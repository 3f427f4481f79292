"""Node-type registration rules, the catalogue, and third-party node types loaded through entry points."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import BaseModel

from app.services import load_registry
from nodes.base import NoConfig, NodeContext, NodeType, NoPorts
from nodes.ports import Text
from nodes.registry import RegistrationError, Registry, load_plugins
from tests.conftest import make_settings


class EchoIn(BaseModel):
    text: Text


class EchoOut(BaseModel):
    text: Text


def echo_type(type_id: str = "test.echo") -> type[NodeType]:
    """A fresh, well-formed node type class (a new class each call)."""

    class Echo(NodeType[NoConfig, EchoIn, EchoOut]):
        """Pass the text on unchanged."""

        category = "test"

        def run(self, ctx: NodeContext, config: NoConfig, inputs: EchoIn) -> EchoOut:
            return EchoOut(text=inputs.text)

    Echo.type_id = type_id
    return Echo


# --- registration rules -----------------------------------------------------------------------------------


def test_a_well_formed_node_type_registers():
    registry = Registry()
    echo = echo_type()

    assert registry.register(echo) is echo
    assert registry.get("test.echo") is echo
    assert "test.echo" in registry


def test_a_bad_node_type_reports_all_its_problems_at_once():
    # Given a node type that breaks six rules: a bad id, no docstring, a queue with spaces, no run(),
    # an input port with an upper-case name and an output field that has no port type
    class BadIn(BaseModel):
        Text_In: Text

    class BadOut(BaseModel):
        result: str

    class Bad(NodeType[NoConfig, BadIn, BadOut]):
        type_id = "Bad-Type"
        queue = "Not A Queue!"

    registry = Registry()

    # When it is registered
    with pytest.raises(RegistrationError) as caught:
        registry.register(Bad)

    # Then every problem is listed, each naming the class, and nothing is registered
    problems = caught.value.problems
    expected = ["type_id 'Bad-Type' must look like 'family.verb'", "needs a docstring", "queue 'Not A Queue!'",
                "must implement run(ctx, config, inputs)", "port name 'Text_In'",
                "port 'result' has no port type"]
    for fragment in expected:
        assert any(fragment in p for p in problems), f"{fragment!r} missing from {problems}"
    assert len(problems) == len(expected), problems
    assert all(p.startswith("test_a_bad_node_type_reports_all_its_problems_at_once.<locals>.Bad: ")
               for p in problems)
    assert str(caught.value) == "\n".join(problems)
    assert list(registry) == []


def test_a_missing_type_id_is_a_problem_too():
    class NoId(NodeType[NoConfig, NoPorts, NoPorts]):
        """Has everything but an id."""

        def run(self, ctx, config, inputs):
            return NoPorts()

    with pytest.raises(RegistrationError) as caught:
        Registry().register(NoId)

    assert caught.value.problems == [
        "test_a_missing_type_id_is_a_problem_too.<locals>.NoId: type_id None must look like 'family.verb' "
        "(lower case, digits, _)."
    ]


def test_versions_and_config_migrations_are_checked():
    skipping = echo_type("test.skipping")
    skipping.version = 3
    skipping.config_migrations = {1: dict}  # no step from 2 to 3
    zero = echo_type("test.zero")
    zero.version = 0

    with pytest.raises(RegistrationError) as skipped:
        Registry().register(skipping)
    with pytest.raises(RegistrationError) as zeroed:
        Registry().register(zero)

    assert skipped.value.problems == [
        f"{skipping.__qualname__}: config_migrations lacks the step(s) from version [2]."]
    assert zeroed.value.problems == [f"{zero.__qualname__}: version must be a whole number of at least 1."]


def test_config_inputs_and_outputs_must_be_pydantic_models():
    class Loose(NodeType):
        """No models declared."""

        type_id = "test.loose"

        def run(self, ctx, config, inputs):
            return None

    with pytest.raises(RegistrationError) as caught:
        Registry().register(Loose)

    assert [p.split(": ", 1)[1].split(" ")[0] for p in caught.value.problems] == ["Config", "Inputs", "Outputs"]


def test_a_duplicate_type_id_is_refused():
    registry = Registry()
    first = registry.register(echo_type())
    second = echo_type()

    with pytest.raises(RegistrationError) as caught:
        registry.register(second)

    assert caught.value.problems == [
        f"{second.__qualname__}: type_id 'test.echo' is already registered by {first.__qualname__}."]
    assert registry.get("test.echo") is first


def test_registering_the_same_class_twice_is_harmless():
    registry = Registry()
    echo = echo_type()

    registry.register(echo)
    registry.register(echo)  # a module imported twice (entry point and MINDDOCS_NODE_MODULES)

    assert list(registry) == [echo]


# --- the catalogue ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory) -> dict[str, dict]:
    registry = load_registry(make_settings(tmp_path_factory.mktemp("data")))
    return {entry["type_id"]: entry for entry in registry.catalogue()}


def test_the_catalogue_lists_the_built_in_node_types(catalogue):
    assert {"io.input", "io.output", "text.template", "text.join", "json.get"} <= set(catalogue)


def test_the_catalogue_is_plain_json(catalogue):
    assert json.loads(json.dumps(list(catalogue.values()))) == list(catalogue.values())


def test_each_catalogue_entry_has_json_schemas_and_ports(catalogue):
    for type_id, entry in catalogue.items():
        for key in ("config_schema", "inputs_schema", "outputs_schema"):
            assert entry[key]["type"] == "object", (type_id, key)
        assert entry["description"] and "\n" not in entry["description"], type_id
        for port in entry["inputs"] + entry["outputs"]:
            assert set(port) == {"name", "type", "type_label", "required", "description"}, (type_id, port)


def test_catalogue_ports_follow_the_default_config(catalogue):
    join = catalogue["text.join"]

    assert [(p["name"], p["type_label"], p["required"]) for p in join["inputs"]] == [
        ("text_1", "Text", True), ("text_2", "Text", False)]
    assert [(p["name"], p["type_label"]) for p in join["outputs"]] == [("text", "Text")]
    assert join["config_schema"]["properties"]["parts"]["maximum"] == 20
    assert catalogue["json.get"]["config_schema"]["required"] == ["path"]
    assert catalogue["text.template"]["config_schema"]["properties"]["template"]["format"] == "textarea"


# --- third-party node types through the `minddocs.nodes` entry-point group --------------------------------

FAKE_PLUGIN = '''
"""A third-party node package, installed the way pip installs one."""

from pydantic import BaseModel

from nodes.base import NodeContext, NodeType, NoConfig
from nodes.ports import Text
from nodes.registry import register


class EchoIn(BaseModel):
    text: Text


class EchoOut(BaseModel):
    text: Text


@register
class Echo(NodeType[NoConfig, EchoIn, EchoOut]):
    """Say the text back."""

    type_id = "fake.echo"
    category = "fake"

    def run(self, ctx: NodeContext, config: NoConfig, inputs: EchoIn) -> EchoOut:
        return EchoOut(text=inputs.text)
'''


def install(site: Path, dist: str, module: str, source: str, entry_points: str) -> None:
    """Lay out a module and its dist-info folder as pip would, so importlib.metadata finds the entry points."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = site / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(entry_points, encoding="utf-8")


def minddocs(args: list[str], site: Path, data_dir: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINDDOCS_")}
    env.update(PYTHONPATH=str(site), MINDDOCS_DATA_DIR=str(data_dir))
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=data_dir, env=env, capture_output=True,
                          text=True, timeout=120)


def test_a_third_party_node_type_loads_through_its_entry_point(tmp_path):
    # Given a package `fake_plugin` that declares `fake = fake_plugin` in the minddocs.nodes group, and a
    # package whose module raises on import
    site = tmp_path / "site"
    install(site, "fake_plugin", "fake_plugin", FAKE_PLUGIN, "[minddocs.nodes]\nfake = fake_plugin\n")
    install(site, "broken_plugin", "broken_plugin", "raise RuntimeError('this plug-in is broken')\n",
            "[minddocs.nodes]\nbroken = broken_plugin\n")
    (tmp_path / "data").mkdir()

    # When `minddocs nodes --json` runs with that package on the path
    result = minddocs(["nodes", "--json"], site, tmp_path / "data")

    # Then the command works, lists fake.echo next to the built-ins, and logs the broken plug-in
    assert result.returncode == 0, result.stderr
    listed = {entry["type_id"]: entry for entry in json.loads(result.stdout)}
    assert "fake.echo" in listed and "text.template" in listed
    assert listed["fake.echo"]["description"] == "Say the text back."
    assert [p["name"] for p in listed["fake.echo"]["inputs"]] == ["text"]
    assert "Node plug-in broken (broken_plugin) failed to load" in result.stderr
    assert "this plug-in is broken" in result.stderr


def test_without_the_plugin_fake_echo_is_not_listed(tmp_path):
    # The counterpart of the test above: fake.echo comes from the entry point, not from anywhere else.
    (tmp_path / "data").mkdir()

    result = minddocs(["nodes", "--json"], tmp_path / "empty", tmp_path / "data")

    assert result.returncode == 0, result.stderr
    assert "fake.echo" not in {entry["type_id"] for entry in json.loads(result.stdout)}


def test_a_plugin_that_raises_on_import_is_logged_and_skipped(tmp_path, monkeypatch, caplog):
    # Given, on the path, a plug-in whose module raises on import and one whose entry point names a
    # NodeType class (not registered by the module itself)
    site = tmp_path / "site"
    install(site, "raising_plugin", "raising_plugin", "raise ImportError('needs libfoo')\n",
            "[minddocs.nodes]\nraising = raising_plugin\n")
    class_plugin = '''
        from pydantic import BaseModel
        from nodes.base import NodeType, NoConfig, NoPorts


        class Stamp(NodeType[NoConfig, NoPorts, NoPorts]):
            """Do nothing, registered by its entry point."""

            type_id = "classplug.stamp"

            def run(self, ctx, config, inputs):
                return NoPorts()
    '''
    install(site, "class_plugin", "class_plugin", class_plugin, "[minddocs.nodes]\nstamp = class_plugin:Stamp\n")
    monkeypatch.syspath_prepend(str(site))
    target = Registry()

    # When the plug-ins are loaded
    with caplog.at_level(logging.ERROR, logger="nodes.registry"):
        loaded = load_plugins(target)
    sys.modules.pop("class_plugin", None)

    # Then the raising one is skipped with a log record, the others load
    assert "raising" not in loaded
    assert {"builtin", "stamp"} <= set(loaded)
    assert target.get("classplug.stamp") is not None
    (record,) = [r for r in caplog.records if "raising" in r.getMessage()]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == ("Node plug-in raising (raising_plugin) failed to load; its node types are "
                                   "unavailable.")
    assert "needs libfoo" in str(record.exc_info[1])
