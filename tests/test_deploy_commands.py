"""The commands compose.yaml gives each container, run here as real processes (outside Docker) against the test
PostgreSQL and Redis: the migration, `minddocs serve` answering /healthz and /readyz, a documents worker running
nodes and serving its metrics, the scheduler starting and stopping; all logging JSON lines."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.services import Services
from tests.app.log_nodes import LOGGER
from tests.conftest import REDIS_URL
from tests.deploy_files import ROOT, resolved_compose
from tests.graph_runtime.backends import MINDDOCS, settings_for, stop_worker, worker_env
from tests.graphs import edge, graph, node, output

pytestmark = [pytest.mark.redis, pytest.mark.postgres]
NODE_MODULES = '["tests.plugin_nodes", "tests.app.log_nodes"]'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def container_command(service: str, **ports: int) -> list[str]:
    """The service's command from compose.yaml, with the real `minddocs` and local ports."""
    command = list(resolved_compose()["services"][service]["command"])
    assert command[0] == "minddocs"
    command[0] = MINDDOCS
    for option, port in ports.items():
        flag = "--" + option.replace("_", "-")
        command[command.index(flag) + 1] = str(port)
    if "--host" in command:
        command[command.index("--host") + 1] = "127.0.0.1"
    return command


def get(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_until(check, what: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen in {timeout:g} s:\n{log.read_text()[-3000:]}")


def json_lines(log: Path) -> list[dict]:
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"not a JSON log line: {line!r}") from None
    return records


@pytest.fixture
def deployment(tmp_path, pg_database):
    """Settings and the environment a container would get (PostgreSQL, Redis, JSON logs), on test services."""
    settings = settings_for(tmp_path / "data", database_url=pg_database, redis_url=REDIS_URL,
                            namespace=f"minddocs-test-{uuid.uuid4().hex[:8]}")
    env = {**worker_env(settings), "MINDDOCS_LOG__FORMAT": "json", "MINDDOCS_RUNTIME__NODE_MODULES": NODE_MODULES}
    yield settings, env
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{settings.broker.namespace}*"):
        client.delete(key)
    client.close()


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=ROOT,
                            start_new_session=True)


def test_migrate_then_serve_answers_health_readiness_and_metrics(deployment, tmp_path):
    settings, env = deployment
    migrate = subprocess.run(container_command("migrate"), env=env, capture_output=True, text=True, timeout=120,
                             cwd=ROOT)
    assert migrate.returncode == 0, migrate.stderr
    assert "Database is at revision" in migrate.stdout

    port, log = free_port(), tmp_path / "serve.log"
    proc = start(container_command("web", port=port), env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: get(f"{base}/healthz")[0] == 200, "/healthz answering", proc, log)
        status, body = get(f"{base}/readyz")
        assert status == 200, body
        assert json.loads(body) == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}, "broker": "redis"}
        status, body = get(f"{base}/metrics")
        assert status == 200
        names = {family.name for family in text_string_to_metric_families(body)}
        assert {"minddocs_queue_depth", "minddocs_http_request_duration_seconds", "minddocs_broker_up"} <= names
    finally:
        stop_worker(proc)
    # a graceful stop (uvicorn raises SIGTERM again once shut down, so the exit status tells how it ended)
    assert proc.returncode in (0, -signal.SIGTERM)
    records = json_lines(log)  # every line JSON, uvicorn's included
    assert any(r["logger"].startswith("uvicorn") for r in records)
    assert any(r["message"] == "Application shutdown complete." for r in records)
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert not any("color_message" in r for r in records)  # uvicorn's ANSI-coloured copy is left out


def test_documents_worker_runs_nodes_logs_json_and_serves_its_metrics(deployment, tmp_path):
    settings, env = deployment
    metrics_port, log = free_port(), tmp_path / "worker.log"
    command = container_command("worker-documents", metrics_port=metrics_port)
    command[command.index("--processes") + 1] = "2"  # two processes: their metrics are added up
    services = Services(settings)
    proc = start(command, env, log)
    try:
        wait_until(lambda: get(f"http://127.0.0.1:{metrics_port}/metrics")[0] == 200, "worker metrics", proc, log)
        # When a graph runs on the worker (test nodes are on the "default" queue, which this worker takes)
        out, out_edge = output("out", "text", "said")
        spec = graph([node("first", "test.sleep"), node("said", "test.log", message="worker says hi"), out],
                     [edge("first", "said"), out_edge], name="deploy worker")
        version = services.graphs.save(spec)
        run_id = services.runs.start(version.id, {})
        assert services.runs.wait(run_id, timeout_s=60).state == "succeeded"
        # Then the worker's metrics port counts its node runs and the run it closed (counted right after the
        # run's state is stored: a scrape may come a moment before)
        finished = ("minddocs_runs_finished_total", (("graph", version.graph_id), ("state", "succeeded")))
        samples: dict = {}

        def scraped() -> bool:
            _, body = get(f"http://127.0.0.1:{metrics_port}/metrics")
            samples.update({(s.name, tuple(sorted(s.labels.items()))): s.value
                            for f in text_string_to_metric_families(body) for s in f.samples})
            return finished in samples

        wait_until(scraped, "the finished run counted", proc, log, timeout=10)
        assert samples[("minddocs_node_runs_total", (("node_type", "test.log"), ("state", "succeeded")))] == 1
        assert samples[finished] == 1
        assert samples[("minddocs_node_duration_seconds_count", (("node_type", "test.sleep"),
                                                                 ("state", "succeeded")))] == 1
    finally:
        stop_worker(proc)
        services.close()
    # and its log is JSON lines, the node's own line carrying the run and node ids
    records = json_lines(log)
    said = [r for r in records if r["logger"] == LOGGER]
    assert [(r["message"], r["run_id"], r["node_id"]) for r in said] == [("worker says hi", run_id, "said")]
    assert any("Worker process is ready" in r["message"] for r in records)


def test_scheduler_starts_serves_metrics_and_stops_on_sigterm(deployment, tmp_path):
    settings, env = deployment
    metrics_port, log = free_port(), tmp_path / "scheduler.log"
    proc = start(container_command("scheduler", metrics_port=metrics_port), env, log)
    try:
        wait_until(lambda: get(f"http://127.0.0.1:{metrics_port}/metrics")[0] == 200, "scheduler metrics", proc,
                   log)
        assert "Scheduler running" in log.read_text()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0, log.read_text()
    messages = [r["message"] for r in json_lines(log)]  # every line JSON
    assert "Scheduler stopped." in messages
