"""Build small graphs for tests without writing JSON by hand."""

from __future__ import annotations

from typing import Any


def node(node_id: str, type_id: str, **config: Any) -> dict[str, Any]:
    timeout = config.pop("timeout_s", None)
    spec = {"id": node_id, "type": type_id, "version": 1, "config": config}
    if timeout is not None:
        spec["timeout_s"] = timeout
    return spec


def edge(source: str, target: str, source_port: str = "text", target_port: str = "text") -> dict[str, Any]:
    return {"source": source, "source_port": source_port, "target": target, "target_port": target_port}


def graph(nodes: list[dict[str, Any]], edges: list[dict[str, Any]], name: str = "test graph") -> dict[str, Any]:
    return {"format_version": 2, "meta": {"name": name, "description": "", "tags": []}, "nodes": nodes,
            "edges": edges}


def output(node_id: str, name: str, source: str, source_port: str = "text") -> tuple[dict, dict]:
    return node(node_id, "io.output", name=name), edge(source, node_id, source_port, "value")
