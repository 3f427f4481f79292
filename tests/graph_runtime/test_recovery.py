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
from tests.conftest import REDIS_URL, api_token
from tests.graph_runtime.backends import MINDDOCS, settings_for, start_worker, stop_worker, worker_env
from tests.graphs import edge, graph, node, output


def slow_graph(marks: Path) -> dict:
    nodes = [node("slow", "test.sleep", seconds=2.0, marker_dir=str(marks)), node("after", "test.sleep")]
    out, out_edge = output("out", "text", "after")
    return graph(nodes + [out], [edge("slow", "after"), out_edge], name="slow graph")


def quick_redis_settings(tmp_path: Path, pg_database: str):
    """Redis and PostgreSQL, where a silent worker counts as dead after 2 s and every fetch does maintenance."""
    return settings_for(tmp_path, database_url=pg_database, redis_url=REDIS_URL,
                        namespace=f"minddocs-test-{uuid.uuid4().hex[:8]}",
                        broker={"heartbeat_timeout_ms": 2000, "maintenance_chance": 1_000_000})


def wait_for(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_redis_worker_killed_mid_node_has_its_message_redelivered(tmp_path, pg_database):
    # Given a Redis setup where a silent worker counts as dead after 2 s and every fetch does maintenance
    settings = quick_redis_settings(tmp_path, pg_database)
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


def loop_of_files(marks: Path, items: int, seconds: float) -> tuple[dict, list[str]]:
    """names (json list) -> for each -> a file per name -> collect (ZIP) -> outputs."""
    names = [f"contrato-{i:03d}" for i in range(items)]
    nodes = [node("names", "io.input", name="names", kind="json", default=names),
             node("each", "flow.for_each", concurrency=4),
             node("file", "test.to_file", seconds=seconds, marker_dir=str(marks)),
             node("gather", "flow.collect", zip_files=True, archive_name="contratos"),
             node("files", "io.output", name="files"), node("zip", "io.output", name="zip")]
    edges = [edge("names", "each", "value", "items"), edge("each", "file", "item", "text"),
             edge("file", "gather", "file", "item"), edge("gather", "files", "items", "value"),
             edge("gather", "zip", "archive", "value")]
    return graph(nodes, edges, name="files per item"), names


def item_starts(marks: Path, run_id: str) -> int:
    return len(list(marks.glob(f"{run_id}-file*-start-*")))


def assert_collected_exactly_once(services: Services, run, names: list[str]) -> None:
    import zipfile

    assert run.state == "succeeded", [(n.node_id, n.state, n.error_message) for n in run.nodes if n.state != "succeeded"]
    assert [f["name"] for f in run.outputs["files"]] == [f"{name}.txt" for name in names]
    assert [services.artifacts.read_bytes(f["artifact"]).decode() for f in run.outputs["files"]] == names
    with zipfile.ZipFile(services.artifacts.path(run.outputs["zip"]["artifact"])) as archive:
        assert archive.namelist() == [f"{name}.txt" for name in names]
    # every stored file is there once: one record per content, one file on disk per record (the PostgreSQL
    # database is shared by the session's tests: its records of other tests' files are not on this disk)
    from sqlalchemy import func, select

    from storage.models import Artifact

    with services.db.read() as s:
        shas = set(s.scalars(select(Artifact.sha256)))
        assert s.scalar(select(func.count()).select_from(Artifact)) == len(shas)
    on_disk = [p.name for p in services.settings.artifacts_dir.rglob("*") if p.is_file() and p.parent.name != "tmp"]
    assert len(on_disk) == len(set(on_disk)) and set(on_disk) <= shas
    assert {f["artifact"] for f in run.outputs["files"]} <= set(on_disk)


def test_redis_worker_killed_in_the_middle_of_a_for_each_loses_no_item(tmp_path, pg_database):
    settings = quick_redis_settings(tmp_path, pg_database)
    marks = tmp_path / "marks"
    services = Services(settings)
    first = start_worker(settings, tmp_path / "worker1.log", threads=4)
    second = None
    try:
        spec, names = loop_of_files(marks, 50, seconds=0.2)
        version = services.graphs.save(spec)
        run_id = services.runs.start(version.id, {})
        wait_for(lambda: item_starts(marks, run_id) >= 12, timeout=60)

        # When the worker dies with items in flight, and another worker takes over
        stop_worker(first, signal.SIGKILL)
        second = start_worker(settings, tmp_path / "worker2.log", threads=4)

        # Then every item ends up in the collection exactly once, in order, and no file is stored twice
        run = services.runs.wait(run_id, timeout_s=120)
        assert_collected_exactly_once(services, run, names)
        items = [n for n in run.nodes if n.item is not None]
        assert len(items) == 50 and all(n.state == "succeeded" for n in items)
        assert any(n.attempts == 2 for n in items)  # the ones in flight ran again
    finally:
        stop_worker(first, signal.SIGKILL)
        if second:
            stop_worker(second)
        services.close()


def test_minddocs_serve_killed_in_the_middle_of_a_for_each_finishes_after_restart(tmp_path):
    import socket

    import httpx

    settings = settings_for(tmp_path)
    marks = tmp_path / "marks"
    spec, names = loop_of_files(marks, 50, seconds=0.1)
    env = worker_env(settings)
    env.pop("MINDDOCS_REDIS_URL")  # embedded: SQLite and the in-process worker
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with Services(settings) as setup:  # an account and an API token, in the database the server will open
        token = api_token(setup)
    auth = {"Authorization": f"Bearer {token}"}
    log = open(tmp_path / "serve.log", "ab")
    proc = subprocess.Popen([MINDDOCS, "serve", "--port", str(port)], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}/api/v1"

        def up() -> bool:
            try:
                return httpx.get(f"{base}/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=90)
        saved = httpx.post(f"{base}/graphs", json=spec, headers=auth, timeout=30).json()
        started = httpx.post(f"{base}/graphs/{saved['id']}/runs", json={"inputs": {}}, headers=auth, timeout=30)
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        wait_for(lambda: item_starts(marks, run_id) >= 10, timeout=60)
        # When the server process is killed with items in flight
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert item_starts(marks, run_id) < 50

    # Then the next start picks the run up and it completes with every item exactly once
    with Services(settings) as services:
        run = services.runs.wait(run_id, timeout_s=120)
        assert_collected_exactly_once(services, run, names)
