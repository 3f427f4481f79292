"""A node type that writes to the process log (Python logging), for the structured-log tests; loaded like a
user's own module (MINDDOCS_RUNTIME__NODE_MODULES=["tests.app.log_nodes"])."""

from __future__ import annotations

import logging

from pydantic import BaseModel

from nodes.base import NodeContext, NodeType
from nodes.ports import Text
from nodes.registry import register, registry

LOGGER = "minddocs.test_log_node"


class LogConfig(BaseModel):
    message: str = "hello from a node"


class LogIn(BaseModel):
    text: Text = ""


class LogOut(BaseModel):
    text: Text


class LogNode(NodeType[LogConfig, LogIn, LogOut]):
    """Write a line to the process log, then pass the text on (for tests)."""

    type_id = "test.log"
    category = "test"
    deterministic = False  # it writes to the log each time

    def run(self, ctx: NodeContext, config: LogConfig, inputs: LogIn) -> LogOut:
        logging.getLogger(LOGGER).warning("%s", config.message)
        return LogOut(text=inputs.text + config.message)


if LogNode.type_id not in registry:
    register(LogNode)
