"""Shared fixtures: settings on a temporary data directory, real PostgreSQL and Redis when asked for."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.services import Services
from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_graphs"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CORPUS = ROOT.parent / "shared" / "corpus"
PG_ADMIN_URL = os.environ.get("MINDDOCS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("MINDDOCS_TEST_REDIS", "redis://127.0.0.1:6379/0")


def make_settings(data_dir: Path, **overrides) -> Settings:
    """Settings for a test: nothing read from the environment or a .env file."""
    return Settings(_env_file=None, **{"data_dir": data_dir, "load_samples": False, **overrides})


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    with Services(settings) as svc:
        yield svc


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session; its URL. Fails (not skips) without a server."""
    import psycopg

    name = f"minddocs_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_namespace() -> Iterator[str]:
    """A Redis key namespace of its own, removed afterwards. Fails (not skips) without a server."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.ping()
    namespace = f"minddocs-test-{uuid.uuid4().hex[:10]}"
    yield namespace
    for key in client.scan_iter(f"{namespace}*"):
        client.delete(key)
    client.close()
