"""Flow control and durable execution: branches, for-each loops, reuse of results, resume, limits."""

from __future__ import annotations

import time

import pytest

from tests.graph_runtime.test_runtime import run_graph, states
from tests.graphs import edge, graph, node, output
from tests.plugin_nodes import markers


def json_input(node_id: str, name: str) -> dict:
    return node(node_id, "io.input", name=name, kind="json")


def loop_graph(body_template: str = "{{ item.name }} ({{ index }})", *, on_item_error: str = "fail_run",
               concurrency: int = 4, fail_on: str | None = None, body_extra: dict | None = None) -> dict:
    """clients (json list) -> for each -> text.template per item [-> check] -> collect -> output."""
    nodes = [json_input("clients", "clients"),
             node("each", "flow.for_each", concurrency=concurrency, on_item_error=on_item_error),
             node("letter", "text.template", template=body_template, variables=["item", "index"]),
             node("gather", "flow.collect"),
             node("out", "io.output", name="letters"), node("errors", "io.output", name="errors")]
    edges = [edge("clients", "each", "value", "items"), edge("each", "letter", "item", "item"),
             edge("each", "letter", "index", "index"), edge("gather", "out", "items", "value"),
             edge("gather", "errors", "errors", "value")]
    if fail_on is None:
        edges.append(edge("letter", "gather", "text", "item"))
    else:  # a condition per item that fails on one of them: its test divides by zero for that item
        nodes.append(node("check", "flow.condition", expression=f"(1 / (0 if value == '{fail_on}' else 1)) > 0"))
        nodes.append(node("shout", "text.template", template="{{ t|upper }}", variables=["t"], **(body_extra or {})))
        edges += [edge("letter", "check", "text", "value"), edge("check", "shout", "true", "t"),
                  edge("shout", "gather", "text", "item")]
    return graph(nodes, edges, name="loop")


CLIENTS = [{"name": f"Cliente {i}"} for i in range(12)]


# --- branches -----------------------------------------------------------------------------------
def branch_graph() -> dict:
    nodes = [node("amount", "io.input", name="amount", kind="number"),
             node("test", "flow.condition", expression="value > 1000"),
             node("big", "text.template", template="Importe alto: {{ v }}", variables=["v"]),
             node("small", "text.template", template="Importe normal: {{ v }}", variables=["v"]),
             node("after_small", "text.template", template="{{ t }}!", variables=["t"]),
             node("merge", "flow.merge"), node("out", "io.output", name="message")]
    edges = [edge("amount", "test", "value", "value"), edge("test", "big", "true", "v"),
             edge("test", "small", "false", "v"), edge("small", "after_small", "text", "t"),
             edge("big", "merge", "text", "a"), edge("after_small", "merge", "text", "b"),
             edge("merge", "out", "value", "value")]
    return graph(nodes, edges, name="branch")


def test_condition_takes_one_branch_and_skips_the_other_until_merge(runtime):
    run = run_graph(runtime, branch_graph(), {"amount": 5000})
    assert run.state == "succeeded", run.nodes
    assert run.outputs == {"message": "Importe alto: 5000.0"}
    assert states(run) | {} == {"amount": "succeeded", "test": "succeeded", "big": "succeeded",
                                "small": "skipped", "after_small": "skipped", "merge": "succeeded",
                                "out": "succeeded"}

    run = run_graph(runtime, branch_graph(), {"amount": 20})
    assert run.outputs == {"message": "Importe normal: 20.0!"}
    assert states(run)["big"] == "skipped" and states(run)["after_small"] == "succeeded"


def test_a_condition_that_cannot_be_evaluated_fails_with_a_sentence(runtime):
    spec = branch_graph()
    spec["nodes"][1]["config"]["expression"] = "value.missing > 3"
    run = run_graph(runtime, spec, {"amount": 5})
    assert run.state == "failed"
    failed = next(n for n in run.nodes if n.node_id == "test")
    assert "does not exist" in failed.error_message or "undefined" in failed.error_message


