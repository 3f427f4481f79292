"""Node types used only by the tests, loaded like a user's own module (MINDDOCS_RUNTIME__NODE_MODULES).

They leave marker files so a test can see from outside when and how often a node ran.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from pydantic import BaseModel, Field

from nodes.base import NodeContext, NodeError, NodeType, TransientNodeError
from nodes.ports import File, Text
from nodes.registry import register, registry


class SleepConfig(BaseModel):
    seconds: float = Field(0.0, ge=0, le=600)
    marker_dir: str = ""
    payload_chars: int = Field(0, ge=0, description="Length of the text output")
    cacheable: bool = Field(False, description="Let the runtime reuse its result (its output then ignores the node id)")


class SleepIn(BaseModel):
    text: Text = ""


class SleepOut(BaseModel):
    text: Text


def _mark(directory: str, ctx: NodeContext, what: str) -> None:
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        name = f"{ctx.run_id}-{ctx.node_id}-{what}-{time.monotonic_ns()}-{os.getpid()}"
        Path(directory, name).touch()


def markers(directory: Path, run_id: str, node_id: str, what: str) -> int:
    return len(list(Path(directory).glob(f"{run_id}-{node_id}-{what}-*")))


class SleepNode(NodeType[SleepConfig, SleepIn, SleepOut]):
    """Wait a while, then pass the text on (for tests)."""

    type_id = "test.sleep"
    category = "test"

    @classmethod
    def is_deterministic(cls, config: SleepConfig) -> bool:
        return config.cacheable  # otherwise it leaves markers and names itself in its output

    def run(self, ctx: NodeContext, config: SleepConfig, inputs: SleepIn) -> SleepOut:
        _mark(config.marker_dir, ctx, "start")
        for _ in range(int(config.seconds * 20)):
            time.sleep(0.05)
            ctx.check_cancelled()
        time.sleep(config.seconds % 0.05)
        _mark(config.marker_dir, ctx, "end")
        name = "" if config.cacheable else ctx.node_id
        return SleepOut(text=(inputs.text + name) + "x" * config.payload_chars)


class FailConfig(BaseModel):
    kind: str = Field("user", pattern="^(user|crash)$")


class FailNode(NodeType[FailConfig, SleepIn, SleepOut]):
    """Fail on purpose (for tests)."""

    type_id = "test.fail"
    category = "test"

    def run(self, ctx: NodeContext, config: FailConfig, inputs: SleepIn) -> SleepOut:
        if config.kind == "crash":
            raise RuntimeError("boom: a bug inside the node")
        raise NodeError("The document is empty; connect a node that produces text.", port="text")


class FlakyConfig(BaseModel):
    failures: int = Field(1, ge=0)
    marker_dir: str


class FlakyNode(NodeType[FlakyConfig, SleepIn, SleepOut]):
    """Fail with a temporary error the first `failures` times (for tests)."""

    type_id = "test.flaky"
    category = "test"
    deterministic = False  # counts its attempts
    max_retries = 3
    retry_delay_s = 0.05

    def run(self, ctx: NodeContext, config: FlakyConfig, inputs: SleepIn) -> SleepOut:
        _mark(config.marker_dir, ctx, "attempt")
        if markers(Path(config.marker_dir), ctx.run_id, ctx.node_id, "attempt") <= config.failures:
            raise TransientNodeError("the service answered 503")
        return SleepOut(text="ok")


class ToFileConfig(BaseModel):
    seconds: float = Field(0.0, ge=0, le=60)
    marker_dir: str = ""


class ToFileOut(BaseModel):
    file: File


class ToFileNode(NodeType[ToFileConfig, SleepIn, ToFileOut]):
    """Store the text as a file, after a pause (for tests)."""

    type_id = "test.to_file"
    category = "test"
    deterministic = False  # leaves markers

    def run(self, ctx: NodeContext, config: ToFileConfig, inputs: SleepIn) -> ToFileOut:
        _mark(config.marker_dir, ctx, "start")
        time.sleep(config.seconds)
        ref = ctx.artifacts.put_bytes(inputs.text.encode(), name=f"{inputs.text}.txt", media_type="text/plain")
        _mark(config.marker_dir, ctx, "end")
        return ToFileOut(file=ref)


for node_type in (SleepNode, FailNode, FlakyNode, ToFileNode):
    if node_type.type_id not in registry:
        register(node_type)
