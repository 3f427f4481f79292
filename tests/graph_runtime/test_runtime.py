"""The same graphs on every backend: embedded and Redis workers, SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from app.services import Services
from tests.conftest import SAMPLES
from tests.graphs import edge, graph, node, output
from tests.plugin_nodes import markers

SAMPLE_INPUTS = {
    "welcome_letter.json": ({"client_name": "Lucía Pérez"}, {"letter": "Estimado/a Lucía Pérez:"}),
    "booking_summary.json": ({}, {"guest": "Ana García", "summary": "Huésped / Guest: Ana García\n"}),
}


def run_graph(services: Services, spec: dict, inputs: dict | None = None, timeout: float = 60):
    version = services.graphs.save(spec)
    run_id = services.runs.start(version.id, inputs or {})
    return services.runs.wait(run_id, timeout_s=timeout)


def states(run) -> dict[str, str]:
    return {n.node_id: n.state for n in run.nodes}


@pytest.mark.parametrize("sample", sorted(SAMPLE_INPUTS))
def test_core_sample_graphs_run_on_every_backend(runtime, sample):
    # (every sample graph, document and media ones included, runs in tests/test_sample_graphs.py)
    inputs, expected = SAMPLE_INPUTS[sample]
    spec = json.loads((SAMPLES / sample).read_text())
    assert runtime.graphs.validate(spec) == []

    run = run_graph(runtime, spec, inputs)

    assert run.state == "succeeded", run.nodes
    for name, start in expected.items():
        assert run.outputs[name].startswith(start)


def test_independent_branches_run_side_by_side(runtime, tmp_path):
    # Given two 1-second nodes that do not depend on each other
    nodes = [node("a", "test.sleep", seconds=1.0), node("b", "test.sleep", seconds=1.0),
             node("j", "text.join", parts=2)]
    out, out_edge = output("out", "joined", "j")
    spec = graph(nodes + [out], [edge("a", "j", target_port="text_1"), edge("b", "j", target_port="text_2"), out_edge])

    run = run_graph(runtime, spec)

    # Then they overlapped in time, and the join saw both
    assert run.state == "succeeded"
    a, b = (next(n for n in run.nodes if n.node_id == x) for x in "ab")
    assert a.started_at < b.finished_at and b.started_at < a.finished_at
    assert run.outputs["joined"] == "a\n\nb"


def test_failed_node_stops_its_descendants_and_other_branches_finish(runtime):
    nodes = [node("bad", "test.fail"), node("after_bad", "test.sleep"), node("good", "test.sleep")]
    o1, e1 = output("o1", "from_bad", "after_bad")
    o2, e2 = output("o2", "from_good", "good")
    spec = graph(nodes + [o1, o2], [edge("bad", "after_bad"), e1, e2])

    run = run_graph(runtime, spec)

    assert run.state == "failed"
    assert states(run) == {"bad": "failed", "after_bad": "skipped", "o1": "skipped", "good": "succeeded",
                           "o2": "succeeded"}
    bad = next(n for n in run.nodes if n.node_id == "bad")
    assert bad.error_code == "node_error" and "document is empty" in bad.error_message
    assert next(n for n in run.nodes if n.node_id == "after_bad").error_message.startswith("Not run because")
    assert run.outputs == {"from_good": "good"}


def test_unexpected_error_gives_a_reference_and_the_traceback_goes_to_the_log(runtime):
    out, out_edge = output("out", "x", "crash")
    run = run_graph(runtime, graph([node("crash", "test.fail", kind="crash"), out], [out_edge]))

    crash = next(n for n in run.nodes if n.node_id == "crash")
    assert crash.error_code == "unexpected"
    assert "failed unexpectedly (ref " in crash.error_message
    ref = crash.error_message.split("(ref ")[1][:4]
    logs = runtime.runs.logs(run.id)
    assert any(ref in entry["message"] and "RuntimeError: boom" in entry["message"] for entry in logs)


def test_node_time_limit(runtime):
    out, out_edge = output("out", "x", "slow")
    run = run_graph(runtime, graph([node("slow", "test.sleep", seconds=30, timeout_s=0.5), out], [out_edge]))

    slow = next(n for n in run.nodes if n.node_id == "slow")
    assert (run.state, slow.state, slow.error_code) == ("failed", "failed", "timeout")
    assert "took longer than 0.5 s" in slow.error_message


def test_transient_errors_are_retried_and_user_errors_are_not(runtime, tmp_path):
    marks = tmp_path / "marks"
    flaky = node("flaky", "test.flaky", failures=2, marker_dir=str(marks))
    hopeless = node("hopeless", "test.flaky", failures=10, marker_dir=str(marks))
    o1, e1 = output("o1", "flaky", "flaky")
    o2, e2 = output("o2", "hopeless", "hopeless")

    run = run_graph(runtime, graph([flaky, hopeless, o1, o2], [e1, e2]))

    nodes = {n.node_id: n for n in run.nodes}
    assert nodes["flaky"].state == "succeeded" and nodes["flaky"].attempts == 3
    assert markers(marks, run.id, "flaky", "attempt") == 3
    assert nodes["hopeless"].state == "failed" and nodes["hopeless"].error_code == "transient"
    assert markers(marks, run.id, "hopeless", "attempt") == 4  # first try + max_retries (3)
    assert "503" in nodes["hopeless"].error_message


def test_fan_in_node_is_dispatched_exactly_once(runtime, tmp_path):
    # Given 12 quick parents finishing at about the same time, all feeding one join
    marks = tmp_path / "marks"
    parents = [node(f"p{i}", "test.sleep", seconds=0.05) for i in range(12)]
    join = node("j", "text.join", parts=12)
    counted = node("counted", "test.sleep", marker_dir=str(marks))
    out, out_edge = output("out", "joined", "counted")
    edges = [edge(f"p{i}", "j", target_port=f"text_{i + 1}") for i in range(12)] + [edge("j", "counted"), out_edge]
    spec = graph(parents + [join, counted, out], edges)

    for _ in range(3):
        run = run_graph(runtime, spec)
        # Then the join and what follows it ran once per run
        assert run.state == "succeeded"
        assert {n.node_id: n.attempts for n in run.nodes}["j"] == 1
        assert markers(marks, run.id, "counted", "start") == 1


def test_cancel_stops_a_run(runtime, tmp_path):
    marks = tmp_path / "marks"
    first = node("first", "test.sleep", seconds=1.0, marker_dir=str(marks))
    second = node("second", "test.sleep")
    out, out_edge = output("out", "x", "second")
    version = runtime.graphs.save(graph([first, second, out], [edge("first", "second"), out_edge]))
    run_id = runtime.runs.start(version.id, {})

    assert runtime.runs.cancel(run_id) is True
    run = runtime.runs.wait(run_id, 10)
    assert run.state == "cancelled"
    assert states(run)["second"] == "cancelled" and states(run)["out"] == "cancelled"
    assert runtime.runs.cancel(run_id) is False  # cancelling twice changes nothing


def test_large_outputs_go_to_the_artifact_store(runtime):
    big = node("big", "test.sleep", payload_chars=400_000)
    after = node("after", "test.sleep")
    out, out_edge = output("out", "text", "after")

    run = run_graph(runtime, graph([big, after, out], [edge("big", "after"), out_edge]))

    assert run.state == "succeeded"
    assert len(run.outputs["text"]) == 400_000 + len("big") + len("after")
    _, _, artifact = runtime.runs.runs.outputs_of(run.id, ["big"])["big"]
    assert artifact is not None and runtime.artifacts.path(artifact).exists()


def test_inputs_are_checked_before_anything_runs(runtime):
    from app.errors import InvalidGraph, InvalidInputs

    version = runtime.graphs.save(json.loads((SAMPLES / "welcome_letter.json").read_text()))
    with pytest.raises(InvalidInputs) as missing:
        runtime.runs.start(version.id, {"firm": "X"})
    assert "client_name" in missing.value.details
    with pytest.raises(InvalidInputs):
        runtime.runs.start(version.id, {"client_name": "A", "nope": 1})

    broken = runtime.graphs.save(graph([node("x", "text.join")], []))
    with pytest.raises(InvalidGraph) as invalid:
        runtime.runs.start(broken.id, {})
    assert {d["code"] for d in invalid.value.details} >= {"required_input_missing", "no_outputs"}
