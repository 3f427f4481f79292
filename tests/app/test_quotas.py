"""Plans and quotas (app/quotas.py): each limit refused with a sentence, the usage numbers, plan changes by
instance administrators only, audited."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pymupdf
import pytest
from fastapi.testclient import TestClient

from app.accounts import actor_for
from app.errors import InvalidRequest, NotFound, QuotaExceeded
from app.main import create_app
from app.services import Services
from tests.conftest import make_settings, sign_in
from tests.graphs import edge, graph, node

MB = 1024 * 1024
TEXT_GRAPH = graph([node("a", "io.input", name="a"), node("o", "io.output", name="a")], [edge("a", "o", "value", "value")])
IMAGE_GRAPH = graph([node("img", "io.input", name="img", kind="image"), node("c", "image.convert", format="jpeg"),
                     node("o", "io.output", name="out")],
                    [edge("img", "c", "value", "image"), edge("c", "o", "image", "value")], name="photos")


def limits(**free: Any) -> dict[str, Any]:
    return {"limits": {"free": free}, "default": "free"}  # new workspaces on the free plan, as a hosted service


@pytest.fixture
def world(tmp_path) -> Iterator[dict[str, Any]]:
    """An administrator and a person with a team workspace (on the free plan) they own."""
    settings = make_settings(tmp_path / "data", plans=limits(runs_per_month=3, storage_mb=2, max_file_mb=1,
                                                            members=3, heavy_nodes=False))
    with Services(settings) as svc:
        admin = svc.accounts.setup_admin("admin@example.com", "tall ladder 9876 blue")
        ana = svc.accounts.create_user("ana@example.com", "tall ladder 9876 blue")
        ana_scope = svc.scope_for(actor_for(ana))
        team = svc.workspaces.create(ana_scope, "Oficina")
        yield {"svc": svc, "admin": svc.scope_for(actor_for(admin)), "ana": ana,
               "scope": svc.scope_for(actor_for(ana), team.id), "team": team.id}


def test_runs_per_month_are_refused_past_the_plan(world):
    svc, scope = world["svc"], world["scope"]
    runs = svc.scoped(scope).runs
    version = svc.scoped(scope).graphs.save(TEXT_GRAPH)
    for _ in range(3):
        runs.wait(runs.start(version.id, {"a": "x"}), 30)
    assert svc.quotas.usage(world["team"]).runs.used == 3

    with pytest.raises(QuotaExceeded) as refused:
        runs.start(version.id, {"a": "x"})

    assert refused.value.status == 402 and refused.value.code == "quota_exceeded"
    assert "started 3 runs this month" in refused.value.message and "'free' plan allows 3" in refused.value.message
    assert "administrator can change the workspace's plan" in refused.value.message
    assert refused.value.details == {"quota": "runs_per_month", "limit": 3, "used": 3, "plan": "free"}
    assert svc.quotas.usage(world["team"]).runs.used == 3  # the refused one was not started


def test_scheduled_and_share_link_runs_count_too(world):
    svc, scope = world["svc"], world["scope"]
    version = svc.scoped(scope).graphs.save(TEXT_GRAPH)
    by_schedule = svc.acting_as(world["ana"].id, world["team"])  # what schedules and inbound hooks run as
    by_schedule.runs.wait(by_schedule.runs.start(version.id, {"a": "x"}), 30)
    link = svc.share_links.create(scope, version.graph_id)
    svc.share_links.submit(link.token, values={"a": "x"}, ip="10.0.0.1")
    assert svc.quotas.usage(world["team"]).runs.used == 2
    svc.scoped(scope).runs.start(version.id, {"a": "x"})

    with pytest.raises(QuotaExceeded):
        svc.share_links.submit(link.token, values={"a": "y"}, ip="10.0.0.1")
    with pytest.raises(QuotaExceeded):
        by_schedule.runs.start(version.id, {"a": "x"})


def test_heavy_nodes_need_a_plan_that_includes_them(world):
    svc, scope = world["svc"], world["scope"]
    runs = svc.scoped(scope).runs
    version = svc.scoped(scope).graphs.save(IMAGE_GRAPH)
    png = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 4, 4), False).tobytes("png")
    image = runs.upload(io.BytesIO(png), name="p.png", media_type="image/png").model_dump()

    with pytest.raises(QuotaExceeded) as refused:
        runs.start(version.id, {"img": image})
    assert "image.convert" in refused.value.message and "'free' plan" in refused.value.message
    assert refused.value.details["quota"] == "heavy_nodes"

    svc.admin.set_plan(world["admin"], world["team"], "professional")
    run = runs.wait(runs.start(version.id, {"img": image}), 60)
    assert run.state == "succeeded", run.error_message


def test_a_file_larger_than_the_plan_allows_is_refused_and_not_kept(world):
    svc, scope = world["svc"], world["scope"]
    runs = svc.scoped(scope).runs
    before = svc.quotas.usage(world["team"]).storage_bytes

    with pytest.raises(QuotaExceeded) as refused:
        runs.upload(io.BytesIO(b"x" * (MB + 1)), name="big.pdf")

    assert "'big.pdf' is larger than 1 MB" in refused.value.message
    assert refused.value.details == {"quota": "max_file_mb", "limit": 1, "used": pytest.approx(1.0, abs=0.1),
                                     "plan": "free"}
    assert svc.quotas.usage(world["team"]).storage_bytes == before
    kept = [f for f in svc.settings.artifacts_dir.rglob("*") if f.is_file() and f.stat().st_size > MB]
    assert kept == []  # refused while reading: not a byte kept


def test_storage_is_counted_and_a_full_workspace_refuses_uploads_and_runs(world):
    svc, scope = world["svc"], world["scope"]
    runs = svc.scoped(scope).runs
    runs.upload(io.BytesIO(b"a" * (MB - 10)), name="a.bin")
    runs.upload(io.BytesIO(b"a" * (MB - 10)), name="same.bin")  # the same content is stored (and counted) once
    runs.upload(io.BytesIO(b"b" * (MB // 2)), name="b.bin")
    usage = svc.quotas.usage(world["team"])
    assert usage.storage_bytes == (MB - 10) + MB // 2 and usage.storage.used == 1.5 and usage.storage.limit == 2

    with pytest.raises(QuotaExceeded) as refused:
        runs.upload(io.BytesIO(b"c" * (MB - 10)), name="c.bin")
    assert "'c.bin' does not fit" in refused.value.message and "1.5 MB of the 2 MB" in refused.value.message
    assert refused.value.details["quota"] == "storage_mb"

    runs.upload(io.BytesIO(b"d" * (MB // 2 + 10)), name="d.bin")  # fills it to the brim: 2 MB exactly
    version = svc.scoped(scope).graphs.save(TEXT_GRAPH)
    with pytest.raises(QuotaExceeded) as full:
        runs.start(version.id, {"a": "x"})
    assert "results would not fit" in full.value.message


def test_members_and_pending_invitations_count(world):
    svc, scope, team = world["svc"], world["scope"], world["team"]
    first = svc.workspaces.invite(scope, team, "luis@example.com", "editor")
    svc.workspaces.invite(scope, team, "eva@example.com", "viewer")  # owner + 2 invitations = 3 of 3
    svc.workspaces.invite(scope, team, "eva@example.com", "editor")  # inviting again replaces: still 3

    with pytest.raises(QuotaExceeded) as refused:
        svc.workspaces.invite(scope, team, "pepe@example.com", "viewer")
    assert "3 members and pending invitations" in refused.value.message
    assert refused.value.details == {"quota": "members", "limit": 3, "used": 3, "plan": "free"}
    assert svc.quotas.usage(team).members.used == 3

    luis = svc.accounts.create_user("luis@example.com", "tall ladder 9876 blue")
    svc.workspaces.accept_invitation(first.link.split("token=")[1], luis.id)  # an invitation already counted
    assert svc.quotas.usage(team).members.used == 3

    svc.admin.set_plan(world["admin"], team, "enterprise")
    svc.workspaces.invite(scope, team, "pepe@example.com", "viewer")
    assert svc.quotas.usage(team).members.limit is None


def test_accepting_is_refused_when_the_workspace_is_full(world):
    svc, scope, team = world["svc"], world["scope"], world["team"]
    invite = svc.workspaces.invite(scope, team, "luis@example.com", "editor")
    for email in ("a@example.com", "b@example.com"):
        user = svc.accounts.create_user(email)
        svc.accounts_repo.set_role(team, user.id, "viewer")  # members added meanwhile (3 of 3)
    luis = svc.accounts.create_user("luis@example.com", "tall ladder 9876 blue")

    with pytest.raises(QuotaExceeded) as refused:
        svc.workspaces.accept_invitation(invite.link.split("token=")[1], luis.id)
    assert "3 members, as many as its 'free' plan allows (3)" in refused.value.message


def test_the_plan_is_changed_by_an_instance_administrator_only_and_audited(world):
    svc, team = world["svc"], world["team"]
    with pytest.raises(NotFound):
        svc.admin.set_plan(world["scope"], team, "enterprise")  # the workspace's owner is no administrator
    with pytest.raises(InvalidRequest) as unknown:
        svc.admin.set_plan(world["admin"], team, "platinum")
    assert "free, professional" in unknown.value.message or "enterprise, free" in unknown.value.message

    usage = svc.admin.set_plan(world["admin"], team, "professional")

    assert usage.plan == "professional" and usage.runs.limit == 5000
    events = svc.audit.list(world["admin"], workspace_id="*", action="workspace.plan_changed")
    assert [(e.workspace_id, e.details) for e in events] == [(team, {"from": "default", "to": "professional"})]


def test_plans_are_configured_in_settings_keeping_the_defaults(tmp_path):
    settings = make_settings(tmp_path, plans={"limits": {"free": {"members": 9}, "team": {"runs_per_month": 7}},
                                              "default": "free"})
    assert settings.plans.limits["free"].members == 9 and settings.plans.limits["free"].runs_per_month == 100
    assert settings.plans.limits["team"].runs_per_month == 7 and settings.plans.limits["team"].storage_mb is None
    assert settings.plans.of("gone").members == 9  # an unknown plan has the default plan's limits


def test_usage_api_for_owners_and_402_on_the_api(tmp_path):
    settings = make_settings(tmp_path / "data", plans=limits(runs_per_month=1))
    with TestClient(create_app(settings)) as client:
        svc = client.app.state.services
        owner = sign_in(client, svc)
        workspace = svc.accounts_repo.personal_workspace(owner.id)
        graph_id = client.post("/api/v1/graphs", json=TEXT_GRAPH).json()["id"]
        assert client.post(f"/api/v1/graphs/{graph_id}/runs", json={"inputs": {"a": "x"}}).status_code == 202

        refused = client.post(f"/api/v1/graphs/{graph_id}/runs", json={"inputs": {"a": "x"}})
        assert refused.status_code == 402, refused.text
        assert refused.json()["code"] == "quota_exceeded" and refused.json()["details"]["limit"] == 1

        usage = client.get(f"/api/v1/workspaces/{workspace}/usage")
        assert usage.status_code == 200, usage.text
        body = usage.json()
        assert body["plan"] == "free" and body["runs"] == {"used": 1, "limit": 1}
        assert body["members"] == {"used": 1, "limit": 5} and body["heavy_nodes"] is False

        viewer = svc.accounts.create_user("viewer@example.com", "tall ladder 9876 blue")
        svc.accounts_repo.set_role(workspace, viewer.id, "viewer")
        sign_in(client, svc, "viewer@example.com", password="tall ladder 9876 blue")
        assert client.get(f"/api/v1/workspaces/{workspace}/usage").status_code == 403
        sign_in(client, svc, "outsider@example.com", password="tall ladder 9876 blue")
        assert client.get(f"/api/v1/workspaces/{workspace}/usage").status_code == 404
