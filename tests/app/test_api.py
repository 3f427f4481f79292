"""REST API v1 through the real FastAPI app (embedded mode)."""

from __future__ import annotations

import io
import json
import time

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.conftest import SAMPLES, make_settings, sign_in
from tests.graphs import graph, node, output


@pytest.fixture
def client(tmp_path):
    settings = make_settings(tmp_path / "data", storage={"max_upload_mb": 1}, load_samples=True)
    with TestClient(create_app(settings)) as client:
        sign_in(client, client.app.state.services)
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


# --- conventions: pagination, filters, ETags, error bodies -------------------------------------------------


def next_url(response) -> str | None:
    return response.links.get("next", {}).get("url")


def test_graph_lists_page_with_a_link_header_and_filter(client):
    for i in range(5):
        spec = graph([node("a", "io.input", name="a")], [], name=f"Expediente {i}")
        spec["meta"]["tags"] = ["rrhh"] if i % 2 else []
        client.post("/api/v1/graphs", json=spec)

    first = client.get("/api/v1/graphs", params={"limit": 2, "search": "EXPEDIENTE"})
    second = client.get(next_url(first))
    last = client.get(next_url(second))

    names = [g["name"] for page in (first, second, last) for g in page.json()]
    assert sorted(names) == [f"Expediente {i}" for i in range(5)]
    assert len(first.json()) == 2 and next_url(last) is None
    assert {g["name"] for g in client.get("/api/v1/graphs", params={"tag": "rrhh"}).json()} == {"Expediente 1",
                                                                                                "Expediente 3"}
    everything = client.get("/api/v1/graphs")  # no limit: the first 100, samples included
    assert len(everything.json()) == 5 + len(list(SAMPLES.glob("*.json"))) and next_url(everything) is None

    refused = client.get("/api/v1/graphs", params={"cursor": "not-a-cursor"})
    assert refused.status_code == 422 and refused.json()["code"] == "invalid_cursor"
    assert "Link header" in refused.json()["message"]
    too_many = client.get("/api/v1/graphs", params={"limit": 501})
    assert too_many.status_code == 422 and too_many.json()["details"][0]["field"] == "query.limit"


