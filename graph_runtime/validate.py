"""Whole-graph validation: every problem at once, each with a code, a node, a port and a fix."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import networkx as nx
from pydantic import BaseModel, ValidationError

from nodes.base import NodeType, Port, ports_of
from nodes.ports import accepts
from nodes.registry import Registry

from .plan import INPUT_TYPE, OUTPUT_TYPE
from .spec import GraphSpec, NodeSpec

DEFAULT_MAX_NODES = 500


@dataclass(frozen=True)
class Issue:
    code: str
    message: str
    node_id: str | None = None
    port: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "node_id": self.node_id, "port": self.port}

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


@dataclass
class ResolvedNode:
    spec: NodeSpec
    node_type: type[NodeType]
    config: BaseModel
    inputs: dict[str, Port]
    outputs: dict[str, Port]


def node_title(spec: NodeSpec, node_type: type[NodeType] | None = None) -> str:
    name = spec.label or (node_type.display_name if node_type else spec.type)
    return f"{name} #{spec.id}"


def plain_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """pydantic errors as (field, sentence) pairs that a non-programmer can act on."""
    out = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"])
        msg = error["msg"].removeprefix("Value error, ").replace("Input should be", "should be")
        if error["type"] == "missing":
            msg = "is required"
        elif error["type"] == "extra_forbidden":
            msg = "is not a setting of this node"
        out.append((field, msg))
    return out


def resolve_node(spec: NodeSpec, node_type: type[NodeType]) -> BaseModel:
    """The node's config, upgraded from older node-type versions and validated (raises ValidationError)."""
    config = spec.config
    if spec.version < node_type.version:
        config = node_type.upgrade_config(dict(config), spec.version)
    return node_type.Config.model_validate(config)


