"""Accounts and sign-in (app/accounts.py, app/web_auth.py): the first administrator, passwords, sessions, the
throttle, the sign-in gate in front of the pages, and the workspace a request works in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.errors import Conflict, InvalidAccount, NotSignedIn, TooManyRequests
from app.main import create_app
from app.passwords import verify_password
from app.web_auth import CSRF_HEADER, SESSION_COOKIE, WORKSPACE_HEADER
from storage.migrate import upgrade
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_settings, sign_in
from tests.graphs import graph, node

PASSWORD = "tall ladder 9876 blue"


@pytest.fixture
def app_client(tmp_path):
    with TestClient(create_app(make_settings(tmp_path / "data", load_samples=True)),
                    follow_redirects=False) as client:
        yield client


def test_the_first_administrator_takes_over_the_installation(app_client):
    svc = app_client.app.state.services
    samples_before = {g.name for g in svc.graphs.list()}
    # Given a fresh installation: every page leads to the setup page, the API says who to sign in as
    assert svc.accounts.needs_setup()
    assert app_client.get("/").headers["location"] == "/setup"
    assert app_client.get("/api/v1/graphs").status_code == 401

    admin = svc.accounts.setup_admin("Ana@Example.com", PASSWORD, name="Ana")

    assert admin.email == "ana@example.com" and admin.is_admin and verify_password(admin.password_hash, PASSWORD)
    assert not svc.accounts.needs_setup()
    with pytest.raises(Conflict):  # only once
        svc.accounts.setup_admin("eve@example.com", PASSWORD)
    # the samples (and anything the CLI saved) are the administrator's: same user, same workspace
    sign_in(app_client, svc, "ana@example.com")
    assert {g["name"] for g in app_client.get("/api/v1/graphs").json()} == samples_before
    assert app_client.get("/runs").status_code == 200


def test_pages_send_anonymous_visitors_to_sign_in_and_back(app_client):
    svc = app_client.app.state.services
    svc.accounts.setup_admin(ADMIN_EMAIL, ADMIN_PASSWORD)

    answer = app_client.get("/runs?state=failed")

    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=%2Fruns%3Fstate%3Dfailed"
    for public in ("/login", "/api/v1/health", "/api/v1/schema", "/openapi.json"):
        assert app_client.get(public).status_code == 200, public


def test_wrong_passwords_are_one_sentence_and_throttled(app_client):
    svc = app_client.app.state.services
    svc.accounts.setup_admin(ADMIN_EMAIL, ADMIN_PASSWORD)
    limit = svc.settings.auth.max_failures_per_account

    for _ in range(limit):
        with pytest.raises(NotSignedIn) as wrong:
            svc.accounts.sign_in(ADMIN_EMAIL, "not the password", ip="10.0.0.1")
    with pytest.raises(NotSignedIn) as unknown:
        svc.accounts.sign_in("nobody@example.com", "whatever else", ip="10.0.0.2")
    with pytest.raises(TooManyRequests) as throttled:  # even with the right password, for a while
        svc.accounts.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD, ip="10.0.0.3")

    assert wrong.value.message == unknown.value.message  # which emails have accounts is not revealed
    assert throttled.value.details["retry_after_s"] > 0
    events = [e.action for e in svc.audit.repo.list(instance_wide=True)]
    assert events.count("auth.sign_in_failed") == limit + 1 and "auth.throttled" in events


def test_weak_passwords_and_bad_emails_are_refused_with_a_reason(services):
    for password, reason in (("short", "at least 10"), ("aaaaaaaaaaaa", "too easy"),
                             ("marta.lopez-2024!", "email name")):
        with pytest.raises(InvalidAccount, match=reason):
            services.accounts.create_user("marta.lopez@example.com", password)
    with pytest.raises(InvalidAccount, match="not an email"):
        services.accounts.create_user("marta", PASSWORD)
    services.accounts.create_user("marta@example.com", PASSWORD)
    with pytest.raises(InvalidAccount, match="already an account"):
        services.accounts.create_user("MARTA@example.com", PASSWORD)


def test_a_password_change_ends_every_session_and_a_disabled_account_is_out(services):
    user = services.accounts.create_user("luis@example.com", PASSWORD)
    first = services.accounts.sign_in("luis@example.com", PASSWORD, ip="1.1.1.1")
    second = services.accounts.sign_in("luis@example.com", PASSWORD, ip="1.1.1.2")
    info = services.accounts.session(first.cookie_value)
    assert info is not None and info.actor.user_id == user.id

    services.accounts.change_password(services.scope_for(info.actor), PASSWORD, "another long phrase 5521")

    assert services.accounts.session(first.cookie_value) is None
    assert services.accounts.session(second.cookie_value) is None
    third = services.accounts.sign_in("luis@example.com", "another long phrase 5521", ip="1.1.1.1")
    services.accounts_repo.update_user(user.id, is_active=False)
    assert services.accounts.session(third.cookie_value) is None
    with pytest.raises(NotSignedIn, match="disabled"):
        services.accounts.sign_in("luis@example.com", "another long phrase 5521", ip="1.1.1.1")


def test_an_expired_session_is_refused(services):
    services.accounts.create_user("eva@example.com", PASSWORD)
    new = services.accounts.sign_in("eva@example.com", PASSWORD, ip="1.1.1.1")
    with services.db.begin() as connection:
        connection.execute(text("UPDATE auth_sessions SET expires_at = :t"),
                           {"t": new.user.created_at - timedelta(days=1)})
    assert services.accounts.session(new.cookie_value) is None


def test_cookie_changes_need_the_csrf_header_and_other_workspaces_do_not_exist(app_client):
    svc = app_client.app.state.services
    sign_in(app_client, svc)
    spec = graph([node("a", "io.input", name="a")], [])
    csrf = app_client.headers.pop(CSRF_HEADER)

    refused = app_client.post("/api/v1/graphs", json=spec)
    accepted = app_client.post("/api/v1/graphs", json=spec, headers={CSRF_HEADER: csrf})
    other = svc.accounts.create_user("other@example.com", PASSWORD)
    foreign = app_client.get("/api/v1/graphs", headers={WORKSPACE_HEADER: svc.accounts_repo.personal_workspace(
        other.id)})
    forged = app_client.get("/api/v1/graphs", cookies={SESSION_COOKIE: "forged-value"})

    assert refused.status_code == 403 and refused.json()["code"] == "csrf"
    assert accepted.status_code == 201
    assert foreign.status_code == 404
    assert forged.status_code == 401 and forged.json()["code"] == "not_signed_in"


def test_the_accounts_migration_gives_existing_data_a_workspace(tmp_path):
    from storage.db import Database

    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(db, "0005")
    with db.begin() as connection:  # an installation from before accounts: one user, a graph, a secret
        connection.execute(text("INSERT INTO users (id, email, name, created_at) VALUES ('u1', "
                                "'local@minddocs.invalid', 'Local user', '2026-01-01')"))
        connection.execute(text("INSERT INTO graphs (id, owner_id, name, description, tags, source, created_at, "
                                "updated_at) VALUES ('g1', 'u1', 'Carta', '', '[]', 'editor', '2026-01-01', "
                                "'2026-01-01')"))
        connection.execute(text("INSERT INTO secrets (id, name, ciphertext, description, created_at, updated_at) "
                                "VALUES ('s1', 'openai', 'v1.x.y', '', '2026-01-01', '2026-01-01')"))

    upgrade(db)

    with db.begin() as connection:
        workspace = connection.execute(text("SELECT id FROM workspaces WHERE personal_of = 'u1'")).scalar_one()
        assert connection.execute(text("SELECT workspace_id FROM graphs")).scalar_one() == workspace
        assert connection.execute(text("SELECT workspace_id FROM secrets")).scalar_one() == workspace
        assert connection.execute(text("SELECT role FROM memberships WHERE user_id = 'u1'")).scalar_one() == "owner"
    db.dispose()
