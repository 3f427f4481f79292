"""The `runtime` fixture: Services on every backend (embedded and Redis workers, SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from app.services import Services
from tests.graph_runtime.backends import backend

BACKENDS = ["embedded-sqlite", "embedded-postgres", "redis-sqlite", "redis-postgres"]


@pytest.fixture(scope="module", params=BACKENDS)
def runtime(request, tmp_path_factory) -> Services:
    pg_url = request.getfixturevalue("pg_database") if request.param.endswith("postgres") else None
    with backend(request.param, tmp_path_factory.mktemp(request.param), pg_url) as services:
        yield services
