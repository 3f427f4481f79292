"""The editor: the model's rules (no browser) and the page through the simulated user."""

from __future__ import annotations

import pytest

from tests.ui.test_library import LETTER, graph_id
from ui.editor_model import EditorModel, edge_id


@pytest.fixture
def model(services):
    return EditorModel(services, {"format_version": 2, "meta": {"name": "G"}, "nodes": [], "edges": []},
                       services.registry.catalogue())


def build(model):
    a = model.add_node("io.input", 0, 0)
    b = model.add_node("text.template", 300, 0)
    c = model.add_node("io.output", 600, 0)
    model.set_config(b, "variables", ["name"])
    model.set_config(b, "template", "Hola {{ name }}")
    return a, b, c


def test_add_connect_and_validate(model):
    a, b, c = build(model)
    assert (a, b, c) == ("input_1", "template_1", "output_1")
    assert model.spec["nodes"][0]["config"]["name"] == "input_1"
    assert model.issues  # nothing wired yet
    assert model.connect(a, "value", b, "name") is None
    assert model.connect(b, "text", c, "value") is None
    assert model.issues == []
    nodes, edges = model.flow()
    assert [p["name"] for p in nodes[1]["data"]["inputs"]] == ["name"]  # ports follow the config
    assert edges[0]["style"]["stroke"].startswith("#")


def test_incompatible_and_looping_connections_are_refused_with_a_reason(model, services):
    a, b, _ = build(model)
    j = model.add_node("text.join", 0, 300)
    model.set_config(a, "kind", "image")
    reason = model.connect(a, "value", j, "text_1")
    assert reason == "'text_1' expects Text but 'value' gives Image."
    model.set_config(a, "kind", "text")
    assert model.connect(a, "value", j, "text_1") is None
    assert model.connect(j, "text", a, "value") == "That port no longer exists."
    assert model.connect(b, "text", b, "name") == "A node cannot feed itself."
    model.connect(a, "value", b, "name")
    model.connect(b, "text", j, "text_2")
    j2 = model.add_node("text.join", 0, 600)
    model.connect(j, "text", j2, "text_1")
    model.set_config(b, "variables", ["name", "more"])
    model.set_config(b, "template", "{{ name }}{{ more }}")
    assert model.connect(j2, "text", b, "more") == "This wire would make a loop; a graph must flow one way."
    assert model.compat()["Text"]["Image"] is False and model.compat()["File"]["Image"] is True


def test_undo_redo_delete_and_typing_coalesces(model):
    a, b, _ = build(model)
    model.connect(a, "value", b, "name")
    model.delete([b])
    assert model.node(b) is None and model.spec["edges"] == []
    assert model.undo()
    assert model.node(b) is not None and len(model.spec["edges"]) == 1
    assert model.redo()
    assert model.node(b) is None
    model.undo()
    before = len(model.undo_stack)
    for text in ("H", "Ho", "Hol", "Hola"):
        model.set_config(b, "template", text)
    assert len(model.undo_stack) == before + 1  # one undo step for the whole typing


def test_copy_paste_keeps_inner_wires_and_renames(model):
    a, b, _ = build(model)
    model.connect(a, "value", b, "name")
    fragment = model.copy([a, b])
    new = model.paste(fragment)
    assert new == ["input_2", "template_2"]
    assert {"source": "input_2", "source_port": "value", "target": "template_2", "target_port": "name"} \
        in model.spec["edges"]


def test_auto_layout_by_generation(model):
    a, b, c = build(model)
    model.connect(a, "value", b, "name")
    model.connect(b, "text", c, "value")
    for node in model.spec["nodes"]:
        node["position"] = {"x": 5, "y": 5}
    model.auto_layout()
    assert [model.node(n)["position"]["x"] for n in (a, b, c)] == [0, 300, 600]


def test_edge_id_is_stable():
    assert edge_id({"source": "a", "source_port": "x", "target": "b", "target_port": "y"}) == "a:x->b:y"


