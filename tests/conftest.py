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


ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct horse battery staple"


def sign_in(client, services: Services, email: str = ADMIN_EMAIL, *, password: str = ADMIN_PASSWORD):
    """Sign `client` (a TestClient or httpx client) in as `email` through a real session: the first call
    makes them the administrator who owns the installation's workspace, later emails get accounts of their
    own. Unsafe API calls carry the session's CSRF header. Returns the user."""
    from app.web_auth import CSRF_HEADER, SESSION_COOKIE

    user = services.accounts.repo.user_by_email(email)
    if user is None:
        user = (services.accounts.setup_admin(email, password) if services.accounts.needs_setup()
                else services.accounts.create_user(email, password))
    new = services.accounts.sign_in_user(user.id, ip="127.0.0.1")
    client.cookies.set(SESSION_COOKIE, new.cookie_value)
    client.headers[CSRF_HEADER] = new.csrf_token
    return user


def api_token(services: Services, email: str = ADMIN_EMAIL, scopes: tuple[str, ...] = ("write",)) -> str:
    """A personal API token of `email` (made the administrator first when nobody is): for scripts, the CLI's
    --server mode and servers started in another process."""
    from app.accounts import actor_for

    user = services.accounts.repo.user_by_email(email)
    if user is None:
        user = (services.accounts.setup_admin(email, ADMIN_PASSWORD) if services.accounts.needs_setup()
                else services.accounts.create_user(email, ADMIN_PASSWORD))
    _, plaintext = services.tokens.create(services.scope_for(actor_for(user)), "tests", list(scopes))
    return plaintext
