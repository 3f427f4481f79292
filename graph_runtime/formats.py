"""Loading graph JSON of any format version: size checks, migrations, parsing.

Each step `_migrate_N` turns format N into N+1 and nothing else; loading applies the steps in order.
Format 1 was the prototype's shape (flat metadata, `pos` lists, edges as "node.port" strings).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from .spec import FORMAT_VERSION, GraphSpec

#: A graph file larger than this is refused before it is parsed.
MAX_GRAPH_BYTES = 5 * 1024 * 1024


class GraphFormatError(ValueError):
    """The JSON is not a graph this version of MindDocs can read; `problems` says why, one per line."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def _split_port(ref: str, what: str) -> tuple[str, str]:
    node, dot, port = str(ref).rpartition(".")
    if not dot or not node or not port:
        raise GraphFormatError([f"Edge {what} '{ref}' must look like 'node_id.port_name'."])
    return node, port


def _migrate_1(data: dict[str, Any]) -> dict[str, Any]:
    nodes = []
    for node in data.get("nodes", []):
        x, y = (list(node.get("pos") or [0, 0]) + [0, 0])[:2]
        nodes.append(
            {
                "id": node["id"],
                "type": node["type"],
                "version": 1,
                "config": node.get("config", {}),
                "position": {"x": x, "y": y},
                **({"label": node["label"]} if node.get("label") else {}),
            }
        )
    edges = []
    for edge in data.get("edges", []):
        source, source_port = _split_port(edge["from"], "source")
        target, target_port = _split_port(edge["to"], "target")
        edges.append({"source": source, "source_port": source_port, "target": target, "target_port": target_port})
    meta = {"name": data.get("name") or "Untitled graph", "description": data.get("description", "")}
    meta["tags"] = list(data.get("tags", []))
    return {"format_version": 2, "meta": meta, "nodes": nodes, "edges": edges}


#: format version N -> function that turns N into N+1
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _migrate_1}


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring graph JSON of any known format version up to `FORMAT_VERSION`."""
    version = data.get("format_version", data.get("version"))
    if not isinstance(version, int):
        raise GraphFormatError(["The graph has no 'format_version' number; is this a MindDocs graph file?"])
    if version > FORMAT_VERSION:
        raise GraphFormatError(
            [f"The graph uses format {version}, newer than this MindDocs reads ({FORMAT_VERSION}); upgrade MindDocs."]
        )
    while version < FORMAT_VERSION:
        if version not in MIGRATIONS:
            raise GraphFormatError([f"Format version {version} is not known; it cannot be migrated."])
        try:
            data = MIGRATIONS[version](data)
        except (KeyError, TypeError, AttributeError) as exc:
            raise GraphFormatError([f"The format {version} graph is incomplete ({exc!r}); it cannot be migrated."])
        version += 1
    return data


def _describe(error: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "graph"
    return f"{where}: {error['msg']}"


def load_graph(source: str | bytes | dict[str, Any]) -> GraphSpec:
    """Parse graph JSON (text, bytes or an already decoded dict), migrating older formats."""
    if isinstance(source, (str, bytes)):
        if len(source) > MAX_GRAPH_BYTES:
            raise GraphFormatError([f"The graph file is larger than {MAX_GRAPH_BYTES // 1024 // 1024} MB."])
        try:
            source = json.loads(source)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise GraphFormatError([f"The graph file is not valid JSON: {exc}."]) from None
    if not isinstance(source, dict):
        raise GraphFormatError(["A graph must be a JSON object with 'meta', 'nodes' and 'edges'."])
    try:
        return GraphSpec.model_validate(migrate(source))
    except ValidationError as exc:
        raise GraphFormatError([_describe(e) for e in exc.errors()]) from None


def graph_json_schema() -> dict[str, Any]:
    """The JSON Schema of the current graph format (`minddocs schema`)."""
    schema = GraphSpec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"MindDocs graph, format {FORMAT_VERSION}"
    return schema
