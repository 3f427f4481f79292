"""The graph format: what a saved graph looks like as JSON.

This module imports nothing else of ours, so the format can be read, checked and migrated anywhere
(the CLI, the API, the marketplace) without loading the node registry or the runtime.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: The format version this code writes. Older versions are migrated on load (see `formats.py`).
FORMAT_VERSION = 2

NODE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Position(_Strict):
    """Where the node sits on the editor canvas."""

    x: float = 0.0
    y: float = 0.0


class NodeSpec(_Strict):
    """One node placed in a graph."""

    id: str = Field(pattern=NODE_ID_PATTERN, description="Stable id, unique in the graph")
    type: str = Field(min_length=1, description="Node type id, e.g. 'text.template'")
    version: int = Field(1, ge=1, description="Version of the node type this config was written for")
    config: dict[str, Any] = Field(default_factory=dict)
    position: Position = Field(default_factory=Position)
    label: str | None = Field(None, max_length=120, description="Name shown in the editor")
    timeout_s: float | None = Field(None, gt=0, le=86400, description="Overrides the node type's time limit")


class EdgeSpec(_Strict):
    """A wire from one node's output port to another node's input port."""

    source: str
    source_port: str
    target: str
    target_port: str


class GraphMeta(_Strict):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=20_000)
    tags: list[str] = Field(default_factory=list, max_length=50)


class GraphSpec(_Strict):
    """A whole graph: metadata, nodes and edges."""

    format_version: Literal[2] = FORMAT_VERSION
    meta: GraphMeta
    nodes: list[NodeSpec] = Field(default_factory=list)
    edges: list[EdgeSpec] = Field(default_factory=list)

    def node(self, node_id: str) -> NodeSpec:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
