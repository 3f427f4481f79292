"""The admin area and the plan-and-usage page through the simulated user (signed in as the administrator)."""

from __future__ import annotations

import pytest
from nicegui import ui

from app.accounts import actor_for
from tests.conftest import make_settings, sign_in
from tests.graphs import edge, graph, node

pytestmark = pytest.mark.anyio

PASSWORD = "Tejado-verde-4419"
FAILING = graph([node("a", "io.input", name="a", kind="json"), node("g", "json.get", path="missing.key"),
                 node("o", "io.output", name="o")],
                [edge("a", "g", "value", "data"), edge("g", "o", "value", "value")], name="Rompe")


@pytest.fixture
def ui_settings(tmp_path):
    return make_settings(tmp_path / "data", load_samples=False, plans={"default": "free"},
                         llm={"base_url": "http://127.0.0.1:9/v1", "api_key": "sk-very-secret-value"})


async def test_the_administrator_creates_disables_and_makes_admin(user):
    await user.open("/")
    user.find(marker="user-menu").click()
    await user.should_see(marker="menu-admin")

    await user.open("/admin")
    await user.should_see(marker="admin-user-admin@example.com")
    user.find(marker="admin-new-email").type("rosa@example.com")
    user.find(marker="admin-new-name").type("Rosa")
    user.find(marker="admin-create-user").click()
    await user.should_see(marker="admin-link")
    link = user.find(marker="admin-link").elements.pop().value
    assert "/reset?token=" in link or "token=" in link
    rosa = user.services.accounts_repo.user_by_email("rosa@example.com")
    assert rosa is not None and rosa.password_hash is None and rosa.name == "Rosa"

    user.find(marker="admin-link-close").click()
    await user.should_see(marker="admin-disable-rosa@example.com")  # the list is drawn again after the answer
    user.find(marker="admin-disable-rosa@example.com").click()
    await user.should_see(marker="admin-enable-rosa@example.com")
    assert not user.services.accounts_repo.user(rosa.id).is_active

    user.find(marker="admin-grant_admin-rosa@example.com").click()
    await user.should_see(marker="admin-revoke_admin-rosa@example.com")
    assert user.services.accounts_repo.user(rosa.id).is_admin

    # the last active administrator keeps the right: the sentence is shown, nothing changes
    user.find(marker="admin-revoke_admin-admin@example.com").click()
    await user.should_see("the only active administrator")
    assert user.services.accounts_repo.user(user.account.id).is_admin


async def test_the_administrator_changes_a_workspace_plan(user):
    svc = user.services
    ana = svc.accounts.create_user("ana@example.com", PASSWORD)
    team = svc.workspaces.create(svc.scope_for(actor_for(ana)), "Clínica")

    await user.open("/admin")
    user.find(marker="admin-tab-workspaces").click()
    await user.should_see(marker="admin-workspace-Clínica")
    user.find(marker="admin-change-plan-Clínica").click()
    user.find(marker="admin-plan-choice").elements.pop().set_value("enterprise")
    user.find(marker="admin-plan-save").click()
    await user.should_see("«Clínica» tiene ahora el plan «enterprise».")

    assert svc.accounts_repo.workspace(team.id).plan == "enterprise"
    events = svc.audit.list(svc.scope_for(actor_for(user.account)), workspace_id="*",
                            action="workspace.plan_changed")
    assert [e.details for e in events] == [{"from": "default", "to": "enterprise"}]


async def test_failed_runs_queues_and_masked_settings(user):
    svc = user.services
    scope = svc.scope_for(actor_for(user.account))
    ws = svc.scoped(scope)
    run = ws.runs.wait(ws.runs.start(ws.graphs.save(FAILING).id, {"a": {"other": 1}}), 30)
    assert run.state == "failed"

    await user.open("/admin")
    user.find(marker="admin-tab-failed").click()
    await user.should_see(marker=f"admin-failed-{run.id}")
    user.find(marker="admin-tab-queues").click()
    await user.should_see(marker="admin-queues")
    await user.should_see(marker="admin-run-states")
    user.find(marker="admin-tab-settings").click()
    await user.should_see(marker="admin-settings")
    table = user.find(marker="admin-settings").elements.pop()
    values = {row["key"]: row["value"] for row in table.rows}
    assert values["llm.api_key"] == "••••••" and values["llm.base_url"] == "http://127.0.0.1:9/v1"
    assert "sk-very-secret-value" not in str(table.rows)

    await user.open(f"/admin/runs/{run.id}")
    await user.should_see(marker="admin-run-state")
    await user.should_see(marker="admin-run-error")


async def test_someone_who_is_not_an_administrator_gets_404(user):
    svc = user.services
    ana = svc.accounts.create_user("ana@example.com", PASSWORD)
    scope = svc.scope_for(actor_for(ana))
    ws = svc.scoped(scope)
    run_id = ws.runs.start(ws.graphs.save(FAILING).id, {"a": {"other": 1}})
    sign_in(user.http_client, svc, "ana@example.com", password=PASSWORD)

    assert (await user.http_client.get("/admin")).status_code == 404
    assert (await user.http_client.get(f"/admin/runs/{run_id}")).status_code == 404
    await user.open("/")
    user.find(marker="user-menu").click()
    await user.should_see(marker="menu-usage")  # the owner of her personal workspace
    await user.should_not_see(marker="menu-admin")


async def test_the_owner_sees_the_usage_of_the_plan(user):
    svc = user.services
    scope = svc.scope_for(actor_for(user.account))
    ws = svc.scoped(scope)
    version = ws.graphs.save(graph([node("a", "io.input", name="a"), node("o", "io.output", name="a")],
                                   [edge("a", "o", "value", "value")]))
    for _ in range(2):
        ws.runs.wait(ws.runs.start(version.id, {"a": "x"}), 30)

    await user.open("/usage")
    await user.should_see(marker="usage-panel")
    await user.should_see("2 de 100")  # runs this month of the free plan
    await user.should_see("Nodos de imagen y audio: no incluidos en este plan")
    bar = user.find(marker="usage-runs_per_month-bar").elements.pop()
    assert isinstance(bar, ui.linear_progress) and bar.value == pytest.approx(0.02)
