"""The admin area (app/admin.py, app/api_admin.py): instance administrators only — everybody else gets 404, and
nobody without credentials gets past 401."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.accounts import actor_for
from app.admin import MASK
from app.errors import Conflict, NotFound
from app.main import create_app
from tests.conftest import make_settings, sign_in
from tests.graphs import edge, graph, node

PASSWORD = "tall ladder 9876 blue"
FAILING = graph([node("a", "io.input", name="a", kind="json"), node("g", "json.get", path="missing.key"),
                 node("o", "io.output", name="o")],
                [edge("a", "g", "value", "data"), edge("g", "o", "value", "value")], name="Rompe")
#: every admin route, with a body where it needs one ({user}, {workspace}, {run}: ids of the world below)
ADMIN_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/admin/users", None),
    ("POST", "/api/v1/admin/users", {"email": "new{n}@example.com"}),
    ("PATCH", "/api/v1/admin/users/{user}", {"is_active": True}),
    ("POST", "/api/v1/admin/users/{user}/reset-link", None),
    ("GET", "/api/v1/admin/workspaces", None),
    ("GET", "/api/v1/admin/plans", None),
    ("PUT", "/api/v1/admin/workspaces/{workspace}/plan", {"plan": "professional"}),
    ("GET", "/api/v1/admin/queues", None),
    ("GET", "/api/v1/admin/runs/failed", None),
    ("GET", "/api/v1/admin/runs/{run}", None),
    ("GET", "/api/v1/admin/settings", None),
]


@pytest.fixture
def world(tmp_path) -> Iterator[dict[str, Any]]:
    settings = make_settings(tmp_path / "data", database_url=None, smtp={"password": "smtp-pass-123"},
                             llm={"base_url": "http://127.0.0.1:9/v1", "api_key": "sk-do-not-show"})
    with TestClient(create_app(settings)) as client:
        svc = client.app.state.services
        admin = sign_in(client, svc)
        ana = svc.accounts.create_user("ana@example.com", PASSWORD)
        ana_scope = svc.scope_for(actor_for(ana))
        ws = svc.scoped(ana_scope)
        run = ws.runs.wait(ws.runs.start(ws.graphs.save(FAILING).id, {"a": {"other": 1}}), 30)
        assert run.state == "failed"
        yield {"client": client, "svc": svc, "admin": svc.scope_for(actor_for(admin)), "ana": ana,
               "ana_scope": ana_scope, "run": run.id, "workspace": ana_scope.workspace_id}


def _call(client: TestClient, world: dict[str, Any], method: str, template: str, body: dict[str, Any] | None,
          n: int = 0):
    path = template.format(user=world["ana"].id, workspace=world["workspace"], run=world["run"])
    json_body = {k: (v.format(n=n) if isinstance(v, str) else v) for k, v in body.items()} if body else None
    return client.request(method, path, json=json_body)


def test_every_admin_route_is_for_administrators_only(world):
    client, svc = world["client"], world["svc"]
    routes = {(m, p) for p, ops in client.app.openapi()["paths"].items() for m in map(str.upper, ops)
              if p.startswith("/api/v1/admin/")}
    assert routes == {(m, p.replace("{user}", "{user_id}").replace("{workspace}", "{workspace_id}")
                       .replace("{run}", "{run_id}")) for m, p, _ in ADMIN_ROUTES}

    for n, (method, template, body) in enumerate(ADMIN_ROUTES):
        answer = _call(client, world, method, template, body, n)
        assert answer.status_code in (200, 201), (method, template, answer.text)

    sign_in(client, svc, "ana@example.com", password=PASSWORD)  # owner of her workspace, no administrator
    for method, template, body in ADMIN_ROUTES:
        answer = _call(client, world, method, template, body, 99)
        assert answer.status_code == 404, (method, template, answer.text)
        assert answer.json()["code"] == "not_found"

    client.cookies.clear()
    for method, template, body in ADMIN_ROUTES:
        assert _call(client, world, method, template, body, 98).status_code == 401, (method, template)


def test_users_are_created_disabled_enabled_and_made_admin(world):
    client, svc = world["client"], world["svc"]
    made = client.post("/api/v1/admin/users", json={"email": "Rosa@Example.com", "name": "Rosa", "locale": "en"})
    assert made.status_code == 201, made.text
    rosa = made.json()["user"]
    assert rosa["email"] == "rosa@example.com" and rosa["has_password"] is False and "token=" in made.json()["link"]

    disabled = client.patch(f"/api/v1/admin/users/{rosa['id']}", json={"is_active": False})
    assert disabled.json()["is_active"] is False
    assert client.post(f"/api/v1/admin/users/{rosa['id']}/reset-link").status_code == 422  # disabled: enable first
    assert client.patch(f"/api/v1/admin/users/{rosa['id']}", json={"is_active": True, "is_admin": True}
                        ).json() == {**disabled.json(), "is_active": True, "is_admin": True}
    emails = [u["email"] for u in client.get("/api/v1/admin/users").json()]
    assert emails == ["admin@example.com", "ana@example.com", "rosa@example.com"]
    actions = [e.action for e in svc.audit.list(world["admin"], workspace_id="*") if e.target_id == rosa["id"]]
    assert {"user.created", "user.disabled", "user.enabled", "user.admin_granted"} <= set(actions)


def test_the_last_administrator_stays_and_nobody_disables_themselves(world):
    svc, admin = world["svc"], world["admin"]
    with pytest.raises(Conflict) as last:
        svc.admin.set_admin(admin, admin.user_id, False)
    assert "only active administrator" in last.value.message
    with pytest.raises(Conflict):
        svc.admin.set_active(admin, admin.user_id, False)
    with pytest.raises(NotFound):
        svc.admin.set_active(world["ana_scope"], admin.user_id, False)

    svc.admin.set_admin(admin, world["ana"].id, True)
    assert svc.admin.set_admin(admin, admin.user_id, False).is_admin is False  # another administrator exists now


def test_a_disabled_account_cannot_sign_in_and_its_sessions_end(world):
    client, svc = world["client"], world["svc"]
    sign_in(client, svc, "ana@example.com", password=PASSWORD)
    assert client.get("/api/v1/me").status_code == 200
    svc.admin.set_active(world["admin"], world["ana"].id, False)
    assert client.get("/api/v1/me").status_code == 401


def test_workspaces_with_plan_members_and_storage_and_the_plan_change(world):
    import io

    client, svc = world["client"], world["svc"]
    svc.scoped(world["ana_scope"]).runs.upload(io.BytesIO(b"x" * 300_000), name="a.bin")
    listed = {w["id"]: w for w in client.get("/api/v1/admin/workspaces").json()}
    ana_ws = listed[world["workspace"]]
    assert ana_ws["plan"] == "default" and ana_ws["members"] == 1 and ana_ws["personal"] is True
    assert ana_ws["storage_mb"] == pytest.approx(0.3, abs=0.05)

    changed = client.put(f"/api/v1/admin/workspaces/{world['workspace']}/plan", json={"plan": "enterprise"})
    assert changed.status_code == 200 and changed.json()["plan"] == "enterprise"
    assert changed.json()["runs"] == {"used": 1, "limit": None}
    unknown = client.put(f"/api/v1/admin/workspaces/{world['workspace']}/plan", json={"plan": "gold"})
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_plan"
    assert client.put("/api/v1/admin/workspaces/nope/plan", json={"plan": "free"}).status_code == 404
    plans = {p["name"]: p for p in client.get("/api/v1/admin/plans").json()}
    assert set(plans) == {"free", "professional", "enterprise", "unlimited"} and plans["free"]["heavy_nodes"] is False


def test_failed_runs_across_the_instance_and_one_run_read_only(world):
    client = world["client"]
    failed = client.get("/api/v1/admin/runs/failed").json()
    assert [(r["id"], r["graph_name"], r["workspace_id"]) for r in failed] == [(world["run"], "Rompe",
                                                                                 world["workspace"])]
    assert failed[0]["error_message"]
    run = client.get(f"/api/v1/admin/runs/{world['run']}").json()
    assert run["state"] == "failed" and {n["node_id"] for n in run["nodes"]} == {"a", "g", "o"}
    assert client.get("/api/v1/runs/" + world["run"]).status_code == 404  # not a member: only the admin view


def test_queues_count_node_runs_and_broker_messages(world):
    queues = world["client"].get("/api/v1/admin/queues").json()
    assert queues["broker"] == "embedded" and queues["runs"] == {"failed": 1}
    names = {q["queue"] for q in queues["queues"]}
    assert {"default", "documents", "media"} <= names
    assert all(q["running"] == 0 and q["queued"] == 0 for q in queues["queues"])


def test_the_settings_overview_masks_secrets(world):
    rows = {r["key"]: r for r in world["client"].get("/api/v1/admin/settings").json()}
    assert rows["llm.api_key"]["value"] == MASK and rows["llm.api_key"]["secret"] is True
    assert rows["smtp.password"]["value"] == MASK
    assert rows["secrets.key"]["value"] == "" and rows["secrets.key"]["secret"] is True  # unset: nothing to mask
    assert rows["auth.session_days"] == {"key": "auth.session_days", "env": "MINDDOCS_AUTH__SESSION_DAYS",
                                         "value": "14", "secret": False}
    assert rows["plans.limits.free.runs_per_month"]["value"] == "100"
    text = str(rows)
    assert "sk-do-not-show" not in text and "smtp-pass-123" not in text


def test_urls_with_passwords_are_masked(tmp_path):
    from app.admin import masked_url

    assert masked_url("postgresql://md:s3cret@db:5432/minddocs") == f"postgresql://md:{MASK}@db:5432/minddocs"
    assert masked_url("redis://redis:6379/0") == "redis://redis:6379/0"


def test_the_counting_queries_on_postgresql(tmp_path, pg_database):
    """The session's PostgreSQL database may hold other tests' accounts and runs: only this test's are checked."""
    import io
    import uuid

    from app.services import Services

    tag = uuid.uuid4().hex[:8]
    with Services(make_settings(tmp_path / "data", database_url=pg_database)) as svc:
        admin_row = (svc.accounts.setup_admin(f"admin-{tag}@example.com", PASSWORD) if svc.accounts.needs_setup()
                     else svc.accounts.create_user(f"admin-{tag}@example.com", PASSWORD, is_admin=True))
        admin = svc.scope_for(actor_for(admin_row))
        ana = svc.scope_for(actor_for(svc.accounts.create_user(f"ana-{tag}@example.com", PASSWORD)))
        ws = svc.scoped(ana)
        ws.runs.upload(io.BytesIO(tag.encode() * 256), name="y.bin")
        failed_before = svc.admin.queues(admin).runs.get("failed", 0)
        run = ws.runs.wait(ws.runs.start(ws.graphs.save(FAILING).id, {"a": {"other": 1}}), 30)
        team_id = svc.workspaces.create(ana, f"Equipo {tag}").id
        svc.workspaces.invite(svc.scope_for(ana.actor, team_id), team_id, "luis@example.com", "viewer")

        usage = svc.quotas.usage(ana.workspace_id)
        assert usage.runs.used == 1 and usage.storage_bytes == 2048 and usage.members.used == 1
        assert run.id in [r.id for r in svc.admin.failed_runs(admin, 500)]
        team = next(w for w in svc.admin.workspaces(admin) if w.id == team_id)
        assert team.members == 1 and svc.quotas.usage(team_id).pending_invitations == 1
        assert svc.admin.queues(admin).runs["failed"] == failed_before + 1
