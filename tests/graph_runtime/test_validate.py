"""Whole-graph validation: one broken-graph fixture per issue code, sentences that name the node, port rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.services import load_registry
from graph_runtime.formats import load_graph
from graph_runtime.spec import GraphSpec
from graph_runtime.validate import validate_graph
from nodes.ports import (
    ANY,
    AUDIO,
    BOOL,
    DOCUMENT,
    FILE,
    IMAGE,
    JSON,
    NUMBER,
    TEXT,
    PortType,
    accepts,
    list_of,
)
from nodes.registry import Registry
from tests.conftest import FIXTURES, SAMPLES, make_settings

GRAPHS = FIXTURES / "graphs"

#: fixture file -> (code, node_id, port) of the one issue it must yield
BROKEN = {
    "cycle.json": ("cycle", "j1", None),
    "unknown_node_type.json": ("unknown_node_type", "ocr", None),
    "unknown_node_version.json": ("unknown_node_version", "letter", None),
    "duplicate_node_id.json": ("duplicate_node_id", "client", None),
    "dangling_edge.json": ("dangling_edge", "client", None),
    "unknown_port.json": ("unknown_port", "j", "text_9"),
    "duplicate_edge_target.json": ("duplicate_edge_target", "out", "value"),
    "required_input_missing.json": ("required_input_missing", "j", "text_1"),
    "type_mismatch.json": ("type_mismatch", "j", "text_1"),
    "duplicate_input_name.json": ("duplicate_input_name", "client_a", "name"),
    "duplicate_output_name.json": ("duplicate_output_name", "out_a", "name"),
    "no_outputs.json": ("no_outputs", None, None),
}


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Registry:
    return load_registry(make_settings(tmp_path_factory.mktemp("data")))


def load(path: Path) -> GraphSpec:
    return load_graph(path.read_bytes())


def graph(nodes: list[dict], edges: list[tuple[str, str, str, str]]) -> GraphSpec:
    return load_graph({
        "format_version": 2,
        "meta": {"name": "inline test graph"},
        "nodes": nodes,
        "edges": [{"source": s, "source_port": sp, "target": t, "target_port": tp} for s, sp, t, tp in edges],
    })


def node(node_id: str, type_id: str, **config) -> dict:
    return {"id": node_id, "type": type_id, "version": 1, "config": config}


def test_every_fixture_is_checked():
    on_disk = {p.name for p in GRAPHS.glob("*.json") if not p.name.startswith("format_")}
    assert on_disk == set(BROKEN) | {"invalid_config.json"}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_fixture_yields_its_code(registry, name):
    code, node_id, port = BROKEN[name]

    issues = validate_graph(load(GRAPHS / name), registry)

    assert [(i.code, i.node_id, i.port) for i in issues] == [(code, node_id, port)], [str(i) for i in issues]
    assert issues[0].message.endswith("."), issues[0].message


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_fixture_issue_carries_the_values_of_its_sentence(registry, name):
    (issue,) = validate_graph(load(GRAPHS / name), registry)

    # every value the English sentence names is in params, so that the UI can say it in another language
    nodes = [v for v in issue.params.values() if isinstance(v, dict)] + [
        v for value in issue.params.values() if isinstance(value, list) for v in value if isinstance(v, dict)]
    for ref in nodes:
        assert set(ref) == {"id", "type", "label", "name"} and f"#{ref['id']}" in issue.message, ref
    for key, value in issue.params.items():
        if isinstance(value, str | int) and key not in ("variant", "side", "error"):
            assert str(value) in issue.message, (key, value, issue.message)
    assert issue.params or issue.code == "no_outputs"


def test_invalid_config_reports_each_bad_setting_and_nothing_else(registry):
    # Given a 99-part join and a template that does not compile, both with edges into their config-driven inputs
    spec = load(GRAPHS / "invalid_config.json")

    # When the graph is validated
    issues = validate_graph(spec, registry)

    # Then each bad setting is one invalid_config issue, and the inputs that depend on the settings are not
    # reported as missing ports (the node's ports are unknown until its settings are fixed)
    assert [(i.code, i.node_id, i.port) for i in issues] == [
        ("invalid_config", "j", "parts"),
        ("invalid_config", "letter", None),
    ], [str(i) for i in issues]
    parts, template = issues
    assert parts.message == "Setting 'parts' of Join texts #j should be less than or equal to 20."
    assert template.message.startswith("The settings of Text template #letter ")
    assert "mistake on line 1" in template.message
    assert not template.message.endswith(".."), template.message


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_sample_graphs_are_clean(registry, path):
    assert validate_graph(load(path), registry) == []


def test_format_1_fixture_is_clean_after_migration(registry):
    assert validate_graph(load(GRAPHS / "format_v1.json"), registry) == []


def test_a_graph_with_several_problems_reports_all_of_them(registry):
    # Given a graph with an uninstalled node type, an image wired into a text join, a join input left
    # unconnected, a dangling edge and no Output node
    spec = graph(
        [node("photo", "io.input", name="photo", kind="image"), node("ocr", "pdf.magic_ocr"),
         node("j", "text.join", parts=3)],
        [("photo", "value", "ocr", "image"), ("photo", "value", "j", "text_2"), ("ocr", "text", "j", "text_3"),
         ("j", "text", "ghost", "value")],
    )

    # When it is validated
    issues = validate_graph(spec, registry)

    # Then every problem is reported in one go
    assert sorted((i.code, i.node_id, i.port) for i in issues) == [
        ("dangling_edge", "j", None),
        ("no_outputs", None, None),
        ("required_input_missing", "j", "text_1"),
        ("type_mismatch", "j", "text_2"),
        ("unknown_node_type", "ocr", None),
    ]


def test_messages_are_sentences_that_name_the_node(registry):
    issues = validate_graph(load(GRAPHS / "type_mismatch.json"), registry)

    assert issues[0].message.startswith(
        "Port 'text_1' of Join texts #j expects Text but receives Image from Input #photo; "
    )
    assert str(issues[0]).startswith("[type_mismatch] Port 'text_1'")
    assert issues[0].to_json() == {
        "code": "type_mismatch", "message": issues[0].message, "node_id": "j", "port": "text_1",
        "params": {"port": "text_1", "expects": "Text", "receives": "Image",
                   "node": {"id": "j", "type": "text.join", "label": None, "name": "Join texts"},
                   "source": {"id": "photo", "type": "io.input", "label": None, "name": "Input"}},
    }


def test_a_node_label_names_the_node_in_messages(registry):
    labelled = {**node("j", "text.join"), "label": "Opening paragraph"}
    spec = graph([node("client", "io.input", name="client"), labelled, node("out", "io.output", name="text")],
                 [("client", "value", "j", "text_2"), ("j", "text", "out", "value")])

    (issue,) = validate_graph(spec, registry)

    assert issue.message == ("Input 'text_1' (Text) of Opening paragraph #j is not connected; connect a node "
                             "that produces it.")


def test_cycle_message_walks_the_loop(registry):
    (issue,) = validate_graph(load(GRAPHS / "cycle.json"), registry)

    assert "Join texts #j1 → Join texts #j2 → Join texts #j1" in issue.message


def test_a_node_wired_to_itself_is_a_cycle(registry):
    spec = graph([node("client", "io.input", name="client"), node("j", "text.join"),
                  node("out", "io.output", name="text")],
                 [("client", "value", "j", "text_1"), ("j", "text", "j", "text_2"), ("j", "text", "out", "value")])

    assert [(i.code, i.node_id) for i in validate_graph(spec, registry)] == [("cycle", "j")]


def test_unknown_port_lists_the_ports_that_exist(registry):
    (issue,) = validate_graph(load(GRAPHS / "unknown_port.json"), registry)

    assert issue.message == "Join texts #j has no input 'text_9'; its inputs are: text_1, text_2."


def test_an_empty_graph_says_what_to_add(registry):
    issues = validate_graph(graph([], []), registry)

    assert [i.code for i in issues] == ["empty_graph"]


def test_too_many_nodes_is_the_only_issue(registry):
    spec = load(SAMPLES / "booking_summary.json")  # 9 nodes, 10 edges
    assert len(spec.nodes) == 9

    issues = validate_graph(spec, registry, max_nodes=8)

    assert [i.code for i in issues] == ["too_many_nodes"]
    assert "limit is 8 nodes" in issues[0].message
    assert validate_graph(spec, registry, max_nodes=9) == []


def test_too_many_edges_counts_as_too_many_nodes(registry):
    # 4 nodes within a limit of 4, but 17 edges (more than 4 per node allowed)
    spec = graph([node("client", "io.input", name="client"), node("j", "text.join", parts=20),
                  node("out", "io.output", name="text"), node("out2", "io.output", name="text2")],
                 [("client", "value", "j", f"text_{i}") for i in range(1, 16)]
                 + [("j", "text", "out", "value"), ("j", "text", "out2", "value")])

    assert [i.code for i in validate_graph(spec, registry, max_nodes=4)] == ["too_many_nodes"]
    assert validate_graph(spec, registry, max_nodes=5) == []


@pytest.mark.parametrize(
    ("target", "source", "ok"),
    [
        (FILE, DOCUMENT, True),
        (FILE, IMAGE, True),
        (FILE, AUDIO, True),
        (FILE, FILE, True),
        (DOCUMENT, FILE, False),
        (IMAGE, DOCUMENT, False),
        (JSON, TEXT, True),
        (JSON, NUMBER, True),
        (JSON, BOOL, True),
        (JSON, list_of(TEXT), True),
        (JSON, DOCUMENT, False),
        (JSON, list_of(IMAGE), False),
        (TEXT, JSON, False),
        (TEXT, DOCUMENT, False),
        (TEXT, NUMBER, False),
        (list_of(FILE), list_of(IMAGE), True),
        (list_of(IMAGE), list_of(FILE), False),
        (list_of(TEXT), TEXT, False),
        (TEXT, list_of(TEXT), False),
        (ANY, IMAGE, True),
        (TEXT, ANY, True),
        (PortType("Text"), TEXT, True),
    ],
    ids=lambda v: str(v),
)
def test_port_type_compatibility(target: PortType, source: PortType, ok: bool):
    assert accepts(target, source) is ok
