"""Structured logs: log.format = "json" writes one JSON object a line, with run_id and node_id inside node runs."""

from __future__ import annotations

import io
import json
import logging

import pytest

from app.logs import JsonFormatter, configure_logging
from app.services import Services
from tests.app.log_nodes import LOGGER
from tests.conftest import make_settings
from tests.graphs import edge, graph, node, output


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def log_graph() -> dict:
    out, out_edge = output("out", "text", "said")
    return graph([node("first", "test.sleep"), node("said", "test.log", message="converted 3 pages"), out],
                 [edge("first", "said"), out_edge], name="logs")


def test_json_lines_carry_the_run_and_node_of_the_node_that_logged(tmp_path, restore_logging):
    stream = io.StringIO()
    settings = make_settings(tmp_path / "data", runtime={"node_modules": ["tests.plugin_nodes", "tests.app.log_nodes"]},
                             log={"format": "json"})
    configure_logging(settings, stream=stream)
    with Services(settings) as services:
        logging.getLogger("minddocs.test").info("before any run")
        run_id = services.runs.start(services.graphs.save(log_graph()).id, {})
        assert services.runs.wait(run_id, timeout_s=30).state == "succeeded"

    records = [json.loads(line) for line in stream.getvalue().splitlines()]  # every line is JSON
    said = [r for r in records if r["logger"] == LOGGER]
    assert len(said) == 1
    assert said[0]["message"] == "converted 3 pages"
    assert said[0]["level"] == "WARNING"
    assert (said[0]["run_id"], said[0]["node_id"]) == (run_id, "said")
    assert said[0]["time"].endswith("+00:00")
    before = next(r for r in records if r["message"] == "before any run")
    assert "run_id" not in before and "node_id" not in before


def test_json_formatter_keeps_extra_fields_and_exceptions():
    logger = logging.getLogger("minddocs.test.formatter")
    record = logger.makeRecord(logger.name, logging.ERROR, __file__, 1, "failed %s", ("twice",), None,
                               extra={"ref": "8f2c"})
    try:
        raise ValueError("bad value")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "failed twice"
    assert line["ref"] == "8f2c"
    assert "ValueError: bad value" in line["exception"]


def test_text_format_names_the_run_and_node_too(tmp_path, restore_logging):
    stream = io.StringIO()
    settings = make_settings(tmp_path / "data", runtime={"node_modules": ["tests.plugin_nodes", "tests.app.log_nodes"]})
    configure_logging(settings, stream=stream)
    with Services(settings) as services:
        run_id = services.runs.start(services.graphs.save(log_graph()).id, {})
        services.runs.wait(run_id, timeout_s=30)
    line = next(line for line in stream.getvalue().splitlines() if LOGGER in line)
    assert line.endswith(f"converted 3 pages [run {run_id} node said]")
