"""Schedules through the REST API (the real app, embedded mode)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.app.test_schedules import file_graph, text_graph
from tests.conftest import make_settings, sign_in


@pytest.fixture
def client(tmp_path):
    settings = make_settings(tmp_path / "data", scheduler={"in_server": False})
    with TestClient(create_app(settings)) as client:
        sign_in(client, client.app.state.services)
        yield client


def test_schedule_lifecycle(client):
    graph_id = client.post("/api/v1/graphs", json=text_graph()).json()["id"]
    body = {"name": "Informe diario", "graph_id": graph_id, "inputs": {"who": "equipo"}, "cron": "0 8 * * 1-5",
            "timezone": "Europe/Madrid", "misfire": "catch_up_one"}
    created = client.post("/api/v1/schedules", json=body)
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert schedule["state"] == "active" and schedule["next_fire_at"] and schedule["last_error"] is None
    sid = schedule["id"]
    assert [s["id"] for s in client.get("/api/v1/schedules").json()] == [sid]

    times = client.get(f"/api/v1/schedules/{sid}/next").json()
    assert len(times) == 5 and times == sorted(times) and times[0] == schedule["next_fire_at"]
    assert client.get(f"/api/v1/schedules/{sid}/next", params={"count": 2}).json() == times[:2]

    started = client.post(f"/api/v1/schedules/{sid}/run")
    assert started.status_code == 202
    run_id = started.json()["run_id"]
    assert client.get(f"/api/v1/runs/{run_id}").json()["inputs"] == {"who": "equipo"}
    fires = client.get(f"/api/v1/schedules/{sid}/fires").json()
    assert [(f["kind"], f["run_id"]) for f in fires] == [("manual", run_id)]
    assert client.get(f"/api/v1/schedules/{sid}").json()["last_run_id"] == run_id

    paused = client.post(f"/api/v1/schedules/{sid}/pause").json()
    assert paused["state"] == "paused" and paused["next_fire_at"] is None
    assert client.get(f"/api/v1/schedules/{sid}/next").json() == []
    assert client.post(f"/api/v1/schedules/{sid}/resume").json()["state"] == "active"

    changed = client.patch(f"/api/v1/schedules/{sid}", json={"cron": "30 9 * * *", "name": "Informe"}).json()
    assert changed["cron"] == "30 9 * * *" and changed["name"] == "Informe" and changed["timezone"] == "Europe/Madrid"
    assert changed["inputs"] == {"who": "equipo"}

    assert client.delete(f"/api/v1/schedules/{sid}").status_code == 204
    missing = client.get(f"/api/v1/schedules/{sid}")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_schedule_errors_are_code_message_details(client):
    graph_id = client.post("/api/v1/graphs", json=text_graph()).json()["id"]
    base = {"name": "x", "graph_id": graph_id, "inputs": {"who": "a"}, "cron": "0 8 * * 1-5"}
    bad_cron = client.post("/api/v1/schedules", json={**base, "cron": "every monday"})
    assert bad_cron.status_code == 422
    assert bad_cron.json()["code"] == "invalid_schedule" and "0 8 * * 1-5" in bad_cron.json()["message"]
    assert bad_cron.json()["details"] == {"field": "cron"}
    bad_tz = client.post("/api/v1/schedules", json={**base, "timezone": "Europe/Madird"}).json()
    assert bad_tz["code"] == "invalid_schedule" and "Europe/Madrid" in bad_tz["message"]
    bad_policy = client.post("/api/v1/schedules", json={**base, "misfire": "always"})
    assert bad_policy.status_code == 422 and bad_policy.json()["code"] == "invalid_request"
    assert client.post("/api/v1/schedules", json={**base, "graph_id": "nope"}).json()["code"] == "not_found"
    assert client.patch("/api/v1/schedules/nope", json={"name": "y"}).status_code == 404
    outside = client.post("/api/v1/schedules", json={
        "name": "x", "graph_id": client.post("/api/v1/graphs", json=file_graph()).json()["id"],
        "watch_dir": "/etc", "watch_input": "doc"})
    assert outside.status_code == 422 and "outside the folders MindDocs may watch" in outside.json()["message"]


def test_preview_of_a_timetable(client):
    preview = client.get("/api/v1/schedules/preview", params={"cron": "0 8 * * 1-5", "timezone": "Europe/Madrid",
                                                               "lang": "es"}).json()
    assert "lunes" in preview["description"] and len(preview["times"]) == 5
    bad = client.get("/api/v1/schedules/preview", params={"cron": "0 8 * *"})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_schedule"
