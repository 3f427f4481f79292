"""`minddocs user ...` run as a person runs it (a subprocess on a fresh data directory), checked by signing in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from app.accounts import actor_for
from app.errors import NotSignedIn
from app.services import Services
from tests.app.test_cli import SCRIPT, one_line
from tests.conftest import SAMPLES, make_settings

PASSWORD = "correct horse battery staple"


def minddocs(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    """The CLI with its data in tmp_path and `stdin` as its (non-terminal) standard input."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINDDOCS_")}
    env.update(MINDDOCS_DATA_DIR=str(tmp_path / "data"), COLUMNS="400")
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "app.cli"]
    return subprocess.run([*command, *args], cwd=tmp_path, env=env, input=stdin, capture_output=True, text=True,
                          timeout=120)


def services_on(tmp_path: Path) -> Services:
    return Services(make_settings(tmp_path / "data"))


def test_the_first_admin_takes_over_earlier_work_and_signs_in(tmp_path):
    # Given a graph saved before any account existed (as `minddocs run` does, as the installation's user)
    services = services_on(tmp_path)
    try:
        earlier = services.graphs.save_named((SAMPLES / "welcome_letter.json").read_text(), "cli")
        placeholder = services.local_scope.user_id
    finally:
        services.close()

    refused = minddocs(tmp_path, "user", "create", "--email", "bruno@example.com", "--password-stdin",
                       stdin=PASSWORD + "\n")
    created = minddocs(tmp_path, "user", "create", "--email", "Ana@Example.com", "--name", "Ana", "--admin",
                       "--password-stdin", stdin=PASSWORD + "\n")

    assert refused.returncode == 2 and "has no administrator yet" in one_line(refused.stderr)
    assert created.returncode == 0, created.stderr
    assert f"Created the administrator ana@example.com (id {placeholder})." in one_line(created.stdout)
    services = services_on(tmp_path)
    try:
        signed_in = services.accounts.sign_in("ana@example.com", PASSWORD, ip="127.0.0.1")
        assert (signed_in.user.id, signed_in.user.is_admin, signed_in.user.name) == (placeholder, True, "Ana")
        assert not services.accounts.needs_setup()
        scope = services.scope_for(actor_for(signed_in.user))
        assert [g.id for g in services.scoped(scope).graphs.list()] == [earlier.graph_id]
    finally:
        services.close()


def test_users_are_listed_disabled_enabled_and_made_admins(tmp_path):
    assert minddocs(tmp_path, "user", "create", "--email", "ana@example.com", "--admin", "--password-stdin",
                    stdin=PASSWORD + "\n").returncode == 0
    second = minddocs(tmp_path, "user", "create", "--email", "bruno@example.com", "--password-stdin",
                      stdin=PASSWORD + "\n")
    assert second.returncode == 0, second.stderr
    assert "Created the account bruno@example.com" in second.stdout

    listed = minddocs(tmp_path, "user", "list")
    last_admin = minddocs(tmp_path, "user", "disable", "ana@example.com")
    disabled = minddocs(tmp_path, "user", "disable", "bruno@example.com")

    assert listed.returncode == 0, listed.stderr
    rows = [[c.strip() for c in line.split("│")] for line in listed.stdout.splitlines() if "@example.com" in line]
    assert [(cells[1], cells[3], cells[4]) for cells in rows] == [("ana@example.com", "yes", "yes"),
                                                                   ("bruno@example.com", "", "yes")]
    assert last_admin.returncode == 2 and "the only active administrator" in one_line(last_admin.stderr)
    assert disabled.returncode == 0 and "bruno@example.com is disabled" in one_line(disabled.stdout)
    services = services_on(tmp_path)
    try:
        with pytest.raises(NotSignedIn) as refused:
            services.accounts.sign_in("bruno@example.com", PASSWORD, ip="127.0.0.1")
        assert refused.value.code == "account_disabled"
    finally:
        services.close()

    assert minddocs(tmp_path, "user", "enable", "bruno@example.com").returncode == 0
    assert minddocs(tmp_path, "user", "set-admin", "bruno@example.com", "--yes").returncode == 0
    demoted = minddocs(tmp_path, "user", "set-admin", "ana@example.com", "--no")
    unknown = minddocs(tmp_path, "user", "disable", "nobody@example.com")

    assert demoted.returncode == 0, demoted.stderr
    assert unknown.returncode == 2 and "There is no account for nobody@example.com" in one_line(unknown.stderr)
    services = services_on(tmp_path)
    try:
        users = {u.email: u for u in services.accounts_repo.users()}
        assert (users["bruno@example.com"].is_admin, users["ana@example.com"].is_admin) == (True, False)
        assert services.accounts.sign_in("bruno@example.com", PASSWORD, ip="127.0.0.1")
        events = services.audit.list(services.local_scope, workspace_id="*", action="user.")
        assert [e.action for e in reversed(events)] == ["user.disabled", "user.enabled", "user.admin_granted",
                                                        "user.admin_revoked"]
    finally:
        services.close()


def test_an_account_without_password_gets_one_through_a_reset_link(tmp_path):
    created = minddocs(tmp_path, "user", "create", "--email", "ana@example.com", "--admin")  # no terminal
    link = minddocs(tmp_path, "user", "reset-link", "ana@example.com")

    assert created.returncode == 0, created.stderr
    assert "minddocs user reset-link ana@example.com" in one_line(created.stdout)
    assert link.returncode == 0, link.stderr
    url = link.stdout.strip()
    assert url.startswith("http://127.0.0.1:8080/reset?token=") and "works once" in link.stderr
    services = services_on(tmp_path)
    try:
        with pytest.raises(NotSignedIn):
            services.accounts.sign_in("ana@example.com", "", ip="127.0.0.1")
        services.password_reset.reset(parse_qs(urlsplit(url).query)["token"][0], PASSWORD, ip="127.0.0.1")
        assert services.accounts.sign_in("ana@example.com", PASSWORD, ip="127.0.0.1").user.email == "ana@example.com"
    finally:
        services.close()
