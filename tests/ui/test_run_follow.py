"""Running from the editor (the canvas follows the run live), run again with the same inputs, and resume."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.conftest import make_settings
from tests.graphs import edge, graph, node
from tests.ui.test_editor import emit
from tests.ui.test_library import LETTER, graph_id
from tests.ui.test_runs import wait_finished

pytestmark = pytest.mark.anyio

# "ask" fails (no language model is configured in tests); "greet" succeeds and can be reused when resuming
ASK_AI = graph([node("name", "io.input", name="name", kind="text", label="Name"),
                node("greet", "text.template", template="Hola {{ name }}", variables=["name"]),
                node("ask", "llm.prompt", template="{{ text }}", variables=["text"]),
                node("out", "io.output", name="greeting"), node("answer", "io.output", name="answer")],
               [edge("name", "greet", "value", "name"), edge("greet", "out", "text", "value"),
                edge("greet", "ask", "text", "text"), edge("ask", "answer", "text", "value")], name="Ask the AI")
WITHOUT_AI = {**ASK_AI, "nodes": [n for n in ASK_AI["nodes"] if n["id"] not in ("ask", "answer")],
              "edges": [e for e in ASK_AI["edges"] if e["target"] not in ("ask", "answer")]}


@pytest.fixture
def ui_settings(tmp_path):
    """The sample graphs, and the test node types (test.sleep holds a node in 'running')."""
    return make_settings(tmp_path / "data", load_samples=True, runtime={"node_modules": ["tests.plugin_nodes"]})


async def canvas_until(canvas, predicate, timeout_s: float = 10) -> float:
    """Wait until the states pushed to the canvas satisfy `predicate`; the time it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if canvas.run_states and predicate(canvas.run_states):
            return time.monotonic() - start
        await asyncio.sleep(0.02)
    raise AssertionError(f"the canvas never got there; it shows {canvas.run_states}")


def new_run_ids(user, known: set[str]) -> list[str]:
    return [r.id for r in user.services.runs.list() if r.id not in known]


async def test_run_from_the_editor_shows_live_node_states_on_the_canvas(user):
    gid = graph_id(user, LETTER)
    await user.open(f"/graphs/{gid}/edit")
    canvas = user.find(marker="canvas").elements.pop()
    await user.should_not_see(marker="run-bar")
    user.services.executor.stop_worker()  # hold the run in 'queued' while we look

    # When Run asks for the inputs in a dialog on the editor page
    user.find(marker="run").click()
    await user.should_see(marker="run-dialog")
    user.find(marker="start-run").click()
    await user.should_see("«Client name» es obligatorio.")
    user.find(marker="field-client_name").type("Ana")
    user.find(marker="start-run").click()
    await canvas_until(canvas, lambda s: s["client"]["state"] == "queued")
    run_id = user.services.runs.list()[0].id
    assert user.back_history[-1] == f"/graphs/{gid}/edit"  # no navigation: the editor follows the run
    await user.should_see(marker="run-bar")
    await user.should_see(marker="follow-cancel")
    assert canvas.run_states["client"]["label"] == "en cola"

    # Then every state change reaches the canvas within about a second
    user.services.executor.start_worker(threads=2)
    await wait_finished(user, run_id)
    took = await canvas_until(canvas, lambda s: all(v["state"] == "succeeded" for v in s.values()))
    assert took < 1.5
    assert set(canvas.run_states) == {"client", "firm", "letter", "out"}
    assert all(v["label"].startswith("completado · ") and not v["error"] for v in canvas.run_states.values())
    await user.should_not_see(marker="follow-cancel")

    # Clicking a node shows what it produced in this run
    emit(canvas, "selection", {"nodes": ["letter"], "edges": []})
    await user.should_see(marker="node-run")
    await user.should_see("Estimado/a Ana:")

    # Closing the run bar clears the states from the canvas
    user.find(marker="follow-close").click()
    await user.should_not_see(marker="run-bar")
    assert canvas.run_states == {}
    await user.should_not_see(marker="node-run")


async def test_graph_without_inputs_starts_at_once_from_the_editor(user):
    spec = graph([node("hello", "text.template", template="Hola", variables=[]),
                  node("out", "io.output", name="greeting")],
                 [edge("hello", "out", "text", "value")], name="No inputs")
    gid = user.services.graphs.save(spec).graph_id
    await user.open(f"/graphs/{gid}/edit")
    canvas = user.find(marker="canvas").elements.pop()
    user.find(marker="run").click()
    await canvas_until(canvas, lambda s: all(v["state"] == "succeeded" for v in s.values()))
    await user.should_see(marker="run-bar")


async def test_failed_node_shows_its_error_and_resume_reuses_what_succeeded(user):
    gid = user.services.graphs.save(ASK_AI).graph_id
    await user.open(f"/graphs/{gid}/edit")
    canvas = user.find(marker="canvas").elements.pop()
    user.find(marker="run").click()
    user.find(marker="field-name").type("Ana")
    user.find(marker="start-run").click()
    await canvas_until(canvas, lambda s: s["ask"]["state"] == "failed" and s["answer"]["state"] == "skipped")
    failed_run = user.services.runs.list()[0].id
    await wait_finished(user, failed_run)
    assert canvas.run_states["ask"]["error"]  # the node's error sentence, shown on the node (full on hover)
    assert canvas.run_states["greet"]["state"] == "succeeded"
    emit(canvas, "selection", {"nodes": ["ask"], "edges": []})
    await user.should_see(marker="node-run-error")
    await user.should_see(marker="follow-resume")

    # When the person removes the failing branch and resumes
    emit(canvas, "key", {"key": "delete", "nodes": ["ask", "answer"], "edges": []})
    await user.should_see(marker="unsaved")
    user.find(marker="follow-resume").click()
    await user.should_see("Guardada la versión 2.")  # resume runs the latest version: the fix is saved first
    [resumed] = new_run_ids(user, {failed_run})
    await wait_finished(user, resumed)
    # Then the template's result is reused from the failed run instead of running again
    await canvas_until(canvas, lambda s: set(s) == {"name", "greet", "out"} and s["out"]["state"] == "succeeded")
    assert user.services.runs.get(resumed).outputs == {"greeting": "Hola Ana"}
    assert canvas.run_states["greet"]["reused"] == "run"
    assert canvas.run_states["greet"]["reused_label"] == "reutilizado"
    assert canvas.run_states["name"]["reused"] is None


