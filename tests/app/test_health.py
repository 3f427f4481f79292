"""/healthz and /readyz: public, and /readyz answers 503 naming the database or the broker when it is down."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.services import Services
from app.web_auth import PUBLIC_PAGES, PUBLIC_ROUTES
from tests.app.tcp_proxy import tcp_proxy
from tests.conftest import REDIS_URL, make_settings


@contextmanager
def app_client(tmp_path: Path, **overrides) -> Iterator[TestClient]:
    settings = make_settings(tmp_path / "data", **overrides)
    with TestClient(create_app(settings, Services(settings)), follow_redirects=False) as client:
        yield client


def test_probes_answer_without_signing_in(tmp_path):
    with app_client(tmp_path) as client:
        alive = client.get("/healthz")
        ready = client.get("/readyz")
        metrics = client.get("/metrics")
    assert (alive.status_code, alive.json()) == (200, {"status": "ok"})
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}, "broker": "in-process"}
    assert metrics.status_code == 200  # not sent to /login by the sign-in gate
    for path in ("/healthz", "/readyz", "/metrics"):
        assert ("GET", path) in PUBLIC_ROUTES
        assert any(path.startswith(prefix) for prefix in PUBLIC_PAGES)


@pytest.mark.redis
@pytest.mark.postgres
def test_ready_with_postgres_and_redis(tmp_path, pg_database, redis_namespace):
    with app_client(tmp_path, database_url=pg_database, redis_url=REDIS_URL,
                    broker={"namespace": redis_namespace}) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
    assert ready.json()["broker"] == "redis"


@pytest.mark.redis
def test_not_ready_when_redis_stops_answering(tmp_path, redis_namespace):
    redis = urlsplit(REDIS_URL)
    with tcp_proxy(redis.hostname, redis.port) as proxy, app_client(
            tmp_path, redis_url=f"redis://127.0.0.1:{proxy.port}/0", broker={"namespace": redis_namespace}
    ) as client:
        assert client.get("/readyz").status_code == 200
        # When Redis goes away under the running app
        proxy.cut()
        ready = client.get("/readyz")
        alive = client.get("/healthz")
    # Then it is not ready, and says the broker is why; it is still alive (no restart needed)
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "unavailable"
    assert body["checks"] == {"database": "ok", "broker": "failed"}
    assert "broker (Redis) does not answer" in body["message"]
    assert alive.status_code == 200


@pytest.mark.postgres
def test_not_ready_when_the_database_stops_answering(tmp_path, pg_database):
    url = urlsplit(pg_database)
    with tcp_proxy(url.hostname, url.port or 5432) as proxy:
        through_proxy = url._replace(netloc=f"{url.username}@127.0.0.1:{proxy.port}").geturl()
        with app_client(tmp_path, database_url=through_proxy) as client:
            assert client.get("/readyz").status_code == 200
            # When the database goes away under the running app
            proxy.cut()
            ready = client.get("/readyz")
            again = client.get("/readyz")  # a fresh connection is refused too
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": "failed", "broker": "ok"}
    assert "database does not answer" in ready.json()["message"]
    assert again.status_code == 503


@pytest.mark.postgres
def test_not_ready_when_the_database_url_points_nowhere(tmp_path, pg_database):
    # Given an app that started against a database that is then dropped
    import psycopg

    from tests.conftest import PG_ADMIN_URL

    name = f"{urlsplit(pg_database).path.lstrip('/')}_gone"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = pg_database.rsplit("/", 1)[0] + f"/{name}"
    with app_client(tmp_path, database_url=url) as client:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] == "failed"
    assert ready.json()["message"].startswith("The database does not answer")
