"""Share links over HTTP (app/api_share.py): the editors' endpoints, the public ones, and the frame policy of the
public pages."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.app.test_share_links import echo_graph, extract_graph
from tests.conftest import make_settings, sign_in


@pytest.fixture
def client(tmp_path):
    settings = make_settings(tmp_path / "data", storage={"max_upload_mb": 1})
    with TestClient(create_app(settings)) as client:
        sign_in(client, client.app.state.services)
        yield client


@pytest.fixture
def visitor(client):
    """Someone without an account, on the same server."""
    return TestClient(client.app)


def share(client, spec: dict, **options) -> dict:
    graph_id = client.post("/api/v1/graphs", json=spec).json()["id"]
    created = client.post(f"/api/v1/graphs/{graph_id}/share-links", json=options)
    assert created.status_code == 201, created.text
    return {**created.json(), "graph_id": graph_id}


def wait(visitor, token: str, run_id: str, secret: str) -> dict:
    for _ in range(400):
        status = visitor.get(f"/api/v1/public/share/{token}/runs/{run_id}", params={"secret": secret})
        assert status.status_code == 200, status.text
        if status.json()["finished"]:
            return status.json()
        time.sleep(0.05)
    raise AssertionError("the run did not finish")


def test_editors_create_list_and_revoke_links(client, visitor):
    link = share(client, echo_graph(), name="Recepción", max_runs=5, allowed_origins=["https://hotel.example"])
    assert link["url"].endswith(f"/s/{link['token']}") and link["state"] == "active" and link["max_runs"] == 5
    listed = client.get(f"/api/v1/graphs/{link['graph_id']}/share-links").json()
    assert [(x["id"], x["token"]) for x in listed] == [(link["id"], link["token"])]
    assert visitor.get(f"/api/v1/graphs/{link['graph_id']}/share-links").status_code == 401
    assert visitor.delete(f"/api/v1/share-links/{link['id']}").status_code == 401
    assert client.delete(f"/api/v1/share-links/{link['id']}").status_code == 204
    gone = visitor.get(f"/api/v1/public/share/{link['token']}")
    assert gone.status_code == 410 and gone.json()["code"] == "share_link_revoked"
    assert client.delete("/api/v1/share-links/nope").status_code == 404


def test_bad_link_settings_are_422(client):
    graph_id = client.post("/api/v1/graphs", json=echo_graph()).json()["id"]
    bad = client.post(f"/api/v1/graphs/{graph_id}/share-links", json={"allowed_origins": ["https://x.example/path"]})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_origin"
    assert client.post(f"/api/v1/graphs/{graph_id}/share-links", json={"max_runs": 0}).status_code == 422


def test_a_visitor_runs_a_link_with_json_and_follows_only_their_run(client, visitor):
    link = share(client, echo_graph())
    form = visitor.get(f"/api/v1/public/share/{link['token']}")
    assert form.status_code == 200 and form.headers["cache-control"] == "no-store"
    assert [i["name"] for i in form.json()["inputs"]] == ["note"]
    sent = visitor.post(f"/api/v1/public/share/{link['token']}/runs", json={"inputs": {"note": "hola"}})
    assert sent.status_code == 202, sent.text
    run_id, secret = sent.json()["run_id"], sent.json()["secret"]
    status = wait(visitor, link["token"], run_id, secret)
    assert status["state"] == "succeeded"
    assert status["outputs"] == [{"name": "echo", "label": "echo", "kind": "value", "value": "hola"}]
    other = visitor.post(f"/api/v1/public/share/{link['token']}/runs", json={"inputs": {"note": "B"}}).json()
    for secret_tried in (other["secret"], "x" * 43):
        assert visitor.get(f"/api/v1/public/share/{link['token']}/runs/{run_id}",
                           params={"secret": secret_tried}).status_code == 404
        assert visitor.get(f"/api/v1/public/share/{link['token']}/runs/{run_id}/outputs/echo",
                           params={"secret": secret_tried}).status_code == 404
    assert visitor.get(f"/api/v1/public/share/{link['token']}/runs/{run_id}").status_code == 422  # no secret
    output = visitor.get(f"/api/v1/public/share/{link['token']}/runs/{run_id}/outputs/echo", params={"secret": secret})
    assert output.json() == "hola"
    # a share holder gets nothing of the signed-in API
    assert visitor.get(f"/api/v1/runs/{run_id}").status_code == 401


def test_a_visitor_uploads_a_file_and_downloads_a_file_output(client, visitor):
    spec = extract_graph()
    spec["nodes"].append({"id": "md", "type": "doc.export", "version": 1, "config": {"to": "md", "file_name": "copia"}})
    spec["nodes"].append({"id": "file", "type": "io.output", "version": 1, "config": {"name": "file"}})
    spec["edges"] += [{"source": "extract", "source_port": "markdown", "target": "md", "target_port": "text"},
                      {"source": "md", "source_port": "document", "target": "file", "target_port": "value"}]
    link = share(client, spec)
    sent = visitor.post(f"/api/v1/public/share/{link['token']}/runs",
                        files={"doc": ("reserva.md", "# Reserva\n\nHabitación 12".encode(), "text/markdown")})
    assert sent.status_code == 202, sent.text
    status = wait(visitor, link["token"], sent.json()["run_id"], sent.json()["secret"])
    assert status["state"] == "succeeded", status["error"]
    by_name = {o["name"]: o for o in status["outputs"]}
    assert "Habitación 12" in by_name["text"]["value"] and by_name["text"]["label"] == "Texto del documento"
    assert "artifact" not in str(by_name["file"])  # the storage hash stays private
    download = visitor.get(by_name["file"]["file"]["url"])
    assert download.status_code == 200 and "Habitación 12" in download.text
    assert "attachment" in download.headers["content-disposition"]
    # files only as uploads; the wrong kind of file and too large a file are refused
    ref = {"artifact": "0" * 64, "name": "x.txt", "size": 1, "media_type": "text/plain"}
    assert visitor.post(f"/api/v1/public/share/{link['token']}/runs", json={"inputs": {"doc": ref}}).status_code == 422
    wrong = visitor.post(f"/api/v1/public/share/{link['token']}/runs",
                         files={"doc": ("x.md", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "text/markdown")})
    assert wrong.status_code == 422 and wrong.json()["code"] == "wrong_file_type"
    big = visitor.post(f"/api/v1/public/share/{link['token']}/runs",
                       files={"doc": ("big.txt", b"a" * (1024 * 1024 + 100), "text/plain")})
    assert big.status_code == 413


def test_outputs_withheld_over_http(client, visitor):
    link = share(client, echo_graph(), show_outputs=False)
    sent = visitor.post(f"/api/v1/public/share/{link['token']}/runs", json={"inputs": {"note": "x"}}).json()
    status = wait(visitor, link["token"], sent["run_id"], sent["secret"])
    assert status["outputs"] is None and status["delivered_to_owner_only"] is True
    refused = visitor.get(f"/api/v1/public/share/{link['token']}/runs/{sent['run_id']}/outputs/echo",
                          params={"secret": sent["secret"]})
    assert refused.status_code == 403 and refused.json()["code"] == "outputs_withheld"


def test_password_header_and_tampered_tokens(client, visitor):
    link = share(client, echo_graph(), password="hotel-2026")
    token = link["token"]
    assert visitor.get(f"/api/v1/public/share/{token}").json()["needs_password"] is True
    assert visitor.post(f"/api/v1/public/share/{token}/runs", json={"inputs": {"note": "x"}}).status_code == 401
    wrong = visitor.get(f"/api/v1/public/share/{token}", headers={"X-Share-Password": "nope"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "share_password_wrong"
    right = visitor.get(f"/api/v1/public/share/{token}", headers={"X-Share-Password": "hotel-2026"}).json()
    assert right["needs_password"] is False and right["inputs"]
    assert visitor.post(f"/api/v1/public/share/{token}/runs", json={"inputs": {"note": "x"}},
                        headers={"X-Share-Password": "hotel-2026"}).status_code == 202
    tampered = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    missing = visitor.get(f"/api/v1/public/share/{tampered}")
    assert missing.status_code == 404 and missing.json()["code"] == "share_link_not_found"


def test_submissions_over_the_rate_are_429(tmp_path):
    settings = make_settings(tmp_path / "data", auth={"share_rate_per_minute": 2})
    with TestClient(create_app(settings)) as client:
        sign_in(client, client.app.state.services)
        link = share(client, echo_graph())
        answers = [client.post(f"/api/v1/public/share/{link['token']}/runs", json={"inputs": {"note": "x"}})
                   for _ in range(3)]
        assert [a.status_code for a in answers] == [202, 202, 429]
        assert 1 <= int(answers[2].headers["retry-after"]) <= 60


def test_public_pages_carry_their_frame_policy(client, visitor):
    embedded = share(client, echo_graph(), allowed_origins=["https://hotel.example", "http://127.0.0.1:8123"])
    closed = share(client, echo_graph())
    page = visitor.get(f"/embed/{embedded['token']}")
    assert page.headers["content-security-policy"] == \
        "frame-ancestors https://hotel.example http://127.0.0.1:8123"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert visitor.get(f"/embed/{closed['token']}").headers["content-security-policy"] == "frame-ancestors 'none'"
    assert visitor.get("/embed/not-a-token").headers["content-security-policy"] == "frame-ancestors 'none'"
    full = visitor.get(f"/s/{embedded['token']}")
    assert full.headers["content-security-policy"] == "frame-ancestors 'self'"
    assert full.headers["x-frame-options"] == "SAMEORIGIN"
    client.delete(f"/api/v1/share-links/{embedded['id']}")
    assert visitor.get(f"/embed/{embedded['token']}").headers["content-security-policy"] == "frame-ancestors 'none'"
    assert "content-security-policy" not in visitor.get("/api/v1/health").headers


def test_the_public_routes_for_each_kind_of_link_holder(client, visitor):
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from storage.models import ShareLink

    services = client.app.state.services

    def holder(**options) -> tuple[dict, str, str]:
        link = share(client, echo_graph(), **options)
        sent = visitor.post(f"/api/v1/public/share/{link['token']}/runs", json={"inputs": {"note": "x"}}).json()
        wait(visitor, link["token"], sent["run_id"], sent["secret"])
        return link, sent["run_id"], sent["secret"]

    def statuses(token: str, run_id: str, secret: str) -> list[int]:
        base = f"/api/v1/public/share/{token}"
        return [visitor.get(base).status_code,
                visitor.post(f"{base}/runs", json={"inputs": {"note": "y"}}).status_code,
                visitor.get(f"{base}/runs/{run_id}", params={"secret": secret}).status_code,
                visitor.get(f"{base}/runs/{run_id}/outputs/echo", params={"secret": secret}).status_code]

    active, revoked, expired, used_up = holder(), holder(), holder(), holder(max_runs=1)
    client.delete(f"/api/v1/share-links/{revoked[0]['id']}")
    with services.db.session() as s:
        s.execute(update(ShareLink).where(ShareLink.id == expired[0]["id"])
                  .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    token = active[0]["token"]
    tampered = token[:-2] + ("xx" if not token.endswith("xx") else "yy")
    # form, send, own status, own output
    assert statuses(token, *active[1:]) == [200, 202, 200, 200]
    assert statuses(revoked[0]["token"], *revoked[1:]) == [410, 410, 410, 410]
    assert statuses(expired[0]["token"], *expired[1:]) == [410, 410, 200, 200]
    assert statuses(used_up[0]["token"], *used_up[1:]) == [410, 410, 200, 200]
    assert statuses(tampered, *active[1:]) == [404, 404, 404, 404]
    assert statuses(token, *revoked[1:]) == [200, 202, 404, 404]  # another link's submission
