"""The analytics page (tiles, charts, minutes per graph, CSV link) and the account page's "Your data" card."""

from __future__ import annotations

import pytest
from nicegui import ui

from app.accounts import actor_for
from tests.graphs import edge, graph, node

pytestmark = pytest.mark.anyio

ECHO = graph([node("a", "io.input", name="a"), node("o", "io.output", name="echo")],
             [edge("a", "o", "value", "value")], name="Eco")


async def test_analytics_page_shows_figures_and_saves_minutes(user):
    svc = user.services
    ws = svc.scoped(svc.scope_for(actor_for(user.account)))
    version = ws.graphs.save(ECHO)
    for _ in range(2):
        assert ws.runs.wait(ws.runs.start(version.id, {"a": "hola"}), 30).state == "succeeded"

    await user.open("/analytics")
    await user.should_see("Analítica")
    await user.should_see("Ejecuciones por día")
    await user.should_see(marker="chart-runs")
    [runs] = user.find("tile-runs-value").elements
    assert runs.text == "2"
    [link] = user.find("analytics-csv").elements
    assert "/api/v1/analytics?days=30&format=csv" in link.props["href"]
    chart = user.find("chart-runs").elements.pop()
    assert isinstance(chart, ui.echart) and sum(chart.options["series"][0]["data"]) == 2

    # an owner sets the minutes a run saves: 2 runs × 30 minutes in 30 days is 1 hour a month
    minutes = user.find(f"minutes-{version.graph_id}")
    next(iter(minutes.elements)).set_value(30)
    minutes.trigger("blur")
    await user.should_see("Guardado.")
    assert svc.analytics.minutes_per_run(svc.scope_for(actor_for(user.account)), version.graph_id) == 30
    [hours] = user.find("tile-hours-value").elements
    assert hours.text == "1.0 h"


async def test_account_page_offers_export_and_refuses_deleting_the_only_admin(user):
    await user.open("/account")
    await user.should_see("Tus datos")
    [link] = user.find("export-my-data").elements
    assert link.props["href"] == "/api/v1/me/export"
    user.find("delete-my-data").click()
    user.find("delete-password").type("correct horse battery staple")
    user.find("delete-confirm").click()
    await user.should_see("only administrator")
    assert svc_user_exists(user)


def svc_user_exists(user) -> bool:
    return user.services.accounts_repo.user(user.account.id) is not None
