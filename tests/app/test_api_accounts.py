"""The accounts and workspaces endpoints (app/api_accounts.py) over HTTP, as two people with real sessions."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.conftest import make_settings, sign_in

PASSWORD = "correct horse battery staple"


@pytest.fixture
def clients(tmp_path) -> Iterator[tuple[TestClient, TestClient, TestClient]]:
    """Ana (the administrator), Bruno and Carla, each signed in in their own client of one app."""
    app = create_app(make_settings(tmp_path / "data", scheduler={"in_server": False}))
    with TestClient(app) as ana, TestClient(app) as bruno, TestClient(app) as carla:
        services = app.state.services
        sign_in(ana, services, "ana@example.com", password=PASSWORD)
        sign_in(bruno, services, "bruno@example.com", password=PASSWORD)
        sign_in(carla, services, "carla@example.com", password=PASSWORD)
        yield ana, bruno, carla


def ok(response, status: int = 200):
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def test_me_shows_the_person_their_workspaces_and_the_current_one(clients):
    ana = clients[0]

    me = ok(ana.get("/api/v1/me"))
    changed = ok(ana.patch("/api/v1/me", json={"name": "Ana Pérez", "locale": "en"}))

    assert me["user"]["email"] == "ana@example.com" and me["user"]["is_admin"] and me["user"]["has_password"]
    assert [(w["personal"], w["role"]) for w in me["workspaces"]] == [(True, "owner")]
    assert me["workspace_id"] == me["workspaces"][0]["id"]
    assert (changed["user"]["name"], changed["user"]["locale"]) == ("Ana Pérez", "en")
    assert ana.patch("/api/v1/me", json={"locale": "fr"}).status_code == 422


def test_a_team_is_built_through_the_api(clients):
    ana, bruno, carla = clients
    workspace = ok(ana.post("/api/v1/workspaces", json={"name": "Despacho"}), 201)
    path = f"/api/v1/workspaces/{workspace['id']}"

    sent = ok(ana.post(f"{path}/invitations", json={"email": "bruno@example.com", "role": "editor"}), 201)
    pending = ok(ana.get(f"{path}/invitations"))
    token = parse_qs(urlsplit(sent["link"]).query)["token"][0]
    wrong_person = carla.post("/api/v1/invitations/accept", json={"token": token})
    joined = ok(bruno.post("/api/v1/invitations/accept", json={"token": token}))
    members = ok(bruno.get(f"{path}/members"))
    bruno_id = next(m["user_id"] for m in members if m["email"] == "bruno@example.com")
    editor_invites = bruno.post(f"{path}/invitations", json={"email": "dora@example.com", "role": "viewer"})
    promoted = ok(ana.put(f"{path}/members/{bruno_id}", json={"role": "viewer"}))

    assert (sent["state"], sent["emailed"], sent["role"]) == ("valid", False, "editor")
    assert [i["id"] for i in pending] == [sent["id"]]
    assert (wrong_person.status_code, wrong_person.json()["code"]) == (403, "invitation_other_email")
    assert (joined["id"], joined["role"], joined["members"]) == (workspace["id"], "editor", 2)
    assert [(m["email"], m["role"]) for m in members] == [("ana@example.com", "owner"),
                                                          ("bruno@example.com", "editor")]
    assert (editor_invites.status_code, editor_invites.json()["code"]) == (403, "forbidden")
    assert promoted["role"] == "viewer"
    assert ana.put(f"{path}/members/{bruno_id}", json={"role": "chief"}).status_code == 422
    # someone outside the workspace learns nothing about it
    for method, url in (("GET", f"{path}/members"), ("PATCH", path), ("DELETE", path),
                        ("GET", f"{path}/invitations"), ("POST", f"{path}/invitations"),
                        ("PUT", f"{path}/members/{bruno_id}"), ("DELETE", f"{path}/members/{bruno_id}"),
                        ("DELETE", f"/api/v1/invitations/{sent['id']}"), ("GET", f"/api/v1/audit?workspace_id="
                                                                                 f"{workspace['id']}")):
        body = {"json": {"name": "x", "role": "viewer", "email": "x@example.com"}} if method in ("PATCH", "PUT",
                                                                                                "POST") else {}
        answer = carla.request(method, url, **body)
        assert answer.status_code == 404, (method, url, answer.text)

    # Bruno leaves, Ana renames then deletes the workspace
    ok(bruno.delete(f"{path}/members/{bruno_id}"), 204)
    assert ok(ana.patch(path, json={"name": "Despacho Norte"}))["name"] == "Despacho Norte"
    ok(ana.delete(path), 204)
    assert [w["personal"] for w in ok(ana.get("/api/v1/workspaces"))] == [True]


def test_the_audit_log_is_filtered_and_paged(clients):
    ana, bruno, _carla = clients
    workspace = ok(ana.post("/api/v1/workspaces", json={"name": "Despacho"}), 201)
    path = f"/api/v1/workspaces/{workspace['id']}"
    for n in range(3):
        ok(ana.post(f"{path}/invitations", json={"email": f"p{n}@example.com", "role": "viewer"}), 201)
    ok(ana.patch(path, json={"name": "Despacho Norte"}))
    query = {"workspace_id": workspace["id"]}

    everything = ok(ana.get("/api/v1/audit", params=query))
    first_page = ana.get("/api/v1/audit", params={**query, "action": "member.", "limit": 2})
    second_page = ana.get(first_page.links["next"]["url"])
    invited, second = ok(first_page), ok(second_page)

    assert [e["action"] for e in everything] == ["workspace.renamed", *["member.invited"] * 3, "workspace.created"]
    assert [e["details"]["email"] for e in invited + second] == ["p2@example.com", "p1@example.com",
                                                                 "p0@example.com"]
    assert "next" not in second_page.links
    assert all(e["actor_label"] == "ana@example.com" and e["ip"] for e in everything)
    assert ok(ana.get("/api/v1/audit", params={**query, "actor_id": "nobody"})) == []
    assert bruno.get("/api/v1/audit", params=query).status_code == 404


def test_password_reset_endpoints_are_public(tmp_path):
    app = create_app(make_settings(tmp_path / "data", scheduler={"in_server": False}))
    with TestClient(app) as anyone, TestClient(app) as ana:
        services = app.state.services
        user = sign_in(ana, services, "ana@example.com", password=PASSWORD)
        link = services.password_reset.admin_link(services.local_scope, user.id)
        token = parse_qs(urlsplit(link).query)["token"][0]

        asked = ok(anyone.post("/api/v1/auth/password-reset", json={"email": "nobody@example.com"}), 202)
        weak = anyone.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": "short"})
        ok(anyone.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": "a new passphrase 7"}),
           204)
        again = anyone.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": "x" * 20})

        assert "If there is an account" in asked["message"]
        assert (weak.status_code, weak.json()["code"]) == (422, "weak_password")
        assert (again.status_code, again.json()["code"]) == (422, "reset_link_used")
        assert ana.get("/api/v1/me").status_code == 401  # her session ended with the reset


def test_a_session_working_in_a_workspace_it_lost_falls_back_to_the_personal_one(clients):
    from app.web_auth import SESSION_COOKIE

    ana, bruno, carla = clients
    services = ana.app.state.services
    workspace = ok(ana.post("/api/v1/workspaces", json={"name": "Despacho"}), 201)
    path = f"/api/v1/workspaces/{workspace['id']}"
    for client, email in ((bruno, "bruno@example.com"), (carla, "carla@example.com")):
        sent = ok(ana.post(f"{path}/invitations", json={"email": email, "role": "editor"}), 201)
        ok(client.post("/api/v1/invitations/accept", json={"token": parse_qs(urlsplit(sent["link"]).query)["token"][0]}))
        # Given they work in the team workspace (as the browser's workspace menu sets it)
        info = services.accounts.session(client.cookies[SESSION_COOKIE])
        services.accounts.set_session_workspace(info.session_id, workspace["id"])
        assert ok(client.get("/api/v1/me"))["workspace_id"] == workspace["id"]
    bruno_id = services.accounts_repo.user_by_email("bruno@example.com").id

    ok(ana.delete(f"{path}/members/{bruno_id}"), 204)
    removed = ok(bruno.get("/api/v1/me"))
    ok(ana.delete(path), 204)
    deleted = ok(carla.get("/api/v1/me"))

    assert removed["workspace_id"] == removed["workspaces"][0]["id"] and removed["workspaces"][0]["personal"]
    assert deleted["workspace_id"] == deleted["workspaces"][0]["id"] and len(deleted["workspaces"]) == 1
