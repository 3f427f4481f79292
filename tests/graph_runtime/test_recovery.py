"""Nothing in flight is lost: a worker killed mid-node, a server process killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

from app.services import Services
from tests.conftest import REDIS_URL
from tests.graph_runtime.backends import MINDDOCS, settings_for, start_worker, stop_worker, worker_env
from tests.graphs import edge, graph, node, output


def slow_graph(marks: Path) -> dict:
    nodes = [node("slow", "test.sleep", seconds=2.0, marker_dir=str(marks)), node("after", "test.sleep")]
    out, out_edge = output("out", "text", "after")
    return graph(nodes + [out], [edge("slow", "after"), out_edge], name="slow graph")


def wait_for(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_redis_worker_killed_mid_node_has_its_message_redelivered(tmp_path, pg_database):
    # Given a Redis setup where a silent worker counts as dead after 2 s and every fetch does maintenance
    settings = settings_for(tmp_path, database_url=pg_database, redis_url=REDIS_URL,
                            namespace=f"minddocs-test-{uuid.uuid4().hex[:8]}",
                            broker={"heartbeat_timeout_ms": 2000, "maintenance_chance": 1_000_000})
    marks = tmp_path / "marks"
    services = Services(settings)
    first = start_worker(settings, tmp_path / "worker1.log", threads=1)
    second = None
    try:
        version = services.graphs.save(slow_graph(marks))
        run_id = services.runs.start(version.id, {})
        wait_for(lambda: any(marks.glob(f"{run_id}-slow-start-*")))

        # When the worker is killed in the middle of the node, and another worker starts
        stop_worker(first, signal.SIGKILL)
        assert not any(marks.glob(f"{run_id}-slow-end-*"))
        second = start_worker(settings, tmp_path / "worker2.log", threads=1)

        # Then the message comes back, the node runs again and the run completes
        run = services.runs.wait(run_id, timeout_s=60)
        assert run.state == "succeeded", run.nodes
        slow = next(n for n in run.nodes if n.node_id == "slow")
        assert slow.attempts == 2
        assert len(list(marks.glob(f"{run_id}-slow-start-*"))) == 2
        assert run.outputs["text"] == "slowafter"
    finally:
        stop_worker(first, signal.SIGKILL)
        if second:
            stop_worker(second)
        services.close()


def test_embedded_runs_left_behind_by_a_killed_process_resume_on_next_start(tmp_path):
    # Given `minddocs run` (embedded: SQLite and an in-process worker) busy with a slow node
    settings = settings_for(tmp_path)
    marks = tmp_path / "marks"
    graph_file = tmp_path / "slow.json"
    graph_file.write_text(json.dumps(slow_graph(marks)))
    env = worker_env(settings)
    env.pop("MINDDOCS_REDIS_URL")  # embedded mode
    proc = subprocess.Popen([MINDDOCS, "run", str(graph_file), "--out", str(tmp_path / "out")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: any(marks.glob("*-slow-start-*")), timeout=60)
        # When the process is killed mid-node
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)

    # Then the next start of MindDocs on the same data resumes the run and finishes it
    with Services(settings) as services:
        run_id = services.runs.list()[0].id
        run = services.runs.wait(run_id, timeout_s=30)
        assert run.state == "succeeded", run.nodes
        assert {n.node_id: n.attempts for n in run.nodes}["slow"] == 2
        assert any("resuming" in entry["message"] for entry in services.runs.logs(run_id))
