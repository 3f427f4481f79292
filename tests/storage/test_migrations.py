"""Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from marketplace.models import include_name  # also puts the marketplace tables on Base.metadata
from storage.db import Database
from storage.migrate import MIGRATIONS, current, upgrade
from storage.models import Base


@pytest.fixture(params=["sqlite", "postgres"])
def database(request, tmp_path):
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    else:
        db = Database(request.getfixturevalue("empty_pg_database"))
    yield db
    db.dispose()


@pytest.fixture
def empty_pg_database():
    import uuid

    import psycopg

    from tests.conftest import PG_ADMIN_URL

    name = f"minddocs_mig_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def head() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def test_migrations_match_the_models(database):
    upgrade(database)
    upgrade(database)  # a second upgrade is a no-op
    assert current(database) == head() == "0008"
    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={
            "compare_type": True, "include_name": include_name}), Base.metadata)
    assert diff == []


def test_db_upgrade_command(tmp_path):
    minddocs = str(Path(sys.executable).parent / "minddocs")
    result = subprocess.run([minddocs, "db", "upgrade"], env={"MINDDOCS_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"revision {head()}" in result.stdout
    assert (tmp_path / "minddocs.db").exists()