async def test_run_detail_runs_again_with_the_same_inputs(user):
    gid = graph_id(user, LETTER)
    first = user.services.runs.start(user.services.graphs.latest(gid).id, {"client_name": "Luis"})
    await wait_finished(user, first)
    await user.open(f"/runs/{first}")
    await user.should_see("completado")
    await user.should_not_see(marker="resume")  # only a failed run resumes
    user.find(marker="rerun").click()
    [again] = new_run_ids(user, {first})
    await user.should_see(f"Ejecución {again[:8]}")
    await wait_finished(user, again)
    old, new = user.services.runs.get(first), user.services.runs.get(again)
    assert new.inputs == old.inputs and new.graph_version_id == old.graph_version_id
    assert new.outputs == old.outputs
    assert all(n.state == "succeeded" and getattr(n, "reused", None) is None for n in new.nodes)  # all ran again


async def test_run_detail_resumes_a_failed_run_and_badges_reused_nodes(user):
    version = user.services.graphs.save(ASK_AI)
    failed = user.services.runs.start(version.id, {"name": "Eva"})
    await wait_finished(user, failed)
    user.services.graphs.save(WITHOUT_AI, graph_id=version.graph_id)
    await user.open(f"/runs/{failed}")
    await user.should_see("fallido")
    await user.should_see(marker="resume")
    user.find(marker="resume").click()
    [resumed] = new_run_ids(user, {failed})
    await user.should_see(f"Ejecución {resumed[:8]}")
    await wait_finished(user, resumed)
    await user.should_see("reutilizado", retries=40)  # the page refreshes on a timer
    await user.should_see(marker="resumed-from")  # a link back to the failed run
    badge = user.find(marker="reused-greet").elements.pop()
    assert badge.visible and badge.text == "reutilizado"
    await user.should_not_see(marker="reused-out")  # it ran again (an io.output always runs)
    await user.should_not_see(marker="resume")  # the new run succeeded
    assert user.services.runs.get(resumed).outputs == {"greeting": "Hola Eva"}


async def test_runs_list_row_menu_runs_again(user):
    gid = graph_id(user, LETTER)
    first = user.services.runs.start(user.services.graphs.latest(gid).id, {"client_name": "Eva"})
    await wait_finished(user, first)
    await user.open("/runs")
    await user.should_see(marker=f"menu-{first}")
    await user.should_not_see(marker=f"resume-{first}")
    user.find(marker=f"rerun-{first}").click()
    [again] = new_run_ids(user, {first})
    await user.should_see(f"Ejecución {again[:8]}")


async def test_run_dialog_lists_the_graphs_problems_and_refuses_to_start(user):
    spec = graph([node("hello", "text.template", template="Hola {{ name }}", variables=["name"]),
                  node("out", "io.output", name="greeting")],
                 [edge("hello", "out", "text", "value")], name="Unwired")
    gid = user.services.graphs.save(spec).graph_id
    await user.open(f"/graphs/{gid}/edit")
    user.find(marker="run").click()
    await user.should_see(marker="run-dialog")
    await user.should_see(marker="issues")  # 'name' of the template is not wired
    user.find(marker="start-run").click()
    await user.should_see("The graph has problems; fix them before running it.")
    assert user.services.runs.list() == []
    await user.should_not_see(marker="run-bar")


async def test_following_an_unknown_run_says_so(user):
    gid = graph_id(user, LETTER)
    await user.open(f"/graphs/{gid}/edit?run=nope")
    await user.should_see("There is no run with id nope.")
    await user.should_not_see(marker="run-bar")
    assert user.find(marker="canvas").elements.pop().run_states == {}


async def test_a_running_node_shows_its_time_ticking_and_the_run_can_be_cancelled(user):
    spec = graph([node("slow", "test.sleep", seconds=20), node("out", "io.output", name="text")],
                 [edge("slow", "out", "text", "value")], name="Slow")
    gid = user.services.graphs.save(spec).graph_id
    await user.open(f"/graphs/{gid}/edit")
    canvas = user.find(marker="canvas").elements.pop()
    user.find(marker="run").click()
    await canvas_until(canvas, lambda s: s["slow"]["state"] == "running" and " · " in s["slow"]["label"])
    first = canvas.run_states["slow"]["label"]
    assert first.startswith("en curso · ")
    await canvas_until(canvas, lambda s: s["slow"]["label"] != first, timeout_s=2)  # the time goes on
    user.find(marker="follow-cancel").click()
    await canvas_until(canvas, lambda s: s["slow"]["state"] == "cancelled")
    await user.should_not_see(marker="follow-cancel")
    assert user.services.runs.list()[0].state == "cancelled"
