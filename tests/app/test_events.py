"""Run events: in memory when embedded, through Redis pub/sub from a real `minddocs worker` process."""

from __future__ import annotations

import queue
import threading

from app.events import LocalEvents, RedisEvents, RunEvent
from tests.graph_runtime.backends import backend
from tests.graphs import graph, node, output


def echo_graph() -> dict:
    out, wire = output("out", "greeting", "in", "value")
    return graph([node("in", "io.input", name="name", kind="text"), out], [wire], name="Eco")


def failing_graph() -> dict:
    out, wire = output("out", "result", "boom")
    return graph([node("boom", "test.fail"), out], [wire], name="Falla")


def test_local_events_reach_every_subscriber_until_it_unsubscribes():
    bus = LocalEvents()
    seen: list[RunEvent] = []
    unsubscribe = bus.subscribe(seen.append)
    bus.subscribe(lambda event: 1 / 0)  # a broken subscriber does not stop the others
    bus.publish(RunEvent("run.failed", "r1", "g1", "Eco"))
    unsubscribe()
    bus.publish(RunEvent("run.succeeded", "r2"))
    assert seen == [RunEvent("run.failed", "r1", "g1", "Eco")] and seen[0].state == "failed"


def test_embedded_runs_publish_their_end_in_process(tmp_path):
    with backend("embedded-sqlite", tmp_path, None) as services:
        events: queue.Queue[RunEvent] = queue.Queue()
        services.hooks.events.subscribe(events.put)
        version = services.graphs.save(echo_graph())
        run_id = services.runs.start(version.id, {"name": "Ana"})
        event = events.get(timeout=15)
        assert (event.kind, event.run_id, event.graph_id, event.graph_name) == \
            ("run.succeeded", run_id, version.graph_id, "Eco")


def test_a_run_finished_by_a_worker_process_reaches_a_subscriber_here_through_redis(tmp_path):
    # Given: Redis mode; nodes run only in a separate `minddocs worker` process
    with backend("redis-sqlite", tmp_path, None) as services:
        bus = services.hooks.events
        assert isinstance(bus, RedisEvents) and bus.channel.endswith(":events")
        events: queue.Queue[RunEvent] = queue.Queue()
        threads: list[str] = []

        def seen(event: RunEvent) -> None:
            threads.append(threading.current_thread().name)
            events.put(event)

        bus.subscribe(seen)
        ok = services.runs.start(services.graphs.save(echo_graph()).id, {"name": "Ana"})
        bad = services.runs.start(services.graphs.save(failing_graph()).id, {})

        # Then: both endings arrive through the Redis channel, and the worker wrote the notifications
        got = {(e := events.get(timeout=30)).run_id: e.kind for _ in range(2)}
        assert got == {ok: "run.succeeded", bad: "run.failed"}
        assert set(threads) == {"minddocs-events"}
        assert services.runs.get(ok).executor == "redis"
        notes = {n.run_id: n.state for n in services.hooks.notifications.list()}
        assert notes == {ok: "succeeded", bad: "failed"}
