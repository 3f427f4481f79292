"""The four ways a graph runs: embedded or Redis workers, on SQLite or PostgreSQL — all real."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.services import Services
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
MINDDOCS = str(Path(sys.executable).parent / "minddocs")
TEST_NODES = '["tests.plugin_nodes"]'


def settings_for(data_dir: Path, *, database_url: str | None = None, redis_url: str | None = None,
                 namespace: str | None = None, **extra: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": data_dir, "load_samples": False, "database_url": database_url,
                              "redis_url": redis_url, "runtime": {"node_modules": ["tests.plugin_nodes"]}}
    if namespace:
        values["broker"] = {"namespace": namespace, **extra.pop("broker", {})}
    return Settings(_env_file=None, **values, **extra)


def worker_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINDDOCS_")}
    env.update({
        "PYTHONPATH": str(ROOT),
        "MINDDOCS_DATA_DIR": str(settings.data_dir),
        "MINDDOCS_DATABASE_URL": settings.db_url,
        "MINDDOCS_REDIS_URL": settings.redis_url or "",
        "MINDDOCS_BROKER__NAMESPACE": settings.broker.namespace,
        "MINDDOCS_BROKER__HEARTBEAT_TIMEOUT_MS": str(settings.broker.heartbeat_timeout_ms),
        "MINDDOCS_BROKER__MAINTENANCE_CHANCE": str(settings.broker.maintenance_chance),
        "MINDDOCS_RUNTIME__NODE_MODULES": TEST_NODES,
        "MINDDOCS_LOAD_SAMPLES": "false",
    })
    return env


def start_worker(settings: Settings, log_path: Path, threads: int = 4) -> subprocess.Popen:
    """A real `minddocs worker` in its own process group (Dramatiq forks worker processes)."""
    log = open(log_path, "ab")
    proc = subprocess.Popen([MINDDOCS, "worker", "--processes", "1", "--threads", str(threads)],
                            env=worker_env(settings), stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # ready once Dramatiq says its workers booted
        if b"Worker process is ready" in log_path.read_bytes():
            break
        if proc.poll() is not None:
            raise RuntimeError(f"minddocs worker exited early:\n{log_path.read_text()}")
        time.sleep(0.1)
    else:
        stop_worker(proc)
        raise RuntimeError(f"minddocs worker did not start:\n{log_path.read_text()}")
    return proc


def stop_worker(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextmanager
def backend(kind: str, tmp: Path, pg_url: str | None) -> Iterator[Services]:
    """Services wired for `kind` ('embedded-sqlite', 'redis-postgres', …), with workers running."""
    broker, db = kind.split("-")
    database_url = pg_url if db == "postgres" else None
    if broker == "embedded":
        with Services(settings_for(tmp, database_url=database_url)) as services:
            yield services
        return
    from tests.conftest import REDIS_URL

    settings = settings_for(tmp, database_url=database_url, redis_url=REDIS_URL,
                            namespace=f"minddocs-test-{uuid.uuid4().hex[:8]}")
    services = Services(settings)
    worker = start_worker(settings, tmp / "worker.log")
    try:
        services.start()
        yield services
    finally:
        stop_worker(worker)
        services.close()
        _flush_namespace(settings.broker.namespace)


def _flush_namespace(namespace: str) -> None:
    import redis

    from tests.conftest import REDIS_URL

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{namespace}*"):
        client.delete(key)
    client.close()
