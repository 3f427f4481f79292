"""The pages of a signed-in person: members and invitations, audit log, account, and the header's menus."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from nicegui import ui

from app.errors import Forbidden
from app.policy import Actor
from app.web_auth import SESSION_COOKIE
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, sign_in

pytestmark = pytest.mark.anyio

PASSWORD = "Tejado-verde-4419"


def session_of(user):
    return user.services.accounts.session(user.http_client.cookies.get(SESSION_COOKIE, ""))


def keep_session(client, response) -> None:
    """Keep the session cookie a response set as the only one (the fixture set its first one by hand)."""
    value = response.cookies.get(SESSION_COOKIE)
    client.cookies.delete(SESSION_COOKIE)
    client.cookies.set(SESSION_COOKIE, value)


def team_with_editor(user):
    """The administrator owns 'Despacho', where Bruno is an editor; the browser works in 'Despacho'."""
    svc = user.services
    admin = svc.scope_for(Actor(user.account.id, label=ADMIN_EMAIL))
    team = svc.workspaces.create(admin, "Despacho")
    owner = svc.scope_for(admin.actor, team.id)
    bruno = svc.accounts.create_user("bruno@example.com", PASSWORD, name="Bruno")
    invite = svc.workspaces.invite(owner, team.id, "bruno@example.com", "editor")
    svc.workspaces.accept_invitation(parse_qs(urlsplit(invite.link).query)["token"][0], bruno.id)
    svc.accounts.set_session_workspace(session_of(user).session_id, team.id)
    return owner, bruno, team


async def work_as(user, email: str, workspace_id: str) -> None:
    sign_in(user.http_client, user.services, email, password=PASSWORD)
    user.services.accounts.set_session_workspace(session_of(user).session_id, workspace_id)


async def test_an_owner_changes_a_role_and_an_editor_cannot(user):
    owner, bruno, team = team_with_editor(user)
    await user.open("/members")
    await user.should_see(marker="member-bruno@example.com")
    await user.should_see("Despacho")

    # When the owner makes Bruno a viewer
    user.find("role-bruno@example.com").elements.pop().set_value("viewer")
    await user.should_see("Rol cambiado.")
    roles = {m.email: m.role for m in user.services.workspaces.members(owner, team.id)}
    assert roles["bruno@example.com"] == "viewer"

    # Then the last owner cannot be demoted: the service's sentence is shown and the role stays
    user.find(f"role-{ADMIN_EMAIL}").elements.pop().set_value("editor")
    await user.should_see("This is the workspace's last owner")
    assert {m.email: m.role for m in user.services.workspaces.members(owner, team.id)}[ADMIN_EMAIL] == "owner"

    # An editor sees the people and their roles, with nothing to change
    user.services.workspaces.set_role(owner, team.id, bruno.id, "editor")
    await work_as(user, "bruno@example.com", team.id)
    await user.open("/members")
    await user.should_see(marker="member-bruno@example.com")
    assert not [e for e in user.find(f"role-{ADMIN_EMAIL}").elements if isinstance(e, ui.select)]
    await user.should_not_see(marker="invite-panel")
    await user.should_not_see(marker="rename-workspace")
    await user.should_see(marker="leave-workspace")
    editor = user.services.scope_for(Actor(bruno.id), team.id)
    with pytest.raises(Forbidden):
        user.services.workspaces.set_role(editor, team.id, bruno.id, "owner")


async def test_an_owner_invites_sees_the_link_without_smtp_and_withdraws_it(user):
    owner, _bruno, team = team_with_editor(user)
    await user.open("/members")
    await user.should_see(marker="no-invitations")

    user.find("invite-email").type("carla@example.com")
    user.find("invite-role").elements.pop().set_value("runner")
    user.find("invite-send").click()

    await user.should_see(marker="invite-link")
    link = user.find("invite-link").elements.pop().value
    view = user.services.workspaces.invitation(parse_qs(urlsplit(link).query)["token"][0])
    assert (view.email, view.role, view.workspace_id) == ("carla@example.com", "runner", team.id)
    user.find("close-link").click()
    await user.should_see(marker="invitation-carla@example.com")

    user.find("revoke-carla@example.com").click()
    await user.should_see(marker="no-invitations")
    assert user.services.workspaces.invitation(parse_qs(urlsplit(link).query)["token"][0]).state == "revoked"


async def test_creating_a_team_workspace_moves_the_session_there(user):
    await user.open("/members")
    await user.should_see(marker="workspace-name")
    user.find("new-workspace").click()
    user.find("workspace-name-input").type("Hotel Sol")
    user.find("workspace-name-save").click()

    await user.should_see("Hotel Sol")
    info = session_of(user)
    names = {w.id: w.name for w in user.services.workspaces.list(user.services.scope_for(info.actor))}
    assert names[info.workspace_id] == "Hotel Sol"


async def test_the_audit_log_is_for_owners_and_filters_by_kind(user):
    owner, bruno, team = team_with_editor(user)
    await user.open("/audit")
    table = user.find("audit-table").elements.pop()
    actions = [row["action"] for row in table.rows]
    assert "member.joined" in actions and "member.invited" in actions and "workspace.created" in actions

    user.find("audit-kind").elements.pop().set_value("member.")
    await user.should_see(marker="audit-table")
    assert {row["action"] for row in table.rows} == {"member.invited", "member.joined"}
    assert "bruno@example.com" in {row["actor"] for row in table.rows}

    user.find("audit-person").elements.pop().set_value(bruno.id)
    assert {row["action"] for row in table.rows} == {"member.joined"}

    await work_as(user, "bruno@example.com", team.id)
    await user.open("/audit")
    await user.should_see("Solo quienes son propietarios de este espacio ven su registro de auditoría.")


async def test_the_user_menu_lists_the_workspaces_and_hides_the_audit_log_from_non_owners(user):
    _owner, _bruno, team = team_with_editor(user)
    await user.open("/runs")
    await user.should_see(marker="workspace-switcher")
    await user.should_see(marker="workspace-Despacho")
    await user.should_see(marker="workspace-Personal")
    await user.should_see(marker="menu-audit")

    await work_as(user, "bruno@example.com", team.id)
    await user.open("/runs")
    await user.should_see(marker="menu-tokens")
    await user.should_not_see(marker="menu-audit")


async def test_the_account_page_changes_the_name_and_the_password(user):
    client = user.http_client
    await user.open("/account")
    await user.should_see(ADMIN_EMAIL)
    user.find("account-name").clear().type("Ana Admin")
    user.find("account-save").click()
    await user.should_see("Guardado.")
    assert user.services.accounts.user(user.account.id).name == "Ana Admin"

    info = session_of(user)
    other = user.services.accounts.sign_in_user(user.account.id, ip="127.0.0.1")  # another device
    wrong = await client.post("/auth/password", data={"old": "nope", "password": PASSWORD, "password2": PASSWORD,
                                                      "csrf": info.csrf_token})
    assert wrong.headers["location"] == "/account?error=wrong_password"
    await user.open(wrong.headers["location"])
    await user.should_see("La contraseña actual no es correcta")

    done = await client.post("/auth/password", data={"old": ADMIN_PASSWORD, "password": PASSWORD,
                                                     "password2": PASSWORD, "csrf": info.csrf_token})
    assert done.headers["location"] == "/account?changed=1"
    keep_session(client, done)
    assert session_of(user) is not None  # this browser got a new session...
    assert user.services.accounts.session(other.cookie_value) is None  # ...the other device's ended
    await user.open(done.headers["location"])
    await user.should_see(marker="password-changed")


async def test_sign_out_everywhere_ends_every_session(user):
    info = session_of(user)
    other = user.services.accounts.sign_in_user(user.account.id, ip="127.0.0.1")
    await user.open("/account")
    await user.should_see(marker="logout-everywhere-form")

    out = await user.http_client.post("/auth/logout", data={"csrf": info.csrf_token, "everywhere": "1"})

    assert out.headers["location"] == "/login"
    assert session_of(user) is None and user.services.accounts.session(other.cookie_value) is None
    assert (await user.http_client.get("/account")).headers["location"].startswith("/login?next=")


async def test_the_audit_log_pages_back_and_filters_by_dates(user):
    owner, _bruno, team = team_with_editor(user)
    for i in range(55):  # more than a page
        user.services.audit.record(owner.actor, "graph.deleted", workspace_id=team.id, target_type="graph",
                                   target_id=f"g{i}")
    await user.open("/audit")
    table = user.find("audit-table").elements.pop()
    older = user.find("audit-older").elements.pop()
    assert len(table.rows) == 50 and table.rows[0]["target"] == "graph g54" and older.enabled

    user.find("audit-older").click()
    assert [row["target"] for row in table.rows[:5]] == [f"graph g{i}" for i in (4, 3, 2, 1, 0)]
    assert not older.enabled
    user.find("audit-newer").click()
    assert table.rows[0]["target"] == "graph g54"

    user.find("audit-until").elements.pop().set_value("2000-01-01")
    assert table.rows == []
    await user.should_see(marker="audit-empty")


async def test_an_owner_renames_and_deletes_a_team_workspace(user):
    owner, _bruno, team = team_with_editor(user)
    await user.open("/members")
    user.find("rename-workspace").click()
    user.find("workspace-name-input").clear().type("Despacho Norte")
    user.find("workspace-name-save").click()
    await user.should_see("Despacho Norte")
    assert user.services.workspaces.get(owner, team.id).name == "Despacho Norte"

    await user.open("/members")
    user.find("delete-workspace").click()
    await user.should_see("¿Eliminar el espacio de trabajo 'Despacho Norte'")
    user.find("confirm-delete-workspace").click()
    await user.should_see("Biblioteca de grafos")
    assert user.services.accounts_repo.workspace(team.id) is None
    info = session_of(user)
    assert info.workspace_id == user.services.accounts_repo.personal_workspace(user.account.id)