def test_runs_filter_by_graph_and_state_and_page_without_repeats(client):
    letter = next(g for g in client.get("/api/v1/graphs").json() if g["name"].startswith("Carta"))
    started = [client.post(f"/api/v1/graphs/{letter['id']}/runs", json={"inputs": {"client_name": f"C{i}"}})
               .json()["run_id"] for i in range(5)]
    for run_id in started:
        wait_run(client, run_id)
    other = next(g for g in client.get("/api/v1/graphs").json() if g["id"] != letter["id"])
    client.post(f"/api/v1/graphs/{other['id']}/runs", json={})  # refused or not: not a run of the letter

    pages, response = [], client.get("/api/v1/runs", params={"graph_id": letter["id"], "limit": 2})
    while True:
        pages.append([r["id"] for r in response.json()])
        if not next_url(response):
            break
        response = client.get(next_url(response))
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [run_id for page in pages for run_id in page] == started[::-1]  # newest first, each once

    succeeded = client.get("/api/v1/runs", params={"graph_id": letter["id"], "state": "succeeded"}).json()
    assert len(succeeded) == 5
    assert client.get("/api/v1/runs", params={"graph_id": letter["id"], "state": "failed"}).json() == []
    bad_state = client.get("/api/v1/runs", params={"state": "done"})
    assert bad_state.status_code == 422 and bad_state.json()["details"][0]["field"] == "query.state"
    unknown = client.get("/api/v1/runs", params={"graph_id": "nope"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"


def test_saving_with_a_stale_if_match_is_a_conflict(client):
    spec = json.loads((SAMPLES / "welcome_letter.json").read_text())
    graph_id = client.post("/api/v1/graphs", json=spec).json()["id"]
    # Given two editors that both loaded version 1
    loaded = client.get(f"/api/v1/graphs/{graph_id}")
    assert loaded.headers["etag"] == '"1"'

    spec["meta"]["description"] = "first editor"
    first = client.put(f"/api/v1/graphs/{graph_id}", json=spec, headers={"If-Match": loaded.headers["etag"]})
    spec["meta"]["description"] = "second editor"
    second = client.put(f"/api/v1/graphs/{graph_id}", json=spec, headers={"If-Match": loaded.headers["etag"]})

    assert first.status_code == 200 and first.headers["etag"] == '"2"'
    assert second.status_code == 409 and second.json()["code"] == "version_conflict"
    assert "version 2 was saved since" in second.json()["message"]
    assert client.get(f"/api/v1/graphs/{graph_id}").json()["spec"]["meta"]["description"] == "first editor"
    # the up-to-date ETag, '*' and no If-Match (older clients) are accepted
    assert client.put(f"/api/v1/graphs/{graph_id}", json=spec, headers={"If-Match": 'W/"2"'}).status_code == 200
    spec["meta"]["description"] = "third"
    assert client.put(f"/api/v1/graphs/{graph_id}", json=spec, headers={"If-Match": "*"}).status_code == 200
    spec["meta"]["description"] = "fourth"
    assert client.put(f"/api/v1/graphs/{graph_id}", json=spec).headers["etag"] == '"5"'
    malformed = client.put(f"/api/v1/graphs/{graph_id}", json=spec, headers={"If-Match": "yesterday"})
    assert malformed.status_code == 422 and malformed.json()["code"] == "invalid_if_match"


def test_service_save_checks_the_expected_version(tmp_path):
    from app.errors import Conflict
    from app.services import Services

    with Services(make_settings(tmp_path / "data")) as svc:
        spec = json.loads((SAMPLES / "welcome_letter.json").read_text())
        graph_id = svc.graphs.save(spec).graph_id
        spec["meta"]["description"] = "v2"
        assert svc.graphs.save(spec, graph_id=graph_id, expected_version=1).number == 2
        assert svc.graphs.save(spec, graph_id=graph_id, expected_version=1).number == 2  # same spec: no conflict
        spec["meta"]["description"] = "v3"
        with pytest.raises(Conflict) as exc:
            svc.graphs.save(spec, graph_id=graph_id, expected_version=1)
        assert exc.value.code == "version_conflict" and "Reload the graph" in exc.value.message


def file_graph() -> dict:
    nodes = [node("doc", "io.input", name="doc", kind="file"), node("n", "io.input", name="n", kind="number"),
             node("data", "io.input", name="data", kind="json", default={})]
    outs = [output("o1", "same", "doc", "value"), output("o2", "number", "n", "value"),
            output("o3", "data", "data", "value")]
    return graph(nodes + [o[0] for o in outs], [o[1] for o in outs])


def test_multipart_start_with_files_and_outputs_download(client):
    graph_id = client.post("/api/v1/graphs", json=file_graph()).json()["id"]

    started = client.post(f"/api/v1/graphs/{graph_id}/runs", data={"n": "4.5", "data": '{"k": [1]}'},
                          files={"doc": ("informe.txt", b"hola", "text/plain")})

    assert started.status_code == 202, started.json()
    run = wait_run(client, started.json()["run_id"])
    assert run["state"] == "succeeded" and run["outputs"]["number"] == 4.5 and run["outputs"]["data"] == {"k": [1]}
    download = client.get(f"/api/v1/runs/{run['id']}/outputs/same")
    assert download.content == b"hola" and download.headers["content-type"].startswith("text/plain")
    assert 'filename="informe.txt"' in download.headers["content-disposition"]
    assert client.get(f"/api/v1/runs/{run['id']}/outputs/number").json() == 4.5
    missing = client.get(f"/api/v1/runs/{run['id']}/outputs/nope")
    assert missing.status_code == 404 and "'data', 'number', 'same'" in missing.json()["message"]

    bad_json = client.post(f"/api/v1/graphs/{graph_id}/runs", data={"n": "1", "data": "{"},
                           files={"doc": ("a.txt", b"x", "text/plain")})
    assert bad_json.status_code == 422 and "Input 'data' must be JSON" in bad_json.json()["message"]
    bad_number = client.post(f"/api/v1/graphs/{graph_id}/runs", data={"n": "many"},
                             files={"doc": ("a.txt", b"x", "text/plain")})
    assert bad_number.status_code == 422 and "n" in bad_number.json()["details"]
    twice = client.post(f"/api/v1/graphs/{graph_id}/runs", data={"n": "1"},
                        files=[("doc", ("a.txt", b"x")), ("doc", ("b.txt", b"y"))])
    assert twice.status_code == 422 and "given twice" in twice.json()["message"]
    too_big = client.post(f"/api/v1/graphs/{graph_id}/runs", data={"n": "1"},
                          files={"doc": ("big.bin", b"x" * (1024 * 1024 + 1))})
    assert too_big.status_code == 413 and too_big.json()["code"] == "too_large"


def test_an_unfinished_runs_output_is_a_conflict(tmp_path):
    # Given an app whose worker is not started (no lifespan): the run stays queued
    idle = TestClient(create_app(make_settings(tmp_path / "idle")))
    sign_in(idle, idle.app.state.services)
    spec = graph([node("a", "io.input", name="a"), *output("o", "a", "a", "value")[:1]],
                 [output("o", "a", "a", "value")[1]])
    graph_id = idle.post("/api/v1/graphs", json=spec).json()["id"]
    run_id = idle.post(f"/api/v1/graphs/{graph_id}/runs", json={"inputs": {"a": "x"}}).json()["run_id"]

    early = idle.get(f"/api/v1/runs/{run_id}/outputs/a")

    assert early.status_code == 409 and early.json()["code"] == "run_not_finished"
    assert "is still running" in early.json()["message"]
    idle.app.state.services.close()


def test_every_error_has_the_same_shape(client):
    def shape(response) -> dict:
        body = response.json()
        assert set(body) == {"code", "message", "details"}, body
        return body

    unknown = client.get("/api/v1/no/such/thing")
    assert unknown.status_code == 404 and shape(unknown)["code"] == "not_found"
    assert "/docs" in unknown.json()["message"]
    wrong_method = client.delete("/api/v1/graphs")
    assert wrong_method.status_code == 405 and shape(wrong_method)["code"] == "method_not_allowed"
    assert wrong_method.headers["allow"] == "GET, POST"
    not_json = client.post("/api/v1/graphs/validate", content=b"{", headers={"content-type": "application/json"})
    assert not_json.status_code == 422 and shape(not_json)["code"] == "invalid_request"
    letter = next(g for g in client.get("/api/v1/graphs").json() if g["name"].startswith("Carta"))
    wrong_body = client.post(f"/api/v1/graphs/{letter['id']}/runs", json={"inputs": [1], "no_cache": "x"})
    assert wrong_body.status_code == 422
    assert {d["field"] for d in shape(wrong_body)["details"]} == {"body.inputs", "body.no_cache"}
    not_utf8 = client.post(f"/api/v1/graphs/{letter['id']}/runs", content=b"\xf4l\xbb]=",
                           headers={"content-type": "application/json"})  # found by schemathesis: was a 500
    assert not_utf8.status_code == 422 and "not JSON text" in shape(not_utf8)["details"][0]["message"]
    xml = client.post(f"/api/v1/graphs/{letter['id']}/runs", content=b"<a/>", headers={"content-type": "text/xml"})
    assert xml.status_code == 415 and shape(xml)["code"] == "unsupported_media_type"
    assert shape(client.get("/api/v1/graphs/nope"))["code"] == "not_found"
    # the browser UI keeps its own pages outside /api
    assert "application/json" not in client.get("/no-such-page").headers.get("content-type", "")


def test_openapi_describes_bodies_errors_and_tags(client):
    schema = client.get("/openapi.json").json()
    run_post = schema["paths"]["/api/v1/graphs/{graph_id}/runs"]["post"]
    assert set(run_post["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    assert run_post["responses"]["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/RunStarted")
    assert run_post["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert run_post["tags"] == ["runs"]
    get_graph = schema["paths"]["/api/v1/graphs/{graph_id}"]["get"]
    assert get_graph["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/GraphDetail")
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert all(op.get("tags") for path in schema["paths"].values() for op in path.values())
