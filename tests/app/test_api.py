"""REST API v1 through the real FastAPI app (embedded mode)."""

from __future__ import annotations

import io
import json
import time

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.conftest import SAMPLES, make_settings
from tests.graphs import graph, node, output


@pytest.fixture
def client(tmp_path):
    settings = make_settings(tmp_path / "data", storage={"max_upload_mb": 1}, load_samples=True)
    with TestClient(create_app(settings)) as client:
        yield client


def wait_run(client: TestClient, run_id: str) -> dict:
    for _ in range(200):
        run = client.get(f"/api/v1/runs/{run_id}").json()
        if run["state"] in ("succeeded", "failed", "cancelled"):
            return run
        time.sleep(0.05)
    raise AssertionError("run did not finish")


def test_sample_graphs_are_in_the_library_and_run(client):
    graphs = client.get("/api/v1/graphs").json()
    letter = next(g for g in graphs if g["name"].startswith("Carta"))
    detail = client.get(f"/api/v1/graphs/{letter['id']}").json()
    assert [i["name"] for i in detail["interface"]["inputs"]] == ["client_name", "firm"]
    assert detail["issues"] == []

    started = client.post(f"/api/v1/graphs/{letter['id']}/runs", json={"inputs": {"client_name": "Marta"}})
    assert started.status_code == 202
    run = wait_run(client, started.json()["run_id"])
    assert run["state"] == "succeeded"
    assert run["outputs"]["letter"].startswith("Estimado/a Marta:")
    assert {n["state"] for n in run["nodes"]} == {"succeeded"}


def test_saving_a_graph_keeps_versions(client):
    spec = json.loads((SAMPLES / "welcome_letter.json").read_text())
    created = client.post("/api/v1/graphs", json=spec)
    assert created.status_code == 201
    graph_id = created.json()["id"]
    spec["meta"]["description"] = "changed"
    client.put(f"/api/v1/graphs/{graph_id}", json=spec)
    client.put(f"/api/v1/graphs/{graph_id}", json=spec)  # unchanged: no new version
    versions = client.get(f"/api/v1/graphs/{graph_id}/versions").json()
    assert [v["number"] for v in versions] == [1, 2]


def test_errors_are_code_message_details(client):
    missing = client.get("/api/v1/runs/nope")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found" and "nope" in missing.json()["message"]

    bad = client.post("/api/v1/graphs", json={"format_version": 2, "meta": {"name": ""}, "nodes": "x"})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_graph"
    assert len(bad.json()["details"]) >= 2

    broken = client.post("/api/v1/graphs", json=graph([node("j", "text.join")], [])).json()
    assert {i["code"] for i in broken["issues"]} >= {"required_input_missing", "no_outputs"}
    refused = client.post(f"/api/v1/graphs/{broken['id']}/runs", json={})
    assert refused.status_code == 422 and refused.json()["code"] == "invalid_graph"

    letter = next(g for g in client.get("/api/v1/graphs").json() if g["name"].startswith("Carta"))
    no_input = client.post(f"/api/v1/graphs/{letter['id']}/runs", json={"inputs": {}})
    assert no_input.status_code == 422 and no_input.json()["code"] == "invalid_inputs"
    assert "client_name" in no_input.json()["details"]


def test_validate_endpoint_reports_every_problem(client):
    spec = graph([node("a", "no.such"), node("a", "text.join")], [])
    result = client.post("/api/v1/graphs/validate", json=spec).json()
    assert result["valid"] is False
    assert {"duplicate_node_id", "unknown_node_type", "no_outputs"} <= {i["code"] for i in result["issues"]}


def test_file_upload_runs_and_download(client):
    spec = graph([node("doc", "io.input", name="doc", kind="file"), *output("out", "same", "doc", "value")[:1]],
                 [output("out", "same", "doc", "value")[1]])
    graph_id = client.post("/api/v1/graphs", json=spec).json()["id"]
    ref = client.post("/api/v1/artifacts", files={"file": ("../../contrato.txt", b"hola", "text/plain")}).json()
    assert ref["name"] == "contrato.txt" and ref["size"] == 4

    run = wait_run(client, client.post(f"/api/v1/graphs/{graph_id}/runs", json={"inputs": {"doc": ref}}).json()["run_id"])
    assert run["outputs"]["same"]["artifact"] == ref["artifact"]
    download = client.get(f"/api/v1/artifacts/{ref['artifact']}", params={"name": ref["name"]})
    assert download.content == b"hola"
    assert client.get("/api/v1/artifacts/..%2F..%2Fetc%2Fpasswd").status_code == 404


def test_upload_over_the_limit_is_refused(client):
    big = io.BytesIO(b"x" * (1024 * 1024 + 1))
    refused = client.post("/api/v1/artifacts", files={"file": ("big.bin", big, "application/octet-stream")})
    assert refused.status_code == 413 and refused.json()["code"] == "too_large"
    assert "1 MB" in refused.json()["message"]


def test_catalogue_and_schema(client):
    catalogue = client.get("/api/v1/nodes").json()
    template = next(n for n in catalogue if n["type_id"] == "text.template")
    assert template["config_schema"]["properties"]["template"]["type"] == "string"
    assert template["outputs"][0]["type"]["name"] == "Text"
    assert client.get("/api/v1/schema").json()["title"].startswith("MindDocs graph")