# --- loops --------------------------------------------------------------------------------------
def test_for_each_runs_the_body_once_per_item_and_collects_in_order(runtime):
    run = run_graph(runtime, loop_graph(concurrency=3), {"clients": CLIENTS})

    assert run.state == "succeeded", [(n.node_id, n.state, n.error_message) for n in run.nodes if n.state != "succeeded"]
    assert run.outputs["letters"] == [f"Cliente {i} ({i})" for i in range(12)]
    assert run.outputs["errors"] == []
    items = [n for n in run.nodes if n.item is not None]
    assert sorted(n.item for n in items) == list(range(12))
    assert all(n.state == "succeeded" and n.attempts == 1 for n in items)
    assert states(run)["letter"] == "succeeded"  # the body node's own row sums its items up


def test_for_each_respects_its_concurrency_limit(runtime):
    spec = loop_graph(concurrency=2)
    spec["nodes"].append(node("slow", "test.sleep", seconds=0.3))
    spec["edges"] = [e for e in spec["edges"] if e["target"] != "gather"] + [
        edge("letter", "slow"), edge("slow", "gather", "text", "item")]
    run = run_graph(runtime, spec, {"clients": CLIENTS[:6]})

    assert run.state == "succeeded"
    spans = [(n.started_at, n.finished_at) for n in run.nodes if n.node_id.startswith("slow[")]
    most = max(sum(1 for s, f in spans if s <= t < f) for t, _ in spans)
    assert most <= 2, spans
    assert len(run.outputs["letters"]) == 6


def test_an_empty_list_gives_an_empty_collection(runtime):
    run = run_graph(runtime, loop_graph(), {"clients": []})
    assert run.state == "succeeded"
    assert run.outputs == {"letters": [], "errors": []}


def test_a_failing_item_can_be_left_out_and_reported(runtime):
    run = run_graph(runtime, loop_graph(on_item_error="skip_item", fail_on="Cliente 3 (3)"), {"clients": CLIENTS[:6]})

    assert run.state == "succeeded", run.nodes
    assert run.outputs["letters"] == [f"CLIENTE {i} ({i})" for i in range(6) if i != 3]
    [error] = run.outputs["errors"]
    assert error["item"] == 3 and error["node"] == "check" and "division" in error["error"]


def test_a_failing_item_stops_the_loop_and_fails_the_run_by_default(runtime):
    run = run_graph(runtime, loop_graph(fail_on="Cliente 1 (1)", concurrency=1), {"clients": CLIENTS[:6]})

    assert run.state == "failed"
    by_id = {n.node_id: n for n in run.nodes}
    assert by_id["check"].state == "failed" and by_id["check"].error_message.startswith("Item 1:")
    assert by_id["gather"].state == "skipped" and by_id["out"].state == "skipped"
    assert by_id["letter[5]"].state == "skipped"  # items after the failure never started


# --- reuse, resume, limits ------------------------------------------------------------------------
def cached_chain(marks, second: str = "b") -> dict:
    nodes = [node("a", "test.sleep", marker_dir=str(marks), cacheable=True),
             node("b", "text.template", template=f"{second} {marks.name} {{{{ t }}}}", variables=["t"]),
             node("c", "test.sleep", marker_dir=str(marks), cacheable=True)]
    out, out_edge = output("out", "text", "c")
    return graph(nodes + [out], [edge("a", "b", "text", "t"), edge("b", "c"), out_edge], name="cached")


