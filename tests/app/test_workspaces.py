"""Workspaces, members, roles and invitations (app/workspaces.py) on a real database, as different people."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import timedelta
from email import message_from_bytes, policy
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import update

from app.errors import Conflict, Forbidden, InvalidAccount, InvalidRequest, NotFound
from app.policy import Actor, Scope
from app.services import Services
from storage.models import Invitation, utcnow
from tests.conftest import make_settings
from tests.nodes.integration_servers import smtp_server

PASSWORD = "a long passphrase 42"


def person(services: Services, email: str, name: str = "") -> Scope:
    """A new account, and the Scope it has when signed in (its personal workspace current)."""
    user = services.accounts.create_user(email, PASSWORD, name=name)
    return scope_of(services, user.id)


def scope_of(services: Services, user_id: str, workspace_id: str | None = None) -> Scope:
    """The Scope as a request would build it now: roles read from the memberships."""
    user = services.accounts_repo.user(user_id)
    assert user is not None
    return services.scope_for(Actor(user.id, label=user.email), workspace_id)


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


@pytest.fixture
def team(services: Services):
    """Ana owns the team workspace 'Despacho'; Bruno is an editor there; Carla is in none of it."""
    ana, bruno, carla = (person(services, e) for e in ("ana@example.com", "bruno@example.com", "carla@example.com"))
    workspace = services.workspaces.create(ana, "Despacho")
    invite = services.workspaces.invite(scope_of(services, ana.user_id), workspace.id, "bruno@example.com", "editor")
    services.workspaces.accept_invitation(token_of(invite.link), bruno.user_id)
    return (scope_of(services, ana.user_id), scope_of(services, bruno.user_id), scope_of(services, carla.user_id),
            workspace.id)


def actions(services: Services, scope: Scope, workspace_id: str, prefix: str | None = None) -> list[str]:
    return [e.action for e in reversed(services.audit.list(scope, workspace_id=workspace_id, action=prefix))]


# --- workspaces --------------------------------------------------------------------------------------------


def test_a_new_workspace_is_listed_with_its_creator_as_owner(services):
    ana = person(services, "ana@example.com")

    created = services.workspaces.create(ana, "  Despacho   Pérez ")

    listed = services.workspaces.list(scope_of(services, ana.user_id))
    assert [(w.name, w.role, w.members, w.personal_of) for w in listed] == [
        ("Personal", "owner", 1, ana.user_id), ("Despacho Pérez", "owner", 1, None)]
    assert created.id == listed[1].id
    assert actions(services, scope_of(services, ana.user_id), created.id) == ["workspace.created"]


def test_owner_renames_and_deletes_a_team_workspace_and_both_are_audited(services, team):
    ana, _bruno, _carla, workspace_id = team

    renamed = services.workspaces.rename(ana, workspace_id, "Despacho Norte")
    services.workspaces.delete(ana, workspace_id)

    assert renamed.name == "Despacho Norte"
    assert services.accounts_repo.workspace(workspace_id) is None
    assert all(w.id != workspace_id for w in services.workspaces.list(ana))
    events = services.audit.list(services.local_scope, workspace_id="*", action="workspace.")
    assert [(e.action, e.details.get("name") or e.details.get("to")) for e in reversed(events)] == [
        ("workspace.created", "Despacho"), ("workspace.renamed", "Despacho Norte"),
        ("workspace.deleted", "Despacho Norte")]


def test_a_personal_workspace_cannot_be_deleted_nor_shared(services):
    ana = person(services, "ana@example.com")

    with pytest.raises(Conflict) as deleting:
        services.workspaces.delete(ana, ana.workspace_id)
    with pytest.raises(Conflict) as inviting:
        services.workspaces.invite(ana, ana.workspace_id, "bruno@example.com", "viewer")

    assert deleting.value.code == inviting.value.code == "personal_workspace"
    assert "team workspace" in inviting.value.message


def test_workspace_names_are_checked(services):
    ana = person(services, "ana@example.com")

    with pytest.raises(InvalidRequest) as empty:
        services.workspaces.create(ana, "   ")
    with pytest.raises(InvalidRequest):
        services.workspaces.create(ana, "x" * 201)

    assert empty.value.code == "invalid_name"


# --- roles ---------------------------------------------------------------------------------------------------


def test_an_editor_sees_the_members_but_cannot_manage_them(services, team):
    ana, bruno, _carla, workspace_id = team

    members = services.workspaces.members(bruno, workspace_id)

    assert [(m.email, m.role) for m in members] == [("ana@example.com", "owner"), ("bruno@example.com", "editor")]
    for attempt in (lambda: services.workspaces.invite(bruno, workspace_id, "dora@example.com", "viewer"),
                    lambda: services.workspaces.invitations(bruno, workspace_id),
                    lambda: services.workspaces.set_role(bruno, workspace_id, bruno.user_id, "owner"),
                    lambda: services.workspaces.remove_member(bruno, workspace_id, ana.user_id),
                    lambda: services.workspaces.rename(bruno, workspace_id, "Mío"),
                    lambda: services.workspaces.delete(bruno, workspace_id),
                    lambda: services.audit.list(bruno, workspace_id=workspace_id)):
        with pytest.raises(Forbidden) as refused:
            attempt()
        assert "'editor'" in refused.value.message and "owner" in refused.value.message


def test_someone_outside_the_workspace_gets_not_found_everywhere(services, team):
    ana, _bruno, carla, workspace_id = team
    invitation = services.workspaces.invite(ana, workspace_id, "dora@example.com", "viewer").row

    for attempt in (lambda: services.workspaces.get(carla, workspace_id),
                    lambda: services.workspaces.members(carla, workspace_id),
                    lambda: services.workspaces.rename(carla, workspace_id, "Mío"),
                    lambda: services.workspaces.delete(carla, workspace_id),
                    lambda: services.workspaces.invite(carla, workspace_id, "eva@example.com", "viewer"),
                    lambda: services.workspaces.invitations(carla, workspace_id),
                    lambda: services.workspaces.revoke_invitation(carla, invitation.id),
                    lambda: services.workspaces.set_role(carla, workspace_id, ana.user_id, "viewer"),
                    lambda: services.workspaces.remove_member(carla, workspace_id, ana.user_id),
                    lambda: services.workspaces.remove_member(carla, workspace_id, carla.user_id),
                    lambda: services.audit.list(carla, workspace_id=workspace_id)):
        with pytest.raises(NotFound):
            attempt()
    assert [w.name for w in services.workspaces.list(carla)] == ["Personal"]
    with pytest.raises(NotFound):  # the system actor too, for a workspace that does not exist
        services.workspaces.members(services.local_scope, "0" * 32)


def test_owner_changes_a_role_and_it_is_audited(services, team):
    ana, bruno, _carla, workspace_id = team

    member = services.workspaces.set_role(ana, workspace_id, bruno.user_id, "viewer")

    assert (member.email, member.role) == ("bruno@example.com", "viewer")
    assert scope_of(services, bruno.user_id).role(workspace_id) == "viewer"
    event = services.audit.list(ana, workspace_id=workspace_id, action="member.role_changed")[0]
    assert (event.actor_id, event.target_id, event.details["from"], event.details["to"]) == (
        ana.user_id, bruno.user_id, "editor", "viewer")
    with pytest.raises(InvalidRequest) as wrong:
        services.workspaces.set_role(ana, workspace_id, bruno.user_id, "admin")
    assert wrong.value.code == "invalid_role"
    with pytest.raises(NotFound):
        services.workspaces.set_role(ana, workspace_id, "f" * 32, "viewer")


def test_the_last_owner_cannot_be_demoted_removed_or_leave(services, team):
    ana, bruno, _carla, workspace_id = team

    for attempt in (lambda: services.workspaces.set_role(ana, workspace_id, ana.user_id, "editor"),
                    lambda: services.workspaces.remove_member(ana, workspace_id, ana.user_id)):
        with pytest.raises(Conflict) as refused:
            attempt()
        assert refused.value.code == "last_owner"

    # Given a second owner, the first may step down and then leave
    services.workspaces.set_role(ana, workspace_id, bruno.user_id, "owner")
    services.workspaces.set_role(ana, workspace_id, ana.user_id, "editor")
    services.workspaces.remove_member(scope_of(services, ana.user_id), workspace_id, ana.user_id)

    assert [(m.email, m.role) for m in services.workspaces.members(bruno, workspace_id)] == [
        ("bruno@example.com", "owner")]
    with pytest.raises(Conflict):
        services.workspaces.set_role(scope_of(services, bruno.user_id), workspace_id, bruno.user_id, "viewer")


def test_an_owner_removes_a_member_and_a_member_may_leave(services, team):
    ana, bruno, carla, workspace_id = team
    invite = services.workspaces.invite(ana, workspace_id, "carla@example.com", "runner")
    services.workspaces.accept_invitation(token_of(invite.link), carla.user_id)

    services.workspaces.remove_member(ana, workspace_id, bruno.user_id)
    services.workspaces.remove_member(scope_of(services, carla.user_id), workspace_id, carla.user_id)

    assert [m.email for m in services.workspaces.members(ana, workspace_id)] == ["ana@example.com"]
    with pytest.raises(NotFound):
        services.workspaces.members(scope_of(services, bruno.user_id), workspace_id)
    removed = services.audit.list(ana, workspace_id=workspace_id, action="member.removed")
    assert [(e.details["email"], e.details["left"]) for e in reversed(removed)] == [
        ("bruno@example.com", False), ("carla@example.com", True)]


# --- invitations -----------------------------------------------------------------------------------------------


def test_an_invitation_link_works_once_for_the_invited_address_in_any_case(services, team):
    ana, _bruno, _carla, workspace_id = team
    dora = person(services, "dora@example.com")

    invite = services.workspaces.invite(ana, workspace_id, "Dora@Example.COM", "runner")
    token = token_of(invite.link)
    view = services.workspaces.invitation(token)
    joined = services.workspaces.accept_invitation(token, dora.user_id)

    assert invite.link.startswith("http://127.0.0.1:8080/invite?token=")
    assert (invite.emailed, invite.row.email) == (False, "dora@example.com")
    assert "not set up" in (invite.email_problem or "")
    assert (view.workspace_name, view.role, view.email, view.state) == ("Despacho", "runner", "dora@example.com",
                                                                        "valid")
    assert (joined.id, joined.role, joined.members) == (workspace_id, "runner", 3)
    assert services.workspaces.invitation(token).state == "used"
    with pytest.raises(Conflict) as again:
        services.workspaces.accept_invitation(token, dora.user_id)
    assert again.value.code == "invitation_used"
    assert actions(services, ana, workspace_id, "member.")[-2:] == ["member.invited", "member.joined"]
    # only the hash of the link's secret is stored
    with services.db.read() as s:
        stored = s.get(Invitation, invite.row.id)
        assert token not in (stored.token_hash, stored.id) and len(stored.token_hash) == 64


def test_an_invitation_for_another_address_is_refused_with_a_sentence(services, team):
    ana, _bruno, carla, workspace_id = team
    invite = services.workspaces.invite(ana, workspace_id, "dora@example.com", "viewer")

    with pytest.raises(Forbidden) as refused:
        services.workspaces.accept_invitation(token_of(invite.link), carla.user_id)

    assert refused.value.code == "invitation_other_email"
    assert "dora@example.com" in refused.value.message and "carla@example.com" in refused.value.message
    assert services.workspaces.invitation(token_of(invite.link)).state == "valid"  # still usable by Dora


def test_an_expired_invitation_is_refused(services, team):
    ana, _bruno, _carla, workspace_id = team
    dora = person(services, "dora@example.com")
    invite = services.workspaces.invite(ana, workspace_id, "dora@example.com", "viewer")
    assert invite.row.expires_at - utcnow() > timedelta(days=services.settings.auth.invitation_days, minutes=-1)
    with services.db.session() as s:  # a week passes
        s.execute(update(Invitation).where(Invitation.id == invite.row.id)
                  .values(expires_at=utcnow() - timedelta(seconds=1)))

    with pytest.raises(Conflict) as refused:
        services.workspaces.accept_invitation(token_of(invite.link), dora.user_id)

    assert refused.value.code == "invitation_expired"
    assert services.workspaces.invitation(token_of(invite.link)).state == "expired"
    assert [i.state for i in services.workspaces.invitations(ana, workspace_id)] == ["expired"]


def test_a_revoked_invitation_stops_working(services, team):
    ana, bruno, _carla, workspace_id = team
    dora = person(services, "dora@example.com")
    invite = services.workspaces.invite(ana, workspace_id, "dora@example.com", "viewer")
    with pytest.raises(Forbidden):
        services.workspaces.revoke_invitation(bruno, invite.row.id)

    services.workspaces.revoke_invitation(ana, invite.row.id)
    services.workspaces.revoke_invitation(ana, invite.row.id)  # twice is fine, audited once

    with pytest.raises(Conflict) as refused:
        services.workspaces.accept_invitation(token_of(invite.link), dora.user_id)
    assert refused.value.code == "invitation_revoked"
    assert services.workspaces.invitations(ana, workspace_id) == []
    assert actions(services, ana, workspace_id, "invitation.") == ["invitation.revoked"]
    with pytest.raises(NotFound):
        services.workspaces.revoke_invitation(ana, "0" * 32)


def test_inviting_again_replaces_the_pending_link(services, team):
    ana, _bruno, _carla, workspace_id = team
    dora = person(services, "dora@example.com")

    first = services.workspaces.invite(ana, workspace_id, "dora@example.com", "viewer")
    second = services.workspaces.invite(ana, workspace_id, "dora@example.com", "editor")

    assert services.workspaces.invitation(token_of(first.link)).state == "revoked"
    assert [i.id for i in services.workspaces.invitations(ana, workspace_id)] == [second.row.id]
    assert services.workspaces.accept_invitation(token_of(second.link), dora.user_id).role == "editor"


def test_members_and_bad_addresses_cannot_be_invited(services, team):
    ana, _bruno, _carla, workspace_id = team

    with pytest.raises(Conflict) as member:
        services.workspaces.invite(ana, workspace_id, "BRUNO@example.com", "viewer")
    with pytest.raises(InvalidAccount) as address:
        services.workspaces.invite(ana, workspace_id, "bruno at example", "viewer")
    with pytest.raises(InvalidRequest):
        services.workspaces.invite(ana, workspace_id, "dora@example.com", "boss")

    assert (member.value.code, address.value.code) == ("already_member", "invalid_email")


def test_an_unknown_invitation_link_is_not_valid(services, team):
    bruno = team[1]

    assert services.workspaces.invitation("not-a-token") is None
    with pytest.raises(NotFound) as refused:
        services.workspaces.accept_invitation("not-a-token", bruno.user_id)
    assert refused.value.code == "invitation_invalid"


def test_accepting_never_demotes_a_member(services, team):
    ana, bruno, _carla, workspace_id = team
    services.workspaces.set_role(ana, workspace_id, bruno.user_id, "owner")
    # Given an invitation as viewer made before Bruno joined, still pending for his address
    token = "an-old-invitation-link-secret"
    with services.db.session() as s:
        s.add(Invitation(workspace_id=workspace_id, email="bruno@example.com", role="viewer",
                         token_hash=hashlib.sha256(token.encode()).hexdigest(), invited_by=ana.user_id,
                         expires_at=utcnow() + timedelta(days=1)))

    joined = services.workspaces.accept_invitation(token, bruno.user_id)

    assert joined.role == "owner"
    assert scope_of(services, bruno.user_id).role(workspace_id) == "owner"
    assert services.workspaces.invitation(token).state == "used"
    assert actions(services, ana, workspace_id, "member.joined") == ["member.joined"]  # only the first time


def test_the_invitation_is_emailed_through_smtp(tmp_path):
    with smtp_server() as (mailbox, port):
        settings = make_settings(tmp_path / "data", smtp={"host": "127.0.0.1", "port": port, "security": "none",
                                                          "sender": "MindDocs <avisos@example.com>"},
                                 notifications={"public_url": "https://docs.example.com/"})
        with Services(settings) as services:
            ana = person(services, "ana@example.com", name="Ana Pérez")
            workspace = services.workspaces.create(ana, "Despacho")

            invite = services.workspaces.invite(scope_of(services, ana.user_id), workspace.id, "dora@example.com",
                                                "editor")

    assert (invite.emailed, invite.email_problem) == (True, None)
    assert [e.rcpt_tos for e in mailbox.envelopes] == [["dora@example.com"]]
    message = message_from_bytes(mailbox.envelopes[0].content, policy=policy.default)
    assert message["Subject"] == "Invitación a «Despacho» en MindDocs"
    body = message.get_content()
    assert "Ana Pérez" in body and "editor" in body
    link = re.search(r"https://docs\.example\.com/invite\?token=\S+", body).group(0)
    assert link == invite.link


def test_on_postgresql_two_owners_stepping_down_at_once_leave_one_owner(tmp_path, pg_database):
    from concurrent.futures import ThreadPoolExecutor

    with Services(make_settings(tmp_path / "data", database_url=pg_database)) as services:
        tag = uuid.uuid4().hex[:8]
        ana, bruno = (person(services, f"{who}-{tag}@example.com") for who in ("ana", "bruno"))
        workspace = services.workspaces.create(ana, "Despacho")
        invite = services.workspaces.invite(scope_of(services, ana.user_id), workspace.id, f"bruno-{tag}@example.com",
                                            "owner")
        services.workspaces.accept_invitation(token_of(invite.link), bruno.user_id)
        owners = [scope_of(services, s.user_id) for s in (ana, bruno)]

        def step_down(scope: Scope) -> str:
            try:
                services.workspaces.set_role(scope, workspace.id, scope.user_id, "editor")
                return "stepped down"
            except Conflict as exc:
                return exc.code

        for _ in range(5):
            with ThreadPoolExecutor(2) as pool:
                outcomes = sorted(pool.map(step_down, owners))
            remaining = [m.user_id for m in services.accounts_repo.members(workspace.id) if m.role == "owner"]
            assert (outcomes, len(remaining)) == (["last_owner", "stepped down"], 1)
            # Given both owners again for the next round
            other = next(s.user_id for s in owners if s.user_id != remaining[0])
            services.workspaces.set_role(scope_of(services, remaining[0]), workspace.id, other, "owner")
