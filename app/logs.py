"""The log of `minddocs serve`, `worker` and `scheduler`: text for people, or one JSON object a line.

`log.format = "json"` (MINDDOCS_LOG__FORMAT=json) writes records such as
`{"time": "2026-11-28T15:09:08.123+00:00", "level": "INFO", "logger": "minddocs.engine", "message": "...",
"run_id": "...", "node_id": "..."}`; run_id and node_id are there while a node runs (the engine sets
graph_runtime.engine.CURRENT_NODE around each node run, also inside the node's own thread).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from graph_runtime.engine import CURRENT_NODE

from .settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s %(message)s"
#: attributes every LogRecord has; anything else was passed with `extra=` and goes into the JSON too
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName",
                                                    "color_message"}  # uvicorn's message with ANSI colours


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, run_id/node_id when known, exception text."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = CURRENT_NODE.get()
        if current is not None:
            entry["run_id"], entry["node_id"] = current
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _NodeFields(logging.Filter):
    """Text format: ' [run <id> node <id>]' after the message while a node runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = CURRENT_NODE.get()
        record.node_suffix = f" [run {current[0]} node {current[1]}]" if current else ""
        return True


def configure_logging(settings: Settings, stream: Any = None) -> None:
    """Send every log record (ours, uvicorn's, Dramatiq's) to stderr in the configured format; replaces
    whatever handlers were set before (Dramatiq's CLI sets its own in each worker process)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if settings.log.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT + "%(node_suffix)s"))
        handler.addFilter(_NodeFields())
    logging.basicConfig(level=settings.log.level, handlers=[handler], force=True)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # let uvicorn's records reach our handler
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


def uvicorn_log_config(settings: Settings) -> dict[str, Any] | None:
    """`log_config` for uvicorn.run: None in JSON mode (uvicorn leaves logging alone, our handler formats its
    records); uvicorn's own colourful config for text."""
    if settings.log.format == "json":
        return None
    from uvicorn.config import LOGGING_CONFIG

    return LOGGING_CONFIG