def test_an_unchanged_graph_is_served_from_the_cache_and_an_edit_reruns_only_what_it_touches(runtime, tmp_path):
    first = run_graph(runtime, cached_chain(tmp_path))
    second = run_graph(runtime, cached_chain(tmp_path))
    assert second.outputs == first.outputs
    assert {n.node_id: n.reused for n in second.nodes if n.node_id != "out"} == {"a": "cache", "b": "cache",
                                                                                 "c": "cache"}
    assert markers(tmp_path, second.id, "a", "start") == 0

    edited = run_graph(runtime, cached_chain(tmp_path, second="B"))
    assert {n.node_id: n.reused for n in edited.nodes if n.node_id != "out"} == {"a": "cache", "b": None, "c": None}
    assert markers(tmp_path, edited.id, "c", "start") == 1

    version = runtime.graphs.save(cached_chain(tmp_path))
    forced = runtime.runs.wait(runtime.runs.start(version.id, {}, force=["a"]))
    assert {n.node_id: n.reused for n in forced.nodes}["a"] is None
    fresh = runtime.runs.wait(runtime.runs.start(version.id, {}, no_cache=True))
    assert all(n.reused is None for n in fresh.nodes)


def test_resume_reuses_what_succeeded_and_runs_the_fixed_node(runtime, tmp_path):
    nodes = [node("a", "test.sleep", marker_dir=str(tmp_path)), node("b", "test.fail")]
    out, out_edge = output("out", "text", "b")
    broken = graph(nodes + [out], [edge("a", "b"), out_edge], name="to resume")
    version = runtime.graphs.save(broken)
    failed = runtime.runs.wait(runtime.runs.start(version.id, {}))
    assert failed.state == "failed"

    fixed = graph([nodes[0], node("b", "text.template", template="fixed {{ text }}", variables=["text"]), out],
                  [edge("a", "b"), out_edge], name="to resume")
    runtime.graphs.save(fixed, graph_id=version.graph_id)
    resumed = runtime.runs.wait(runtime.runs.resume(failed.id))

    assert resumed.state == "succeeded"
    assert resumed.outputs == {"text": "fixed a"}
    assert {n.node_id: n.reused for n in resumed.nodes}["a"] == "run"  # not deterministic, still reused
    assert markers(tmp_path, resumed.id, "a", "start") == 0

    again = runtime.runs.wait(runtime.runs.rerun(resumed.id))
    assert again.state == "succeeded" and markers(tmp_path, again.id, "a", "start") == 1


def test_cancel_interrupts_a_running_node_cooperatively(runtime, tmp_path):
    nodes = [node("slow", "test.sleep", seconds=20, marker_dir=str(tmp_path)), node("after", "test.sleep")]
    out, out_edge = output("out", "text", "after")
    version = runtime.graphs.save(graph(nodes + [out], [edge("slow", "after"), out_edge]))
    run_id = runtime.runs.start(version.id, {})
    deadline = time.monotonic() + 10
    while markers(tmp_path, run_id, "slow", "start") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    assert runtime.runs.cancel(run_id)

    while time.monotonic() - started < 10:
        run = runtime.runs.get(run_id)
        if states(run)["slow"] != "running":
            break
        time.sleep(0.05)
    assert states(run)["slow"] == "cancelled" and states(run)["after"] == "cancelled"
    assert time.monotonic() - started < 5
    assert markers(tmp_path, run_id, "slow", "end") == 0


def test_a_run_past_its_time_limit_is_stopped(runtime, tmp_path):
    nodes = [node("slow", "test.sleep", seconds=20)]
    out, out_edge = output("out", "text", "slow")
    version = runtime.graphs.save(graph(nodes + [out], [out_edge]))
    run_id = runtime.engine.start(version.id, runtime.graphs.owner_id, {}, {"timeout_s": 1},
                                  workspace_id=runtime.graphs.scope.workspace_id)
    run = runtime.runs.wait(run_id, timeout_s=15)
    assert run.state == "failed" and run.error_code == "run_timeout"
    assert "1 s" in run.error_message


# --- loop shapes are checked before anything runs -------------------------------------------------
def codes(runtime, spec) -> list[tuple[str, str]]:
    return sorted((issue["code"], issue["node_id"]) for issue in runtime.graphs.validate(spec))


