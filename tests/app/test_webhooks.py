"""Webhooks, inbound hooks and notifications through the real app: a local HTTP receiver and SMTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fastapi.testclient import TestClient

from app.main import create_app
from app.webhooks import sign
from tests.conftest import make_settings, sign_in
from tests.graphs import graph, node, output
from tests.nodes.integration_servers import smtp_server

PLUGINS = {"node_modules": ["tests.plugin_nodes"]}


class Receiver(ThreadingHTTPServer):
    """A webhook receiver on 127.0.0.1 that answers 500 to the first `failures` requests, then 200."""

    daemon_threads = True

    def __init__(self, failures: int = 0):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.failures = failures
        self.seen: list[tuple[dict[str, str], bytes, float]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.seen.append((dict(self.headers.items()), body, time.monotonic()))
            status = 500 if len(self.server.seen) <= self.server.failures else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"no" if status == 500 else b"ok")


@contextmanager
def receiver(failures: int = 0) -> Iterator[Receiver]:
    server = Receiver(failures)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def verify_signature(secret: str, header: str, body: bytes) -> bool:
    """What a receiver does (the docs' Python example)."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return abs(time.time() - int(parts["t"])) < 300 and hmac.compare_digest(expected, parts["v1"])


def echo_graph(name: str = "Saludo") -> dict:
    out, wire = output("out", "greeting", "in", "value")
    return graph([node("in", "io.input", name="name", kind="text"), out], [wire], name=name)


def failing_graph() -> dict:
    out, wire = output("out", "result", "boom")
    return graph([node("boom", "test.fail"), out], [wire], name="Falla")


def file_graph() -> dict:
    out, wire = output("out", "same", "doc", "value")
    return graph([node("doc", "io.input", name="doc", kind="file"), node("who", "io.input", name="who", kind="text"),
                  out], [wire], name="Archivo")


def wait_until(check, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def wait_run(client: TestClient, run_id: str) -> dict:
    return wait_until(lambda: (r := client.get(f"/api/v1/runs/{run_id}").json())["state"] in
                      ("succeeded", "failed", "cancelled") and r, what="the run")


def make_client(tmp_path, **overrides) -> TestClient:
    settings = make_settings(tmp_path / "data", runtime=PLUGINS, **overrides)
    client = TestClient(create_app(settings))
    sign_in(client, client.app.state.services)
    return client


# --- outbound ------------------------------------------------------------------------------------------------


def test_a_finished_run_is_posted_signed_and_retried_until_the_receiver_accepts(tmp_path):
    with receiver(failures=2) as server, make_client(
            tmp_path, network={"allowed_hosts": ["127.0.0.1"]},
            notifications={"retry_delays_s": [0.2, 0.2, 0.2], "public_url": "https://docs.example"}) as client:
        graph_id = client.post("/api/v1/graphs", json=echo_graph()).json()["id"]
        created = client.post(f"/api/v1/graphs/{graph_id}/webhooks",
                              json={"url": server.url, "events": ["run.succeeded"]})
        assert created.status_code == 201, created.text
        hook, secret = created.json(), created.json()["secret"]
        assert client.get(f"/api/v1/webhooks/{hook['id']}").json().get("secret") is None  # shown once

        run_id = client.post(f"/api/v1/graphs/{graph_id}/runs", json={"inputs": {"name": "Marta"}}).json()["run_id"]
        assert wait_run(client, run_id)["state"] == "succeeded"

        # Then: two refusals, then delivered; each attempt signed anew
        wait_until(lambda: len(server.seen) >= 3, what="three attempts")
        deliveries = wait_until(lambda: (d := client.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json())
                                and d[0]["state"] == "delivered" and d, what="delivered")
        assert deliveries[0]["attempts"] == 3 and deliveries[0]["last_status"] == 200
        headers, body, _ = server.seen[-1]
        assert verify_signature(secret, headers["X-MindDocs-Signature"], body)
        assert not verify_signature("another secret", headers["X-MindDocs-Signature"], body)
        payload = json.loads(body)
        assert payload["event"] == "run.succeeded" and headers["X-MindDocs-Event"] == "run.succeeded"
        assert payload["run"]["id"] == run_id and payload["run"]["graph_id"] == graph_id
        assert payload["run"]["graph_name"] == "Saludo" and payload["run"]["duration_s"] >= 0
        assert payload["outputs"]["greeting"] == {
            "url": f"https://docs.example/api/v1/runs/{run_id}/outputs/greeting", "value": "Marta"}
        assert payload["links"]["run"] == f"https://docs.example/api/v1/runs/{run_id}"
        assert len(server.seen) == 3

        # redeliver: a new delivery with the same message
        again = client.post(f"/api/v1/deliveries/{deliveries[0]['id']}/redeliver")
        assert again.status_code == 202
        wait_until(lambda: len(server.seen) == 4, what="the redelivery")
        assert json.loads(server.seen[-1][1])["run"]["id"] == run_id


def test_a_receiver_that_keeps_failing_gives_a_failed_delivery_and_failed_runs_only_reach_failed_hooks(tmp_path):
    with receiver(failures=100) as server, make_client(
            tmp_path, network={"allowed_hosts": ["127.0.0.1"]},
            notifications={"retry_delays_s": [0.1]}) as client:
        graph_id = client.post("/api/v1/graphs", json=failing_graph()).json()["id"]
        ok_only = client.post(f"/api/v1/graphs/{graph_id}/webhooks",
                              json={"url": server.url + "?ok", "events": ["run.succeeded"]}).json()
        failed = client.post(f"/api/v1/graphs/{graph_id}/webhooks",
                             json={"url": server.url, "events": ["run.failed"]}).json()
        run_id = client.post(f"/api/v1/graphs/{graph_id}/runs", json={"inputs": {}}).json()["run_id"]
        assert wait_run(client, run_id)["state"] == "failed"
        rows = wait_until(lambda: (d := client.get(f"/api/v1/webhooks/{failed['id']}/deliveries").json())
                          and d[0]["state"] == "failed" and d, what="a failed delivery")
        assert rows[0]["attempts"] == 2 and rows[0]["last_status"] == 500
        assert "HTTP 500" in rows[0]["last_error"] and "gave up after 2 attempts" in rows[0]["last_error"]
        assert client.get(f"/api/v1/webhooks/{ok_only['id']}/deliveries").json() == []
        assert json.loads(server.seen[0][1])["run"]["error"]["code"] == "node_failed"


def test_a_pending_delivery_survives_a_restart_of_the_web_process(tmp_path):
    options = {"network": {"allowed_hosts": ["127.0.0.1"]}, "notifications": {"retry_delays_s": [1.5]}}
    with receiver(failures=1) as server:
        # Given: the first attempt failed and the process stops before the retry
        with make_client(tmp_path, **options) as client:
            graph_id = client.post("/api/v1/graphs", json=echo_graph()).json()["id"]
            hook = client.post(f"/api/v1/graphs/{graph_id}/webhooks", json={"url": server.url}).json()
            client.post(f"/api/v1/graphs/{graph_id}/runs", json={"inputs": {"name": "Ana"}})
            wait_until(lambda: len(server.seen) == 1, what="the first attempt")
        # When: a new process starts on the same database; Then: it sends the pending delivery
        with make_client(tmp_path, **options) as client:
            rows = wait_until(lambda: (d := client.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json())
                              and d[0]["state"] == "delivered" and d, what="delivered after the restart")
            assert rows[0]["attempts"] == 2 and len(server.seen) == 2


def test_private_addresses_are_refused_unless_allowed(tmp_path):
    with make_client(tmp_path) as client:
        graph_id = client.post("/api/v1/graphs", json=echo_graph()).json()["id"]
        refused = client.post(f"/api/v1/graphs/{graph_id}/webhooks", json={"url": "http://127.0.0.1:9/hook"})
        assert refused.status_code == 422
        assert refused.json()["code"] == "address_blocked"
        assert "MINDDOCS_NETWORK__ALLOWED_HOSTS" in refused.json()["message"]
        metadata = client.post(f"/api/v1/graphs/{graph_id}/webhooks", json={"url": "http://169.254.169.254/latest"})
        assert metadata.status_code == 422 and "link-local" in metadata.json()["message"]
        bad = client.post(f"/api/v1/graphs/{graph_id}/webhooks", json={"url": "ftp://example.com/x"})
        assert bad.status_code == 422 and "Only http:// and https://" in bad.json()["message"]
        events = client.post(f"/api/v1/graphs/{graph_id}/webhooks",
                             json={"url": "http://127.0.0.1:9/x", "events": ["run.started"]})
        assert events.status_code == 422 and "'run.started' is not one of them" in events.json()["message"]
        assert client.get(f"/api/v1/graphs/{graph_id}/webhooks").json() == []
    with make_client(tmp_path / "allowed", network={"allowed_hosts": ["127.0.0.1"]}) as client:
        graph_id = client.post("/api/v1/graphs", json=echo_graph()).json()["id"]
        assert client.post(f"/api/v1/graphs/{graph_id}/webhooks",
                           json={"url": "http://127.0.0.1:9/hook"}).status_code == 201


def test_webhook_secret_lives_in_the_vault_and_deleting_the_webhook_removes_it(tmp_path):
    with make_client(tmp_path, network={"allowed_hosts": ["127.0.0.1"]}) as client:
        graph_id = client.post("/api/v1/graphs", json=echo_graph()).json()["id"]
        hook = client.post(f"/api/v1/graphs/{graph_id}/webhooks", json={"url": "http://127.0.0.1:9/h"}).json()
        services = client.app.state.services
        assert services.secret_reader.reveal(services.local_scope.workspace_id, hook["secret_name"]) == hook["secret"]
        rotated = client.post(f"/api/v1/webhooks/{hook['id']}/secret").json()
        assert rotated["secret"] != hook["secret"] and services.secret_reader.reveal(
            services.local_scope.workspace_id, hook["secret_name"]) == rotated["secret"]
        paused = client.patch(f"/api/v1/webhooks/{hook['id']}", json={"active": False}).json()
        assert paused["active"] is False
        assert client.delete(f"/api/v1/webhooks/{hook['id']}").status_code == 204
        assert hook["secret_name"] not in services.secrets.names()
        assert client.get(f"/api/v1/webhooks/{hook['id']}").status_code == 404


# --- inbound -------------------------------------------------------------------------------------------------


def signed(secret: str, body: bytes, at: int | None = None, **headers: str) -> dict[str, str]:
    return {"X-MindDocs-Signature": sign(secret, body, at), **headers}


def test_inbound_hook_starts_a_run_only_for_a_good_fresh_unseen_signature(tmp_path):
    with make_client(tmp_path, storage={"max_upload_mb": 1}) as client:
        graph_id = client.post("/api/v1/graphs", json=echo_graph()).json()["id"]
        hook = client.post(f"/api/v1/graphs/{graph_id}/hook").json()
        url, secret = hook["url"], hook["secret"]
        body = json.dumps({"name": "Lucía", "sender": "crm"}).encode()
        json_type = {"Content-Type": "application/json"}

        # the token alone is not enough
        missing = client.post(url, content=body, headers=json_type)
        assert missing.status_code == 401 and "no X-MindDocs-Signature header" in missing.json()["message"]
        wrong = client.post(url, content=body, headers=signed("guessed", body, **json_type))
        assert wrong.status_code == 401 and "does not match" in wrong.json()["message"]
        tampered = client.post(url, content=body.replace(b"Luc", b"Mal"), headers=signed(secret, body, **json_type))
        assert tampered.status_code == 401
        old = client.post(url, content=body, headers=signed(secret, body, int(time.time()) - 600, **json_type))
        assert old.status_code == 401 and "away from this server's clock" in old.json()["message"]
        assert client.get("/api/v1/runs").json() == []

        headers = signed(secret, body, **json_type)
        started = client.post(url + "?wait=20", content=body, headers=headers)
        assert started.status_code == 200, started.text
        assert started.json()["state"] == "succeeded" and started.json()["outputs"] == {"greeting": "Lucía"}
        assert started.json()["ignored"] == ["sender"]

        replayed = client.post(url, content=body, headers=headers)
        assert replayed.status_code == 401 and "already received" in replayed.json()["message"]
        assert len(client.get("/api/v1/runs").json()) == 1

        big = json.dumps({"name": "x" * (1024 * 1024 + 10)}).encode()
        too_big = client.post(url, content=big, headers=signed(secret, big, **json_type))
        assert too_big.status_code == 413 and "MINDDOCS_STORAGE__MAX_UPLOAD_MB" in too_big.json()["message"]
        assert client.post("/api/v1/hooks/not-a-token", content=body, headers=signed(secret, body)).status_code == 404
        too_long = client.post(url + "?wait=61", content=body, headers=signed(secret, body, **json_type))
        assert too_long.status_code == 422

        # rotating: the old address stops working
        rotated = client.post(f"/api/v1/graphs/{graph_id}/hook").json()
        fresh = json.dumps({"name": "Ana"}).encode()
        assert client.post(url, content=fresh, headers=signed(rotated["secret"], fresh)).status_code == 404
        accepted = client.post(rotated["url"], content=fresh, headers=signed(rotated["secret"], fresh))
        assert accepted.status_code == 202 and accepted.json()["state"] == "running"
        assert wait_run(client, accepted.json()["run_id"])["outputs"] == {"greeting": "Ana"}


def test_inbound_multipart_file_becomes_a_file_input(tmp_path):
    import httpx

    with make_client(tmp_path) as client:
        graph_id = client.post("/api/v1/graphs", json=file_graph()).json()["id"]
        hook = client.post(f"/api/v1/graphs/{graph_id}/hook").json()
        request = httpx.Request("POST", "http://x/", files={"doc": ("nota.txt", b"hola mundo", "text/plain")},
                                data={"who": "Marta"})
        body = request.read()
        headers = signed(hook["secret"], body, **{"Content-Type": request.headers["Content-Type"]})
        answer = client.post(hook["url"] + "?wait=20", content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        out = answer.json()["outputs"]["same"]
        assert out["name"] == "nota.txt" and out["size"] == 10
        assert client.app.state.services.artifacts.read_bytes(out["artifact"]) == b"hola mundo"


# --- notifications -------------------------------------------------------------------------------------------


def test_finished_runs_make_notifications_and_failed_ones_an_email_with_the_run_link(tmp_path):
    with smtp_server() as (mailbox, port), make_client(
            tmp_path, smtp={"host": "127.0.0.1", "port": port, "security": "none", "sender": "avisos@example.com"},
            notifications={"email_to": ["ana@example.com"], "public_url": "https://docs.example/"}) as client:
        ok_id = client.post("/api/v1/graphs", json=echo_graph()).json()["id"]
        bad_id = client.post("/api/v1/graphs", json=failing_graph()).json()["id"]
        good = client.post(f"/api/v1/graphs/{ok_id}/runs", json={"inputs": {"name": "Marta"}}).json()["run_id"]
        wait_run(client, good)
        bad = client.post(f"/api/v1/graphs/{bad_id}/runs", json={"inputs": {}}).json()["run_id"]
        wait_run(client, bad)
        notes = wait_until(lambda: len(n := client.get("/api/v1/notifications").json()) == 2 and n,
                           what="two notifications")
        assert [(n["run_id"], n["state"], n["read"]) for n in notes] == [(bad, "failed", False),
                                                                         (good, "succeeded", False)]
        assert notes[0]["graph_name"] == "Falla" and "failed" in notes[0]["message"]

        # only the failure is emailed (email_on defaults to failed), with the link to the run
        envelope = wait_until(lambda: mailbox.envelopes and mailbox.envelopes[0], what="the email")
        assert envelope.rcpt_tos == ["ana@example.com"]
        mail = message_from_bytes(envelope.content)
        assert mail["Subject"] == "[MindDocs] Falla: run failed"
        assert f"https://docs.example/runs/{bad}" in mail.get_payload(decode=True).decode()
        time.sleep(0.3)
        assert len(mailbox.envelopes) == 1

        marked = client.post("/api/v1/notifications/read", json={"ids": [notes[0]["id"]]}).json()
        assert marked == {"marked": 1, "unread": 1}
        assert [n["run_id"] for n in client.get("/api/v1/notifications?unread=true").json()] == [good]
        assert client.post("/api/v1/notifications/read").json() == {"marked": 1, "unread": 0}
