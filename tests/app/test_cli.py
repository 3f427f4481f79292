"""The `minddocs` command, run as a person runs it: a subprocess on a fresh data directory, no Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, SAMPLES

GRAPHS = FIXTURES / "graphs"
WELCOME = SAMPLES / "welcome_letter.json"
#: The installed console script next to the interpreter running the tests (the venv's bin/).
SCRIPT = Path(sys.executable).with_name("minddocs")


def minddocs(tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the CLI in tmp_path with its data there; nothing from this machine's MINDDOCS_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINDDOCS_")}
    env.update(MINDDOCS_DATA_DIR=str(tmp_path / "data"), COLUMNS="400")  # wide: Rich must not wrap messages
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "app.cli"]
    return subprocess.run([*command, *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=timeout)


def one_line(text: str) -> str:
    return " ".join(text.split())


# --- validate ---------------------------------------------------------------------------------------------


def test_validate_accepts_the_sample_graphs(tmp_path):
    samples = sorted(SAMPLES.glob("*.json"))

    result = minddocs(tmp_path, "validate", *map(str, samples))

    assert result.returncode == 0, result.stderr
    for path in samples:
        assert f"{path}: valid" in result.stdout


def test_validate_lists_every_problem_and_exits_1(tmp_path):
    result = minddocs(tmp_path, "validate", str(WELCOME), str(GRAPHS / "type_mismatch.json"),
                      str(GRAPHS / "invalid_config.json"))

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{WELCOME}: valid" in result.stdout
    errors = one_line(result.stderr)
    assert f"{GRAPHS / 'type_mismatch.json'}: 1 problem(s)" in errors
    assert ("type_mismatch (node j, port text_1): Port 'text_1' of Join texts #j expects Text but receives Image "
            "from Input #photo;") in errors
    assert f"{GRAPHS / 'invalid_config.json'}: 2 problem(s)" in errors
    assert "invalid_config (node j, port parts): Setting 'parts' of Join texts #j" in errors
    assert "invalid_config (node letter): The settings of Text template #letter" in errors


def test_validate_reads_format_1(tmp_path):
    result = minddocs(tmp_path, "validate", str(GRAPHS / "format_v1.json"))

    assert result.returncode == 0, result.stderr


def test_validate_refuses_a_file_that_is_not_a_graph(tmp_path):
    (tmp_path / "notes.json").write_text("Dear Ana,", encoding="utf-8")

    result = minddocs(tmp_path, "validate", "notes.json", str(SAMPLES / "welcome_letter.json"))

    # Then the bad file is reported and the next file is still checked
    assert result.returncode == 1
    errors = one_line(result.stderr)
    assert "notes.json: not a graph MindDocs can read format: The graph file is not valid JSON" in errors
    assert "welcome_letter.json: valid" in result.stdout
    assert "Traceback" not in result.stderr


def test_validate_says_when_the_file_does_not_exist(tmp_path):
    result = minddocs(tmp_path, "validate", "missing.json")

    assert result.returncode == 1
    assert "missing.json: not a graph MindDocs can read format: cannot be read (No such file or directory)" in one_line(
        result.stderr)


# --- run --------------------------------------------------------------------------------------------------


def test_run_writes_the_outputs(tmp_path):
    result = minddocs(tmp_path, "run", str(WELCOME), "--input", "client_name=Ana", "--out", "letters")

    assert result.returncode == 0, result.stderr
    outputs = json.loads((tmp_path / "letters" / "outputs.json").read_text(encoding="utf-8"))
    assert outputs == {"letter": "Estimado/a Ana:\n\nGracias por confiar en MindDocs Abogados. Le acompañaremos "
                                 "en cada paso.\n\nAtentamente,\nMindDocs Abogados\n"}
    assert "Done." in result.stdout


def test_run_without_a_required_input_says_which(tmp_path):
    result = minddocs(tmp_path, "run", str(WELCOME), "--out", "letters")

    assert result.returncode != 0
    assert "'client_name' is required (text); give a value for 'Client name'" in one_line(result.stderr)
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "letters").exists()


def test_run_with_an_unknown_input_lists_the_inputs(tmp_path):
    result = minddocs(tmp_path, "run", str(WELCOME), "--input", "client=Ana", "--out", "letters")

    assert result.returncode != 0
    assert "The graph has no input 'client'. Its inputs are: client_name, firm." in one_line(result.stderr)


def test_run_refuses_a_graph_with_problems(tmp_path):
    result = minddocs(tmp_path, "run", str(GRAPHS / "required_input_missing.json"), "--out", "out")

    assert result.returncode == 2
    assert "Input 'text_1' (Text) of Join texts #j is not connected" in one_line(result.stderr)


COPY_GRAPH = {
    "format_version": 2,
    "meta": {"name": "Hand a file back"},
    "nodes": [
        {"id": "doc", "type": "io.input", "config": {"name": "doc", "kind": "file"}},
        {"id": "out", "type": "io.output", "config": {"name": "copy"}},
    ],
    "edges": [{"source": "doc", "source_port": "value", "target": "out", "target_port": "value"}],
}


def test_run_takes_a_file_input_and_copies_file_outputs_under_their_names(tmp_path):
    # Given a graph that hands its file input back, and a file in another folder
    (tmp_path / "copy.json").write_text(json.dumps(COPY_GRAPH), encoding="utf-8")
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "contrato.txt").write_bytes(b"Contrato de arrendamiento\n")

    # When it runs with doc=@inbox/contrato.txt
    result = minddocs(tmp_path, "run", "copy.json", "--input", "doc=@inbox/contrato.txt", "--out", "out")

    # Then the file lands in the output folder under its own name, and outputs.json points at it
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "contrato.txt").read_bytes() == b"Contrato de arrendamiento\n"
    assert json.loads((tmp_path / "out" / "outputs.json").read_text(encoding="utf-8")) == {
        "copy": {"file": "contrato.txt", "media_type": "text/plain", "size": 26}}


@pytest.mark.parametrize(
    ("value", "message"),
    [("contrato.txt", "input 'doc' is a file: write doc=@path/to/file"),
     ("@nowhere.txt", "input 'doc': there is no file nowhere.txt")],
)
def test_run_explains_how_to_give_a_file(tmp_path, value, message):
    (tmp_path / "copy.json").write_text(json.dumps(COPY_GRAPH), encoding="utf-8")

    result = minddocs(tmp_path, "run", "copy.json", "--input", f"doc={value}", "--out", "out")

    assert result.returncode == 2
    assert message in one_line(result.stderr)


# --- schema and nodes -------------------------------------------------------------------------------------


def test_schema_prints_the_json_schema(tmp_path):
    result = minddocs(tmp_path, "schema")

    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert {"meta", "nodes", "edges"} <= set(schema["properties"])


def test_nodes_json_is_the_catalogue(tmp_path):
    result = minddocs(tmp_path, "nodes", "--json")

    assert result.returncode == 0, result.stderr
    catalogue = json.loads(result.stdout)
    assert {"io.input", "io.output", "text.template", "text.join", "json.get"} <= {n["type_id"] for n in catalogue}
    assert all("config_schema" in n and "inputs" in n for n in catalogue)