@pytest.mark.parametrize("runtime", ["embedded-sqlite"], indirect=True)
def test_loop_shapes_that_cannot_run_are_reported(runtime):
    good = loop_graph()
    assert codes(runtime, good) == []

    no_collect = {**good, "nodes": [n for n in good["nodes"] if n["id"] != "gather"],
                  "edges": [e for e in good["edges"] if "gather" not in (e["source"], e["target"])]}
    no_collect["nodes"].append(node("o2", "io.output", name="l"))
    no_collect["edges"].append(edge("letter", "o2", "text", "value"))
    assert ("loop_without_collect", "each") in codes(runtime, no_collect)

    leak = {**good, "nodes": good["nodes"] + [node("side", "io.output", name="side")],
            "edges": good["edges"] + [edge("letter", "side", "text", "value")]}
    assert ("loop_leak", "letter") in codes(runtime, leak)

    orphan = {**good, "nodes": good["nodes"] + [node("lonely", "flow.collect"), node("o3", "io.output", name="x")],
              "edges": good["edges"] + [edge("clients", "lonely", "value", "item"),
                                        edge("lonely", "o3", "items", "value")]}
    assert ("collect_without_loop", "lonely") in codes(runtime, orphan)

    nested = loop_graph()
    nested["nodes"] += [node("inner", "flow.for_each"), node("inner_gather", "flow.collect")]
    nested["edges"] = [e for e in nested["edges"] if e["target"] != "gather"] + [
        edge("letter", "inner", "text", "items"), edge("inner", "inner_gather", "item", "item"),
        edge("inner_gather", "gather", "items", "item")]
    found = codes(runtime, nested)
    assert ("loop_nested", "inner") in found or ("loop_collect_ambiguous", "each") in found
    message = next(i["message"] for i in runtime.graphs.validate(leak) if i["code"] == "loop_leak")
    assert "Collect #gather" in message and "#side" in message


@pytest.mark.parametrize("runtime", ["embedded-sqlite"], indirect=True)
def test_the_cache_evicts_least_recently_used_entries_past_its_size(runtime, tmp_path):
    from datetime import timedelta

    from storage.cache import NodeCache

    cache = NodeCache(runtime.db, runtime.artifacts, max_bytes=10_000, touch_every=timedelta(0))
    big = runtime.artifacts.put_bytes(b"x" * 3000, name="big.json", media_type="application/json")
    key = "{:064d}".format
    for i in (1, 2, 3, 4):
        cache.put(key(i), "test.node", {"text": "y" * 2000}, None, 2100)
        time.sleep(0.01)
    assert cache.get(key(1)) is not None  # used again: now the most recent of the four
    cache.put(key(0), "test.node", None, big.artifact, 3000)  # 11,400 bytes in all: over the limit

    assert cache.get(key(2)) is None and cache.get(key(3)) is None  # the least recently used went first
    assert cache.get(key(1)) is not None and cache.get(key(0)) is not None
    assert cache.stats()["bytes"] <= 10_000
    assert cache.clear() >= 1 and cache.stats()["entries"] == 0
    assert not runtime.artifacts.backend.exists(big.artifact)  # the cache's own file went with it


@pytest.mark.parametrize("runtime", ["embedded-sqlite"], indirect=True)
def test_a_cached_rerun_continues_in_the_same_call_instead_of_a_message_per_node(runtime, tmp_path):
    spec = cached_chain(tmp_path)
    run_graph(runtime, spec)  # fills the cache
    sent, original = [], runtime.engine.dispatch

    def counting(run_id, node_id, **options):
        sent.append(node_id)
        original(run_id, node_id, **options)

    runtime.engine.dispatch = counting
    try:
        again = run_graph(runtime, spec)
    finally:
        runtime.engine.dispatch = original
    assert again.state == "succeeded"
    assert {n.node_id: n.reused for n in again.nodes} == {"a": "cache", "b": "cache", "c": "cache", "out": None}
    assert sent == ["a"]  # only the root went through the broker; the rest followed in that call
