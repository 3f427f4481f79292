"""Loading graph JSON: migrating format 1, refusing what cannot be read, and the JSON Schema of format 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from graph_runtime.formats import (
    MAX_GRAPH_BYTES,
    MIGRATIONS,
    GraphFormatError,
    graph_json_schema,
    load_graph,
    migrate,
)
from graph_runtime.spec import FORMAT_VERSION, GraphSpec
from tests.conftest import FIXTURES, SAMPLES

V1 = FIXTURES / "graphs" / "format_v1.json"
SAMPLE_PATHS = sorted(SAMPLES.glob("*.json"))

#: What format_v1.json says, written in format 2 by hand.
V1_AS_V2 = {
    "format_version": 2,
    "meta": {"name": "Welcome letter (prototype)", "description": "The welcome letter as the prototype saved it.",
             "tags": ["sample", "letters"]},
    "nodes": [
        {"id": "client", "type": "io.input", "version": 1, "position": {"x": 0, "y": 0},
         "config": {"name": "client_name", "kind": "text", "label": "Client name"}},
        {"id": "firm", "type": "io.input", "version": 1, "position": {"x": 0, "y": 160},
         "config": {"name": "firm", "kind": "text", "default": "MindDocs Abogados"}},
        {"id": "letter", "type": "text.template", "version": 1, "position": {"x": 320.5, "y": 80},
         "label": "Letter",
         "config": {"variables": ["client", "firm"],
                    "template": "Estimado/a {{ client }}:\n\nGracias por confiar en {{ firm }}.\n"}},
        {"id": "out", "type": "io.output", "version": 1, "config": {"name": "letter"}},
    ],
    "edges": [
        {"source": "client", "source_port": "value", "target": "letter", "target_port": "client"},
        {"source": "firm", "source_port": "value", "target": "letter", "target_port": "firm"},
        {"source": "letter", "source_port": "text", "target": "out", "target_port": "value"},
    ],
}


def problems_of(source) -> list[str]:
    with pytest.raises(GraphFormatError) as caught:
        load_graph(source)
    assert caught.value.problems, "a GraphFormatError must say what is wrong"
    for problem in caught.value.problems:
        assert "Traceback" not in problem and "\n" not in problem, problem
    return caught.value.problems


# --- migrating format 1 -----------------------------------------------------------------------------------


def test_format_1_fixture_loads_as_the_equivalent_format_2_graph():
    assert load_graph(V1.read_bytes()) == load_graph(V1_AS_V2)


def test_the_migrated_graph_is_written_in_the_current_format():
    migrated = load_graph(V1.read_text(encoding="utf-8")).to_json()

    assert migrated["format_version"] == FORMAT_VERSION
    assert load_graph(migrated) == load_graph(V1_AS_V2)


def test_every_format_below_the_current_one_has_a_migration_step():
    assert sorted(MIGRATIONS) == list(range(1, FORMAT_VERSION))


def test_step_1_moves_metadata_positions_and_edges():
    data = json.loads(V1.read_text(encoding="utf-8"))

    step = MIGRATIONS[1](data)

    assert step["format_version"] == 2
    assert step["meta"] == V1_AS_V2["meta"]
    assert [n["position"] for n in step["nodes"]] == [{"x": 0, "y": 0}, {"x": 0, "y": 160}, {"x": 320.5, "y": 80},
                                                      {"x": 0, "y": 0}]
    assert [n.get("label") for n in step["nodes"]] == [None, None, "Letter", None]
    assert all(n["version"] == 1 for n in step["nodes"])
    assert step["edges"] == V1_AS_V2["edges"]


def test_step_1_fills_what_the_prototype_left_out():
    step = MIGRATIONS[1]({"version": 1, "nodes": [{"id": "a", "type": "io.input", "pos": [7]}], "edges": []})

    assert step["meta"] == {"name": "Untitled graph", "description": "", "tags": []}
    assert step["nodes"][0]["position"] == {"x": 7, "y": 0}
    assert step["nodes"][0]["config"] == {}


def test_format_1_may_also_say_format_version():
    data = json.loads(V1.read_text(encoding="utf-8"))
    data["format_version"] = data.pop("version")

    assert load_graph(data) == load_graph(V1_AS_V2)


def test_migrate_leaves_a_current_graph_alone():
    data = json.loads((SAMPLES / "welcome_letter.json").read_text(encoding="utf-8"))

    assert migrate(json.loads(json.dumps(data))) == data


def test_a_format_1_edge_that_is_not_node_dot_port_is_refused():
    data = {"version": 1, "name": "x", "nodes": [{"id": "a", "type": "io.input"}],
            "edges": [{"from": "a", "to": "b.x"}]}

    assert problems_of(data) == ["Edge source 'a' must look like 'node_id.port_name'."]


def test_an_incomplete_format_1_graph_is_refused_plainly():
    problems = problems_of({"version": 1, "nodes": [{"type": "io.input"}], "edges": []})

    assert problems[0].startswith("The format 1 graph is incomplete")


# --- refusing what cannot be read -------------------------------------------------------------------------


def test_a_newer_format_is_refused_with_a_clear_message():
    data = {**V1_AS_V2, "format_version": FORMAT_VERSION + 1}

    problems = problems_of(data)

    assert problems == [f"The graph uses format {FORMAT_VERSION + 1}, newer than this MindDocs reads "
                        f"({FORMAT_VERSION}); upgrade MindDocs."]


@pytest.mark.parametrize("version", [0, -1])
def test_an_unknown_old_format_is_refused(version):
    assert problems_of({**V1_AS_V2, "format_version": version}) == [
        f"Format version {version} is not known; it cannot be migrated."
    ]


@pytest.mark.parametrize("data", [{}, {"meta": {"name": "x"}}, {"format_version": "2", "meta": {"name": "x"}}])
def test_a_graph_without_a_format_version_number_is_refused(data):
    assert problems_of(data) == ["The graph has no 'format_version' number; is this a MindDocs graph file?"]


@pytest.mark.parametrize("source", ["", b"", "not json", b"{\"format_version\": 2,", b"\xff\xfe\x00"],
                         ids=["empty-text", "empty-bytes", "words", "cut-short", "not-utf8"])
def test_input_that_is_not_json_is_refused(source):
    (problem,) = problems_of(source)

    assert problem.startswith("The graph file is not valid JSON")


@pytest.mark.parametrize("source", ["[]", "2", "null", '"graph"'])
def test_json_that_is_not_an_object_is_refused(source):
    assert problems_of(source) == ["A graph must be a JSON object with 'meta', 'nodes' and 'edges'."]


def test_an_oversized_file_is_refused_before_parsing():
    source = b" " * MAX_GRAPH_BYTES + b"{}"

    assert problems_of(source) == ["The graph file is larger than 5 MB."]


def test_a_file_exactly_at_the_limit_is_parsed():
    text = json.dumps(V1_AS_V2)
    source = text + " " * (MAX_GRAPH_BYTES - len(text))

    assert load_graph(source) == load_graph(V1_AS_V2)


def test_every_shape_problem_is_listed_with_where_it_is():
    data = {"format_version": 2, "meta": {"name": ""}, "nodes": [{"id": "has space", "type": "io.input"}],
            "edges": [{"source": "a"}], "colour": "blue"}

    problems = problems_of(data)

    places = [p.split(":")[0] for p in problems]
    assert "meta.name" in places
    assert "nodes.0.id" in places
    assert "edges.0.source_port" in places
    assert "colour" in places


# --- the JSON Schema --------------------------------------------------------------------------------------


def _check(value, schema: dict, defs: dict, where: str = "graph") -> None:
    """Enough of JSON Schema to check a graph against `graph_json_schema()` (jsonschema is not installed)."""
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    if "anyOf" in schema:
        errors = []
        for option in schema["anyOf"]:
            try:
                _check(value, option, defs, where)
                return
            except AssertionError as exc:
                errors.append(str(exc))
        raise AssertionError(f"{where} fits none of the options: {errors}")
    if "const" in schema:
        assert value == schema["const"], where
    kind = schema.get("type")
    python = {"object": dict, "array": list, "string": str, "integer": int, "number": (int, float),
              "null": type(None), "boolean": bool}
    if kind:
        assert isinstance(value, python[kind]), f"{where}: {value!r} is not a JSON {kind}"
    if kind == "object":
        properties = schema.get("properties", {})
        for key in schema.get("required", []):
            assert key in value, f"{where}: '{key}' is required"
        if schema.get("additionalProperties") is False:
            assert set(value) <= set(properties), f"{where}: unexpected {set(value) - set(properties)}"
        for key, item in value.items():
            if key in properties:
                _check(item, properties[key], defs, f"{where}.{key}")
    if kind == "array" and "items" in schema:
        for i, item in enumerate(value):
            _check(item, schema["items"], defs, f"{where}[{i}]")
    if kind == "string":
        if "pattern" in schema:
            assert re.search(schema["pattern"], value), f"{where}: {value!r} does not match {schema['pattern']}"
        assert len(value) >= schema.get("minLength", 0), where
        assert len(value) <= schema.get("maxLength", len(value)), where
    if kind in ("integer", "number"):
        assert value >= schema.get("minimum", value), where
        assert value > schema.get("exclusiveMinimum", value - 1), where


def test_the_schema_is_json_schema_2020_12_of_the_current_format():
    schema = json.loads(json.dumps(graph_json_schema()))

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == f"MindDocs graph, format {FORMAT_VERSION}"
    assert set(schema["properties"]) == {"format_version", "meta", "nodes", "edges"}
    assert "meta" in schema["required"]
    assert {"NodeSpec", "EdgeSpec", "GraphMeta", "Position"} <= set(schema["$defs"])
    assert schema["$defs"]["NodeSpec"]["additionalProperties"] is False


@pytest.mark.parametrize("path", SAMPLE_PATHS, ids=lambda p: p.name)
def test_the_schema_accepts_the_sample_graphs(path: Path):
    schema = graph_json_schema()

    _check(json.loads(path.read_text(encoding="utf-8")), schema, schema["$defs"])


@pytest.mark.parametrize(
    "change",
    [
        lambda g: g["nodes"][0].update(id="has space"),
        lambda g: g["nodes"][0].update(colour="blue"),
        lambda g: g.update(format_version=1),
        lambda g: g["edges"][0].pop("target_port"),
        lambda g: g.pop("meta"),
    ],
    ids=["bad-node-id", "extra-node-field", "old-format", "edge-without-port", "no-meta"],
)
def test_the_schema_refuses_what_load_graph_refuses(change):
    # The hand-written checker above must be able to fail, or the test that uses it proves nothing.
    schema = graph_json_schema()
    data = json.loads((SAMPLES / "welcome_letter.json").read_text(encoding="utf-8"))
    change(data)

    with pytest.raises(AssertionError):
        _check(data, schema, schema["$defs"])


@pytest.mark.parametrize("path", [*SAMPLE_PATHS, V1], ids=lambda p: p.name)
def test_graphs_round_trip_through_json(path: Path):
    spec = load_graph(path.read_bytes())

    again = load_graph(json.dumps(spec.to_json()))

    assert again == spec
    assert again.to_json() == spec.to_json()
    assert isinstance(again, GraphSpec)