@pytest.mark.anyio
async def test_editor_page_adds_wires_saves_and_restores_draft(user):
    gid = graph_id(user, LETTER)
    await user.open(f"/graphs/{gid}/edit")
    await user.should_see(marker="canvas")
    await user.should_see("No hay problemas.")
    canvas = user.find(marker="canvas").elements.pop()
    assert {n["id"] for n in canvas.nodes} == {"client", "firm", "letter", "out"}

    user.find(marker="palette-text.join").click()
    await user.should_see(marker="node-panel")
    assert any(n["id"] == "join_1" for n in canvas.nodes)
    await user.should_see(marker="unsaved")
    await user.should_see(marker="issue")  # the new join has unwired inputs

    # an incompatible wire is refused with a sentence
    canvas._event_listeners  # noqa: B018  (the element exists and listens)

    def emit(kind, args):
        for listener in canvas._event_listeners.values():
            if listener.type == kind:
                canvas._handle_event({"listener_id": listener.id, "args": args})

    user.find(marker="palette-json.get").click()
    emit("connect", {"source": "get_1", "source_port": "value", "target": "join_1", "target_port": "text_1"})
    await user.should_see("Conexión rechazada: «text_1» espera Text, pero «value» da Json.")
    emit("key", {"key": "delete", "nodes": ["get_1"], "edges": []})
    emit("key", {"key": "delete", "nodes": ["join_1"], "edges": []})
    await user.should_not_see(marker="issue")
    emit("key", {"key": "undo", "nodes": [], "edges": []})
    await user.should_see(marker="issue")
    assert any(n["id"] == "join_1" for n in canvas.nodes)

    # the draft survives a reload
    await user.open(f"/graphs/{gid}/edit")
    await user.should_see(marker="draft-restored")
    canvas = user.find(marker="canvas").elements.pop()
    assert any(n["id"] == "join_1" for n in canvas.nodes)

    user.find(marker="save").click()
    await user.should_see("Guardada la versión 2.")
    assert any(n["id"] == "join_1" for n in user.services.graphs.latest(gid).spec["nodes"])


def emit(canvas, kind, args):
    for listener in list(canvas._event_listeners.values()):
        if listener.type == kind:
            canvas._handle_event({"listener_id": listener.id, "args": args})


@pytest.mark.anyio
async def test_copy_paste_between_graphs_and_drop_from_palette(user):
    gid = graph_id(user, LETTER)
    other = user.services.graphs.save({"format_version": 2, "meta": {"name": "Otro"}, "nodes": [], "edges": []})
    await user.open(f"/graphs/{gid}/edit")
    canvas = user.find(marker="canvas").elements.pop()
    emit(canvas, "key", {"key": "copy", "nodes": ["client", "letter"], "edges": []})
    await user.open(f"/graphs/{other.graph_id}/edit")
    canvas = user.find(marker="canvas").elements.pop()
    emit(canvas, "key", {"key": "paste", "nodes": [], "edges": []})
    emit(canvas, "drop", {"type_id": "io.output", "x": 640, "y": 80})
    await user.should_see(marker="unsaved")
    assert {n["id"] for n in canvas.nodes} == {"input_1", "template_1", "output_1"}
    assert {(e["source"], e["target"]) for e in canvas.edges} == {("input_1", "template_1")}
    emit(canvas, "connect", {"source": "template_1", "source_port": "text", "target": "output_1",
                             "target_port": "value"})
    emit(canvas, "moved", [{"id": "output_1", "x": 700, "y": 96}])
    emit(canvas, "key", {"key": "save", "nodes": [], "edges": []})
    await user.should_see("Guardada la versión 2.")
    spec = user.services.graphs.latest(other.graph_id).spec
    assert next(n for n in spec["nodes"] if n["id"] == "output_1")["position"] == {"x": 700, "y": 96}
    assert len(spec["edges"]) == 2


@pytest.mark.anyio
async def test_canvas_shows_a_runs_node_states(user):
    gid = graph_id(user, LETTER)
    run_id = user.services.runs.start(user.services.graphs.latest(gid).id, {"client_name": "Ana"})
    user.services.runs.wait(run_id, timeout_s=30)
    await user.open(f"/graphs/{gid}/edit?run={run_id}")
    canvas = user.find(marker="canvas").elements.pop()
    states = canvas.run_states
    assert set(states) == {"client", "firm", "letter", "out"}
    assert all(s["state"] == "succeeded" for s in states.values())
    assert all(s["label"].startswith("completado · ") for s in states.values())  # state · time
    await user.should_see(marker="run-bar")
    await user.should_see(f"Ejecución {run_id[:8]}")
    await user.should_not_see(marker="follow-cancel")  # finished: nothing to cancel


@pytest.mark.anyio
async def test_config_form_validates_live(user):
    from nicegui import ui

    gid = graph_id(user, LETTER)
    await user.open(f"/graphs/{gid}/edit")
    canvas = user.find(marker="canvas").elements.pop()
    emit(canvas, "selection", {"nodes": ["letter"], "edges": []})
    await user.should_see(marker="config-template")
    field = user.find(marker="config-template").elements.pop()
    area = next(e for e in field.descendants() if isinstance(e, ui.textarea))
    area.set_value("Hola {{ nadie }}")
    await user.should_see("the template uses nadie but no such variable is declared; add it")
    letter = next(n for n in canvas.nodes if n["id"] == "letter")
    assert letter["data"]["issues"]  # the problem is shown on the node too
