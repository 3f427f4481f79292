"""Secrets through the REST API and the runtime: values go in and never come back out; nodes read them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from graph_runtime.formats import load_graph
from graph_runtime.validate import resolve_graph, validate_graph
from nodes.registry import registry
from tests.conftest import make_settings, sign_in
from tests.fake_llm import FakeLLM
from tests.graphs import edge, graph, node, output

NODE_KEY = "sk-node-own-key-71c3e9"
SETTINGS_KEY = "sk-settings-key-0b55"


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    server = FakeLLM()
    server.reply = lambda body: "Three short posts."
    yield server
    server.close()


@pytest.fixture
def client(tmp_path, fake) -> Iterator[TestClient]:
    settings = make_settings(tmp_path / "data", llm={"base_url": fake.url, "api_key": SETTINGS_KEY,
                                                     "model": "test-model", "max_retries": 0, "timeout_s": 5})
    with TestClient(create_app(settings)) as client:
        sign_in(client, client.app.state.services)
        yield client


def wait_run(client: TestClient, run_id: str) -> dict:
    for _ in range(400):
        run = client.get(f"/api/v1/runs/{run_id}").json()
        if run["state"] in ("succeeded", "failed", "cancelled"):
            return run
        time.sleep(0.05)
    raise AssertionError("run did not finish")


def prompt_graph(api_key: str | None) -> dict:
    config = {"template": "Posts about {{ text }}", "variables": ["text"]}
    if api_key:
        config["api_key"] = api_key
    nodes = [node("in", "io.input", name="topic", kind="text"), node("ask", "llm.prompt", **config)]
    out, wire = output("out", "posts", "ask")
    return graph(nodes + [out], [edge("in", "ask", "value", "text"), wire], name="posts")


# --- REST -----------------------------------------------------------------------------------------------


def test_create_list_replace_delete_never_return_the_value(client):
    created = client.post("/api/v1/secrets", json={"name": "openai_marketing", "value": NODE_KEY,
                                                   "description": "Marketing team key"})
    listed = client.get("/api/v1/secrets")
    replaced = client.put("/api/v1/secrets/openai_marketing", json={"value": "sk-rotated"})
    deleted = client.delete("/api/v1/secrets/openai_marketing")
    after = client.get("/api/v1/secrets")

    assert created.status_code == 201 and replaced.status_code == 200 and deleted.status_code == 204
    assert created.json()["name"] == "openai_marketing"
    assert listed.json() == [{**created.json()}] and listed.json()[0]["description"] == "Marketing team key"
    for response in (created, listed, replaced):
        assert NODE_KEY not in response.text and "sk-rotated" not in response.text
        assert "value" not in response.text and "ciphertext" not in response.text
    assert after.json() == []


def test_wrong_names_and_missing_secrets_are_clear_errors(client):
    client.post("/api/v1/secrets", json={"name": "smtp", "value": "pw"})

    bad_name = client.post("/api/v1/secrets", json={"name": "my key", "value": "x"})
    empty = client.post("/api/v1/secrets", json={"name": "empty", "value": ""})
    duplicate = client.post("/api/v1/secrets", json={"name": "smtp", "value": "other"})
    missing_put = client.put("/api/v1/secrets/nothing", json={"value": "x"})
    missing_delete = client.delete("/api/v1/secrets/nothing")
    no_value = client.post("/api/v1/secrets", json={"name": "novalue"})

    assert bad_name.status_code == 422 and bad_name.json()["code"] == "invalid_secret"
    assert "'my key' is not a usable secret name" in bad_name.json()["message"]
    assert empty.status_code == 422 and "value is empty" in empty.json()["message"]
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "secret_exists"
    assert missing_put.status_code == 404 and missing_delete.status_code == 404
    assert "no secret named 'nothing'" in missing_put.json()["message"]
    assert no_value.status_code == 422 and no_value.json()["code"] == "invalid_request"
    for response in (bad_name, empty, duplicate, missing_put, missing_delete):
        assert set(response.json()) == {"code", "message", "details"}


# --- the runtime ----------------------------------------------------------------------------------------


def test_a_node_sends_its_own_secret_key_and_the_value_stays_out_of_graphs_runs_and_logs(client, fake):
    # Given a secret and a graph whose llm.prompt node names it
    client.post("/api/v1/secrets", json={"name": "openai_marketing", "value": NODE_KEY})
    graph_id = client.post("/api/v1/graphs", json=prompt_graph("openai_marketing")).json()["id"]

    # When the graph runs
    started = client.post(f"/api/v1/graphs/{graph_id}/runs", json={"inputs": {"topic": "the report"}})
    run = wait_run(client, started.json()["run_id"])

    # Then the request carried the node's key, not the configured one
    assert run["state"] == "succeeded", run
    assert run["outputs"]["posts"] == "Three short posts."
    (request,) = fake.requests
    assert request["headers"]["authorization"] == f"Bearer {NODE_KEY}"
    # and the value is nowhere in what can be read back: graph JSON, run, logs
    exported = client.get(f"/api/v1/graphs/{graph_id}").text
    assert "openai_marketing" in exported and NODE_KEY not in exported
    assert NODE_KEY not in json.dumps(run) and NODE_KEY not in client.get(f"/api/v1/runs/{run['id']}/logs").text


def test_without_a_secret_the_configured_key_is_sent(client, fake):
    graph_id = client.post("/api/v1/graphs", json=prompt_graph(None)).json()["id"]
    run = wait_run(client, client.post(f"/api/v1/graphs/{graph_id}/runs",
                                       json={"inputs": {"topic": "x"}}).json()["run_id"])

    assert run["state"] == "succeeded"
    assert fake.requests[0]["headers"]["authorization"] == f"Bearer {SETTINGS_KEY}"


def test_a_missing_secret_is_reported_when_the_run_starts(client, fake):
    graph_id = client.post("/api/v1/graphs", json=prompt_graph("never_created")).json()["id"]

    started = client.post(f"/api/v1/graphs/{graph_id}/runs", json={"inputs": {"topic": "x"}})

    assert started.status_code == 422
    body = started.json()
    assert body["code"] == "secret_missing"
    (issue,) = body["details"]
    assert issue["node_id"] == "ask" and issue["port"] == "api_key"
    assert "'never_created'" in issue["message"] and "Secrets page" in issue["message"]
    assert "API key (secret)" in issue["message"]
    assert client.get("/api/v1/runs").json() == [] and fake.requests == []


def test_a_secret_deleted_after_the_start_fails_the_node_with_a_sentence(client, fake):
    # Given a run that waits on a slow first request while its secret is deleted
    client.post("/api/v1/secrets", json={"name": "k1", "value": NODE_KEY})
    nodes = [node("in", "io.input", name="topic", kind="text"),
             node("first", "llm.prompt", template="{{ text }}", variables=["text"]),
             node("second", "llm.prompt", template="{{ text }}", variables=["text"], api_key="k1")]
    out, wire = output("out", "posts", "second")
    spec = graph(nodes + [out], [edge("in", "first", "value", "text"), edge("first", "second"), wire])
    graph_id = client.post("/api/v1/graphs", json=spec).json()["id"]
    fake.script = [{"delay": 1.0}]

    run_id = client.post(f"/api/v1/graphs/{graph_id}/runs", json={"inputs": {"topic": "x"}}).json()["run_id"]
    client.delete("/api/v1/secrets/k1")
    run = wait_run(client, run_id)

    second = next(n for n in run["nodes"] if n["node_id"] == "second")
    assert run["state"] == "failed" and second["error_code"] == "secret_missing"
    assert "'k1'" in second["error_message"] and "Secrets page" in second["error_message"]


def test_old_doc_extract_graphs_load_and_lose_the_plaintext_password():
    old = graph([node("in", "io.input", name="doc", kind="file"),
                 node("x", "doc.extract", password="s3cret-old", ocr="never")],
                [edge("in", "x", "value", "document")])
    old["nodes"].append(output("out", "text", "x")[0])
    old["edges"].append(output("out", "text", "x")[1])

    import nodes.builtin  # noqa: F401

    spec = load_graph(old)
    resolved = resolve_graph(spec, registry)["x"]

    assert validate_graph(spec, registry) == []
    assert resolved.config.password_secret is None and resolved.config.ocr == "never"
    assert "s3cret-old" not in json.dumps(resolved.config.model_dump(mode="json"))
