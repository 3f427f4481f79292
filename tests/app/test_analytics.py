"""Analytics on SQLite and PostgreSQL: runs per day, success rate, median duration, node types, documents
processed, time saved; who may see and set them; the API's JSON and CSV."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from app.accounts import actor_for
from app.errors import Forbidden, InvalidRequest, NotFound
from app.main import create_app
from app.services import Services
from storage.models import GraphVersion, Run
from tests.conftest import make_settings, sign_in
from tests.graphs import edge, graph, node, output

COPY = graph([node("doc", "io.input", name="doc", kind="file"), node("out", "io.output", name="copy")],
             [edge("doc", "out", "value", "value")], name="Copy")
TEXT = graph([node("a", "io.input", name="a"), node("t", "text.template", template="Hola {{ a }}", variables=["a"]),
              *output("o", "greeting", "t")[:1]],
             [edge("a", "t", "value", "a"), output("o", "greeting", "t")[1]], name="Greet")
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def svc(request, tmp_path):
    extra = {"database_url": request.getfixturevalue("pg_database")} if request.param == "postgres" else {}
    with Services(make_settings(tmp_path / "data", scheduler={"in_server": False}, **extra)) as services:
        yield services


def _unique(email: str) -> str:
    """PostgreSQL keeps one database for the whole session: every test gets addresses of its own."""
    name, _, domain = email.partition("@")
    return f"{name}.{uuid.uuid4().hex[:8]}@{domain}"


def _person(svc: Services, email: str):
    user = svc.accounts.create_user(_unique(email), "tall ladder 9876 blue")
    return user, svc.scope_for(actor_for(user))


def _run(ws, version_id: str, inputs: dict) -> str:
    run_id = ws.runs.start(version_id, inputs)
    assert ws.runs.wait(run_id, 30).state == "succeeded"
    return run_id


def _set(svc: Services, run_id: str, **values) -> None:
    with svc.db.session() as s:
        s.execute(update(Run).where(Run.id == run_id).values(**values))


def test_figures_per_day_and_graph(svc):
    # Given a person with two graphs: three copies of a file (one failed, one 2 days ago) and one greeting
    _, scope = _person(svc, "ana@example.com")
    ws = svc.scoped(scope)
    copy, text = ws.graphs.save(COPY), ws.graphs.save(TEXT)
    doc = ws.runs.upload(io.BytesIO(b"contrato"), name="contrato.txt")
    runs = [_run(ws, copy.id, {"doc": doc.model_dump()}) for _ in range(3)]
    greet = _run(ws, text.id, {"a": "Ana"})
    today, two_days_ago = NOW - timedelta(hours=1), NOW - timedelta(days=2)
    for run_id, created, seconds in ((runs[0], today, 10), (runs[1], today, 30), (runs[2], two_days_ago, 0),
                                     (greet, two_days_ago, 4)):
        _set(svc, run_id, created_at=created, started_at=created, finished_at=created + timedelta(seconds=seconds))
    _set(svc, runs[2], state="failed")
    svc.analytics.set_minutes_per_run(scope, copy.graph_id, 15)

    # When the last 7 days are asked for
    report = svc.analytics.report(scope, days=7, now=NOW).to_json()

    # Then the days, graphs and totals add up
    assert len(report["per_day"]) == 7 and report["per_day"][-1]["day"] == "2026-11-28"
    day = {d["day"]: d for d in report["per_day"]}
    assert (day["2026-11-28"]["succeeded"], day["2026-11-28"]["failed"]) == (2, 0)
    assert (day["2026-11-26"]["succeeded"], day["2026-11-26"]["failed"]) == (1, 1)
    assert day["2026-11-27"]["runs"] == 0
    total = report["total"]
    assert (total["runs"], total["succeeded"], total["failed"]) == (4, 3, 1)
    assert total["success_rate"] == 0.75
    assert total["median_duration_s"] == pytest.approx(10, abs=0.01)  # of 4, 10 and 30 seconds
    assert total["documents"] == 2  # the failed run's file is not "processed"
    assert total["hours_saved"] == 0.5  # two successful copies × 15 minutes
    assert total["hours_saved_per_month"] == pytest.approx(0.5 / 7 * 30, abs=0.01)
    graphs = {g["name"]: g for g in report["graphs"]}
    assert graphs["Copy"]["minutes_per_run"] == 15 and graphs["Copy"]["success_rate"] == pytest.approx(0.6667)
    assert graphs["Greet"]["hours_saved"] == 0 and graphs["Greet"]["median_duration_s"] == pytest.approx(4)
    assert report["top_nodes"] == [{"node_type": "text.template", "count": 1}]

    # And one graph's view holds only its runs; runs before the window are left out
    one = svc.analytics.report(scope, days=7, graph_id=text.graph_id, now=NOW).to_json()
    assert one["total"]["runs"] == 1 and [g["name"] for g in one["graphs"]] == ["Greet"]
    assert svc.analytics.report(scope, days=1, now=NOW).to_json()["total"]["runs"] == 2


def test_permissions_and_runners(svc):
    # Given a team with a runner, an editor's run and a runner's run
    owner, owner_scope = _person(svc, "owner@example.com")
    team = svc.workspaces.create(owner_scope, "Team")
    runner, _ = _person(svc, "runner@example.com")
    viewer, _ = _person(svc, "viewer@example.com")
    _, outsider_scope = _person(svc, "out@example.com")
    svc.accounts_repo.set_role(team.id, runner.id, "runner")
    svc.accounts_repo.set_role(team.id, viewer.id, "viewer")
    owner_ws = svc.scoped(svc.scope_for(actor_for(owner), team.id))
    runner_scope, viewer_scope = (svc.scope_for(actor_for(u), team.id) for u in (runner, viewer))
    version = owner_ws.graphs.save(TEXT)
    _run(owner_ws, version.id, {"a": "x"})
    _run(svc.scoped(runner_scope), version.id, {"a": "y"})

    # Then the owner sees both runs, the runner only theirs
    assert svc.analytics.report(svc.scope_for(actor_for(owner), team.id)).total.runs == 2
    assert svc.analytics.report(runner_scope).total.runs == 1
    # a viewer reads figures but cannot set the minutes; an outsider sees nothing
    assert svc.analytics.report(viewer_scope).total.runs == 2
    with pytest.raises(Forbidden):
        svc.analytics.set_minutes_per_run(viewer_scope, version.graph_id, 5)
    with pytest.raises(NotFound):
        svc.analytics.report(outsider_scope, graph_id=version.graph_id)
    with pytest.raises(NotFound):
        svc.analytics.set_minutes_per_run(outsider_scope, version.graph_id, 5)
    with pytest.raises(InvalidRequest):
        svc.analytics.set_minutes_per_run(svc.scope_for(actor_for(owner), team.id), version.graph_id, -1)
    with pytest.raises(InvalidRequest):
        svc.analytics.report(viewer_scope, days=0)


def test_the_api_answers_json_and_csv(tmp_path):
    settings = make_settings(tmp_path / "data", scheduler={"in_server": False})
    with TestClient(create_app(settings)) as client:
        svc = client.app.state.services
        user = sign_in(client, svc)
        ws = svc.scoped(svc.scope_for(actor_for(user)))
        version = ws.graphs.save(TEXT)
        _run(ws, version.id, {"a": "x"})
        with svc.db.read() as s:
            graph_id = s.get(GraphVersion, version.id).graph_id

        put = client.put(f"/api/v1/graphs/{graph_id}/time-saved", json={"minutes_per_run": 12})
        assert put.status_code == 200 and put.json() == {"minutes_per_run": 12}
        assert client.get(f"/api/v1/graphs/{graph_id}/time-saved").json() == {"minutes_per_run": 12}

        body = client.get("/api/v1/analytics", params={"days": 90}).json()
        assert body["days"] == 90 and body["total"]["succeeded"] == 1 and body["total"]["hours_saved"] == 0.2

        answer = client.get("/api/v1/analytics", params={"graph_id": graph_id, "format": "csv"})
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
        assert "attachment" in answer.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(answer.text)))
        assert len(rows) == 1 and rows[0]["graph"] == "Greet" and rows[0]["succeeded"] == "1"
        assert rows[0]["minutes_per_run"] == "12.0" and rows[0]["hours_saved"] == "0.2"

        assert client.get("/api/v1/analytics", params={"days": 0}).status_code == 422
        assert client.get("/api/v1/analytics", params={"graph_id": "nope"}).status_code == 404
