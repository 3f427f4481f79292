"""Make a graph fit to leave its workspace: strip secrets and stored files, check it against the registry.

What is stripped is recorded (`Prepared.stripped`) so that whoever installs it knows which settings to fill
in: a secret's name means nothing in another workspace, and a stored file (a template uploaded into a
node's settings) is that workspace's data.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from app.errors import InvalidGraph
from graph_runtime.formats import GraphFormatError, load_graph
from graph_runtime.plan import Plan
from graph_runtime.spec import GraphSpec
from graph_runtime.validate import validate_graph
from nodes.base import _holds_secret_name
from nodes.registry import Registry

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class Prepared:
    spec: dict[str, Any]
    node_types: list[dict[str, Any]]
    interface: dict[str, Any]
    stripped: list[dict[str, str]] = field(default_factory=list)


def _is_file_ref(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("artifact"), str) and bool(
        _SHA256.match(value["artifact"]))


def _holds_file(value: Any) -> bool:
    if _is_file_ref(value):
        return True
    if isinstance(value, list):
        return any(_holds_file(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_file(v) for v in value.values())
    return False


def secret_settings(registry: Registry, type_id: str) -> set[str]:
    """The config fields of a node type that hold a secret's name (`SecretName`)."""
    node_type = registry.get(type_id)
    if node_type is None:
        return set()
    return {name for name, info in node_type.Config.model_fields.items()
            if _holds_secret_name(info.annotation, info.metadata)}


def strip(spec: dict[str, Any], registry: Registry) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """A copy of `spec` without secret names and stored files in node settings; what was removed."""
    spec = copy.deepcopy(spec)
    stripped: list[dict[str, str]] = []
    for node in spec.get("nodes", []):
        config = node.get("config") or {}
        secrets = secret_settings(registry, node.get("type", ""))
        for key in list(config):
            if key in secrets and config[key]:
                del config[key]
                stripped.append({"node_id": node["id"], "setting": key, "kind": "secret"})
            elif _holds_file(config[key]):
                del config[key]
                stripped.append({"node_id": node["id"], "setting": key, "kind": "file"})
        node_type = registry.get(node.get("type", ""))
        for key in sorted(secrets - set(config)):  # stripped before (an imported bundle): still to fill in
            if node_type is not None and node_type.Config.model_fields[key].is_required() and not any(
                    s["node_id"] == node["id"] and s["setting"] == key for s in stripped):
                stripped.append({"node_id": node["id"], "setting": key, "kind": "secret"})
    return spec, stripped


def prepare(source: dict[str, Any], registry: Registry, *, max_nodes: int = 500) -> Prepared:
    """The graph as it will be published, or InvalidGraph whose details list every problem."""
    try:
        spec = load_graph(source)
    except GraphFormatError as exc:
        raise InvalidGraph("The graph file cannot be read, so it cannot be published.", code="cannot_publish",
                           details=[{"code": "format", "message": p, "node_id": None, "port": None, "params": {}}
                                    for p in exc.problems]) from None
    clean, stripped = strip(spec.to_json(), registry)
    emptied = {(s["node_id"], s["setting"]) for s in stripped}
    graph = GraphSpec.model_validate(clean)
    # a required setting emptied above is for the installer to fill in: not a reason to refuse
    problems = [i.to_json() for i in validate_graph(graph, registry, max_nodes=max_nodes)
                if not (i.code == "invalid_config" and (i.node_id, i.port) in emptied)]
    if problems:
        listed = "; ".join(p["message"] for p in problems[:5]) + ("; ..." if len(problems) > 5 else "")
        raise InvalidGraph(f"This graph cannot be published until {len(problems)} problem(s) are fixed: {listed}",
                           code="cannot_publish", details=problems)
    types = sorted({(n.type, n.version) for n in graph.nodes})
    try:
        plan = Plan(graph)
        interface = {"inputs": [d.to_json() for d in plan.inputs], "outputs": sorted(plan.outputs)}
    except Exception:  # noqa: BLE001  (a graph the validator passed plans; the interface is only shown)
        interface = {"inputs": [], "outputs": []}
    return Prepared(clean, [{"type": t, "version": v} for t, v in types], interface, stripped)


def missing_node_types(node_types: list[dict[str, Any]], registry: Registry) -> list[dict[str, Any]]:
    """The node types (or versions) a graph needs that this installation lacks."""
    missing = []
    for need in node_types:
        installed = registry.get(need["type"])
        if installed is None:
            missing.append({**need, "installed_version": None})
        elif installed.version < need["version"]:
            missing.append({**need, "installed_version": installed.version})
    return missing
