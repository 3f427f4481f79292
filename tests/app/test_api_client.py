"""The Python client (app/client.py) and `minddocs run --server` against a real server on a free port."""

from __future__ import annotations

import json

import pytest

from app.client import ApiError, MindDocsClient
from app.services import Services
from tests.app.live_server import live_server
from tests.app.test_cli import minddocs
from tests.conftest import api_token, make_settings
from tests.graphs import edge, graph, node, output


def io_graph(name: str = "Saludo con fichero") -> dict:
    """Inputs of four kinds; outputs: the file back, a greeting, the number and the JSON."""
    nodes = [node("doc", "io.input", name="doc", kind="file"), node("who", "io.input", name="who", kind="text"),
             node("n", "io.input", name="n", kind="number"), node("data", "io.input", name="data", kind="json"),
             node("hello", "text.template", variables=["who"], template="Hola {{ who }}")]
    outs = [output("o1", "same", "doc", "value"), output("o2", "greeting", "hello", "text"),
            output("o3", "number", "n", "value"), output("o4", "data", "data", "value")]
    return graph(nodes + [o[0] for o in outs], [edge("who", "hello", "value", "who")] + [o[1] for o in outs], name)


@pytest.fixture(scope="module")
def settings_(tmp_path_factory):
    return make_settings(tmp_path_factory.mktemp("server") / "data")


@pytest.fixture(scope="module")
def token(settings_):
    services = Services(settings_)  # the account and its token, in the database the server opens
    try:
        return api_token(services)
    finally:
        services.close()


@pytest.fixture(scope="module")
def server(settings_, token):
    with live_server(settings_) as url:
        yield url


@pytest.fixture
def md(server, token):
    with MindDocsClient(server, token=token) as client:
        yield client


def test_start_with_a_file_wait_and_download_the_outputs(md, tmp_path):
    created = md.create_graph(io_graph())
    assert created["issues"] == [] and created["source"] == "api"
    (tmp_path / "carta.txt").write_bytes(b"hola mundo")
    seen = []

    run_id = md.start_run(created["id"], {"who": "Marta", "n": 3, "data": {"a": [1, 2]}},
                          files={"doc": tmp_path / "carta.txt"})
    run = md.wait(run_id, poll_s=0.05, on_progress=lambda r: seen.append(r["state"]))

    assert run["state"] == "succeeded", run
    assert seen[-1] == "succeeded"
    assert run["outputs"]["greeting"] == "Hola Marta" and run["outputs"]["number"] == 3.0
    assert run["outputs"]["data"] == {"a": [1, 2]}
    assert md.download_output(run_id, "same", tmp_path / "out" / "same.txt").read_bytes() == b"hola mundo"
    assert json.loads(md.download_output(run_id, "greeting", tmp_path / "g.json").read_text()) == "Hola Marta"
    assert md.output(run_id, "number") == 3.0
    assert [r["id"] for r in md.list_runs(graph_id=created["id"])] == [run_id]


def test_errors_are_typed_with_code_message_details(md):
    with pytest.raises(ApiError) as missing:
        md.get_run("nope")
    assert (missing.value.status, missing.value.code) == (404, "not_found")
    assert "nope" in missing.value.message

    gid = md.create_graph(io_graph("Errores"))["id"]
    with pytest.raises(ApiError) as bad_inputs:
        md.start_run(gid, {"who": "Ana"})
    assert bad_inputs.value.code == "invalid_inputs" and "doc" in bad_inputs.value.details


def test_a_stale_save_is_a_conflict(md):
    graph_json = io_graph("Dos editores")
    first = md.create_graph(graph_json)
    graph_json["meta"]["description"] = "mine"
    assert md.save_graph(first["id"], graph_json, expected_version=1)["latest_version"] == 2
    graph_json["meta"]["description"] = "theirs"
    with pytest.raises(ApiError) as conflict:
        md.save_graph(first["id"], graph_json, expected_version=1)
    assert (conflict.value.status, conflict.value.code) == (409, "version_conflict")
    assert conflict.value.details == {"expected_version": 1, "latest_version": 2}
    assert [v["number"] for v in md.versions(first["id"])] == [1, 2]


def test_lists_follow_every_page(md):
    for i in range(3):
        md.create_graph(io_graph(f"Paginado {i}"))
    assert {g["name"] for g in md.list_graphs(search="paginado")} == {f"Paginado {i}" for i in range(3)}
    page = md.http.get("/graphs", params={"search": "paginado", "limit": 2})
    assert len(page.json()) == 2 and 'rel="next"' in page.headers["link"]


def test_an_unreachable_server_is_a_sentence():
    with MindDocsClient("http://127.0.0.1:9", timeout_s=2) as client, pytest.raises(ApiError) as exc:
        client.list_graphs()
    assert exc.value.code == "unreachable" and "Cannot reach the MindDocs server" in exc.value.message


def test_cli_runs_a_graph_file_on_a_server(server, token, tmp_path):
    (tmp_path / "g.json").write_text(json.dumps(io_graph("Desde la CLI")), encoding="utf-8")
    (tmp_path / "in.txt").write_bytes(b"contenido")

    result = minddocs(tmp_path, "run", "g.json", "--server", server, "--token", token, "-i", "doc=@in.txt",
                      "-i", "who=Luis", "-i", "n=2.5", "-i", 'data={"x": 1}', "-o", "res")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Done." in result.stdout and server in result.stdout
    outputs = json.loads((tmp_path / "res" / "outputs.json").read_text())
    assert outputs["greeting"] == "Hola Luis" and outputs["number"] == 2.5 and outputs["data"] == {"x": 1}
    assert (tmp_path / "res" / outputs["same"]["file"]).read_bytes() == b"contenido"
    # nothing ran locally: the data directory of the CLI stays empty
    assert not (tmp_path / "data").exists()

    again = minddocs(tmp_path, "run", "g.json", "--server", server, "--token", token, "-i", "doc=@in.txt", "-i", "who=Eva",
                     "-i", "n=1", "-i", "data=[]", "-o", "res2")
    assert again.returncode == 0, again.stderr
    with MindDocsClient(server, token=token) as client:  # the same graph, not a second copy
        assert [g["name"] for g in client.list_graphs(source="cli")].count("Desde la CLI") == 1


def test_cli_remote_reports_server_errors(server, token, tmp_path):
    (tmp_path / "g.json").write_text(json.dumps(io_graph("CLI errores")), encoding="utf-8")

    missing = minddocs(tmp_path, "run", "g.json", "--server", server, "--token", token, "-i", "who=Ana")
    anonymous = minddocs(tmp_path, "run", "g.json", "--server", server, "-i", "who=Ana")
    unreachable = minddocs(tmp_path, "run", "g.json", "--server", "http://127.0.0.1:9", "-i", "who=Ana")

    assert missing.returncode == 2
    assert "Some inputs are missing or wrong" in " ".join(missing.stderr.split())
    assert unreachable.returncode == 2
    assert "Cannot reach the MindDocs server at http://127.0.0.1:9" in " ".join(unreachable.stderr.split())
    assert anonymous.returncode == 2 and "Sign in first" in " ".join(anonymous.stderr.split())
    assert "Traceback" not in missing.stderr + unreachable.stderr + anonymous.stderr