class _Checker:
    def __init__(self, spec: GraphSpec, registry: Registry):
        self.spec = spec
        self.registry = registry
        self.issues: list[Issue] = []
        self.resolved: dict[str, ResolvedNode] = {}

    def add(self, code: str, message: str, node_id: str | None = None, port: str | None = None) -> None:
        self.issues.append(Issue(code, message, node_id, port))

    def title(self, node_id: str) -> str:
        resolved = self.resolved.get(node_id)
        spec = resolved.spec if resolved else next((n for n in self.spec.nodes if n.id == node_id), None)
        return node_title(spec, resolved.node_type if resolved else None) if spec else f"#{node_id}"

    def nodes(self) -> None:
        for node_id, count in Counter(n.id for n in self.spec.nodes).items():
            if count > 1:
                self.add("duplicate_node_id", f"{count} nodes share the id '{node_id}'; give each node its own id.",
                         node_id)
        for spec in self.spec.nodes:
            node_type = self.registry.get(spec.type)
            if node_type is None:
                self.add("unknown_node_type", f"Node #{spec.id} uses the node type '{spec.type}', which is not "
                         "installed; install the plug-in that provides it or remove the node.", spec.id)
                continue
            title = node_title(spec, node_type)
            if spec.version > node_type.version or (
                spec.version < node_type.version
                and any(v not in node_type.config_migrations for v in range(spec.version, node_type.version))
            ):
                self.add("unknown_node_version", f"{title} was made for version {spec.version} of '{spec.type}', "
                         f"but version {node_type.version} is installed; update MindDocs or the plug-in, or "
                         "replace the node.", spec.id)
                continue
            try:
                config = resolve_node(spec, node_type)
            except ValidationError as exc:
                for field, msg in plain_errors(exc):
                    where = f"Setting '{field}' of {title}" if field else f"The settings of {title} are wrong:"
                    sentence = f"{where} {msg.rstrip('.')}."  # pydantic and jinja messages may end in "."
                    self.add("invalid_config", sentence, spec.id, field or None)
                config = None
            if config is None:
                inputs, outputs = ports_of(node_type.Inputs), ports_of(node_type.Outputs)
            else:
                inputs, outputs = node_type.input_ports(config), node_type.output_ports(config)
            self.resolved[spec.id] = ResolvedNode(
                spec, node_type, config, {p.name: p for p in inputs}, {p.name: p for p in outputs}  # type: ignore[arg-type]
            )

    def edges(self) -> nx.DiGraph:
        dag = nx.DiGraph()
        dag.add_nodes_from(n.id for n in self.spec.nodes)
        ids = {n.id for n in self.spec.nodes}
        seen_targets: dict[tuple[str, str], int] = {}
        for edge in self.spec.edges:
            missing = [n for n in (edge.source, edge.target) if n not in ids]
            if missing:
                self.add("dangling_edge", f"An edge connects '{edge.source}.{edge.source_port}' to "
                         f"'{edge.target}.{edge.target_port}', but node '{missing[0]}' does not exist; delete the "
                         "edge.", edge.target if edge.target in ids else edge.source)
                continue
            dag.add_edge(edge.source, edge.target)
            key = (edge.target, edge.target_port)
            seen_targets[key] = seen_targets.get(key, 0) + 1
            if seen_targets[key] == 2:
                self.add("duplicate_edge_target", f"Input '{edge.target_port}' of {self.title(edge.target)} has "
                         "more than one edge coming in; keep only one.", edge.target, edge.target_port)
            self.edge_types(edge)
        return dag

    def edge_types(self, edge) -> None:
        source, target = self.resolved.get(edge.source), self.resolved.get(edge.target)
        out_port = source.outputs.get(edge.source_port) if source else None
        in_port = target.inputs.get(edge.target_port) if target else None
        # A node whose settings are invalid has unknown config-driven ports: invalid_config already says so.
        if source and out_port is None and source.config is not None:
            self.add("unknown_port", f"{self.title(edge.source)} has no output '{edge.source_port}'; its outputs "
                     f"are: {', '.join(source.outputs) or 'none'}.", edge.source, edge.source_port)
        if target and in_port is None and target.config is not None:
            self.add("unknown_port", f"{self.title(edge.target)} has no input '{edge.target_port}'; its inputs "
                     f"are: {', '.join(target.inputs) or 'none'}.", edge.target, edge.target_port)
        if out_port and in_port and not accepts(in_port.type, out_port.type):
            self.add("type_mismatch", f"Port '{edge.target_port}' of {self.title(edge.target)} expects "
                     f"{in_port.type} but receives {out_port.type} from {self.title(edge.source)}; connect an "
                     f"output of type {in_port.type} or put a converting node in between.",
                     edge.target, edge.target_port)

    def cycles(self, dag: nx.DiGraph) -> None:
        for component in nx.strongly_connected_components(dag):
            if len(component) > 1 or any(dag.has_edge(n, n) for n in component):
                loop = nx.find_cycle(dag.subgraph(component))
                path = " → ".join([self.title(a) for a, _ in loop] + [self.title(loop[0][0])])
                first = loop[0][0]
                self.add("cycle", f"These nodes form a loop: {path}. A graph must flow one way; remove one of "
                         "these edges.", first)

    def required_inputs(self) -> None:
        connected = {(e.target, e.target_port) for e in self.spec.edges}
        for node_id, resolved in self.resolved.items():
            for port in resolved.inputs.values():
                if port.required and (node_id, port.name) not in connected:
                    self.add("required_input_missing", f"Input '{port.name}' ({port.type}) of {self.title(node_id)}"
                             " is not connected; connect a node that produces it.", node_id, port.name)

    def interface(self) -> None:
        for node_type, what in ((INPUT_TYPE, "input"), (OUTPUT_TYPE, "output")):
            names = Counter(n.config.get("name") for n in self.spec.nodes if n.type == node_type)
            for name, count in names.items():
                if name and count > 1:
                    node_id = next(n.id for n in self.spec.nodes if n.type == node_type and n.config.get("name") == name)
                    self.add(f"duplicate_{what}_name", f"{count} graph {what}s are called '{name}'; give each "
                             f"{what} its own name.", node_id, "name")
        if self.spec.nodes and not any(n.type == OUTPUT_TYPE for n in self.spec.nodes):
            self.add("no_outputs", "The graph has no Output node, so a run would give nothing back; add an Output "
                     "node and connect the result to it.")
        if not self.spec.nodes:
            self.add("empty_graph", "The graph has no nodes; add an Input, some work and an Output.")


def validate_graph(spec: GraphSpec, registry: Registry, *, max_nodes: int = DEFAULT_MAX_NODES) -> list[Issue]:
    """All problems of `spec`, or an empty list when it can run."""
    if len(spec.nodes) > max_nodes or len(spec.edges) > 4 * max_nodes:
        return [Issue("too_many_nodes", f"The graph has {len(spec.nodes)} nodes and {len(spec.edges)} edges; "
                      f"the limit is {max_nodes} nodes. Split it into smaller graphs.")]
    checker = _Checker(spec, registry)
    checker.nodes()
    dag = checker.edges()
    checker.cycles(dag)
    checker.required_inputs()
    checker.interface()
    return checker.issues


def resolve_graph(spec: GraphSpec, registry: Registry) -> dict[str, ResolvedNode]:
    """Node types, configs and ports of a graph that `validate_graph` found clean."""
    checker = _Checker(spec, registry)
    checker.nodes()
    return checker.resolved
