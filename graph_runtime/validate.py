"""Whole-graph validation: every problem at once, each with a code, a node, a port and a fix."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
from pydantic import BaseModel, ValidationError

from nodes.base import NodeType, Port, ports_of
from nodes.ports import accepts
from nodes.registry import Registry

from .loops import find_loops
from .plan import INPUT_TYPE, OUTPUT_TYPE
from .spec import GraphSpec, NodeSpec

DEFAULT_MAX_NODES = 500


@dataclass(frozen=True)
class Issue:
    """One problem. `message` is the English sentence (API, CLI, logs); `params` holds the values in it,
    so that the UI can say the same in the person's language from a template per `code`.

    A node named in `params` is a `node_ref` ({id, type, label, name}) so that its name can be translated
    too; a list of them is a path (cycle). Other values are plain strings and numbers.
    """

    code: str
    message: str
    node_id: str | None = None
    port: str | None = None
    params: dict[str, Any] = field(default_factory=dict, hash=False)

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "node_id": self.node_id, "port": self.port,
                "params": self.params}

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


def node_ref(spec: NodeSpec | None, node_type: type[NodeType] | None = None, node_id: str = "") -> dict[str, Any]:
    """A node as an issue parameter: the UI names it `label`, else its type's name in the person's language."""
    if spec is None:
        return {"id": node_id, "type": None, "label": None, "name": ""}
    return {"id": spec.id, "type": spec.type, "label": spec.label or None,
            "name": node_type.display_name if node_type else spec.type}


#: pydantic's error context values that the issue templates may use (e.g. {le} in "at most {le}")
_ERROR_CONTEXT = ("le", "ge", "lt", "gt", "max_length", "min_length", "expected")


def plain_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """pydantic errors as (field, sentence) pairs that a non-programmer can act on."""
    return [(f, msg) for f, msg, _ in plain_errors_with_params(exc)]


def plain_errors_with_params(exc: ValidationError) -> list[tuple[str, str, dict[str, Any]]]:
    """Like `plain_errors`, with the pydantic error type and context as issue parameters."""
    out = []
    for error in exc.errors():
        loc = ".".join(str(p) for p in error["loc"])
        msg = error["msg"].removeprefix("Value error, ").replace("Input should be", "should be")
        if error["type"] == "missing":
            msg = "is required"
        elif error["type"] == "extra_forbidden":
            msg = "is not a setting of this node"
        params = {"error": error["type"], "problem": msg.rstrip(".")}
        params.update({k: v if isinstance(v, int | float) else str(v)
                       for k, v in (error.get("ctx") or {}).items() if k in _ERROR_CONTEXT})
        out.append((loc, msg, params))
    return out


def resolve_node(spec: NodeSpec, node_type: type[NodeType]) -> BaseModel:
    """The node's config, upgraded from older node-type versions and validated (raises ValidationError)."""
    config = spec.config
    if spec.version < node_type.version:
        config = node_type.upgrade_config(dict(config), spec.version)
    return node_type.Config.model_validate(config)


class Report:
    """The issues found so far. `add` is how every check (built-in or in another module) reports one."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def add(self, code: str, message: str, node_id: str | None = None, port: str | None = None,
            params: dict[str, Any] | None = None) -> None:
        """Report a problem: `message` in English; `params` the values in it, for translated templates
        (`ui/i18n.py` has one per code: add yours there, or the UI shows `message` as it is)."""
        self.issues.append(Issue(code, message, node_id, port, dict(params or {})))


class _Checker(Report):
    def __init__(self, spec: GraphSpec, registry: Registry):
        super().__init__()
        self.spec = spec
        self.registry = registry
        self.resolved: dict[str, ResolvedNode] = {}

    def _spec_of(self, node_id: str) -> tuple[NodeSpec | None, type[NodeType] | None]:
        resolved = self.resolved.get(node_id)
        if resolved:
            return resolved.spec, resolved.node_type
        return next((n for n in self.spec.nodes if n.id == node_id), None), None

    def title(self, node_id: str) -> str:
        spec, node_type = self._spec_of(node_id)
        return node_title(spec, node_type) if spec else f"#{node_id}"

    def ref(self, node_id: str) -> dict[str, Any]:
        """The node as an issue parameter (see `node_ref`)."""
        spec, node_type = self._spec_of(node_id)
        return node_ref(spec, node_type, node_id)

    def nodes(self) -> None:
        for node_id, count in Counter(n.id for n in self.spec.nodes).items():
            if count > 1:
                self.add("duplicate_node_id", f"{count} nodes share the id '{node_id}'; give each node its own id.",
                         node_id, params={"count": count, "id": node_id})
        for spec in self.spec.nodes:
            node_type = self.registry.get(spec.type)
            if node_type is None:
                self.add("unknown_node_type", f"Node #{spec.id} uses the node type '{spec.type}', which is not "
                         "installed; install the plug-in that provides it or remove the node.", spec.id,
                         params={"id": spec.id, "type": spec.type})
                continue
            title = node_title(spec, node_type)
            if spec.version > node_type.version or (
                spec.version < node_type.version
                and any(v not in node_type.config_migrations for v in range(spec.version, node_type.version))
            ):
                self.add("unknown_node_version", f"{title} was made for version {spec.version} of '{spec.type}', "
                         f"but version {node_type.version} is installed; update MindDocs or the plug-in, or "
                         "replace the node.", spec.id,
                         params={"node": node_ref(spec, node_type), "version": spec.version, "type": spec.type,
                                 "installed": node_type.version})
                continue
            try:
                config = resolve_node(spec, node_type)
            except ValidationError as exc:
                for setting, msg, params in plain_errors_with_params(exc):
                    where = f"Setting '{setting}' of {title}" if setting else f"The settings of {title} are wrong:"
                    sentence = f"{where} {msg.rstrip('.')}."  # pydantic and jinja messages may end in "."
                    params |= {"node": node_ref(spec, node_type), "field": setting}
                    if not setting:
                        params["variant"] = "form"  # the whole form is wrong (e.g. a template that does not compile)
                    self.add("invalid_config", sentence, spec.id, setting or None, params)
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
                         "edge.", edge.target if edge.target in ids else edge.source,
                         params={"source": edge.source, "source_port": edge.source_port, "target": edge.target,
                                 "target_port": edge.target_port, "missing": missing[0]})
                continue
            dag.add_edge(edge.source, edge.target)
            key = (edge.target, edge.target_port)
            seen_targets[key] = seen_targets.get(key, 0) + 1
            if seen_targets[key] == 2:
                self.add("duplicate_edge_target", f"Input '{edge.target_port}' of {self.title(edge.target)} has "
                         "more than one edge coming in; keep only one.", edge.target, edge.target_port,
                         params={"port": edge.target_port, "node": self.ref(edge.target)})
            self.edge_types(edge)
        return dag

    def edge_types(self, edge) -> None:
        source, target = self.resolved.get(edge.source), self.resolved.get(edge.target)
        out_port = source.outputs.get(edge.source_port) if source else None
        in_port = target.inputs.get(edge.target_port) if target else None
        # A node whose settings are invalid has unknown config-driven ports: invalid_config already says so.
        if source and out_port is None and source.config is not None:
            self.add("unknown_port", f"{self.title(edge.source)} has no output '{edge.source_port}'; its outputs "
                     f"are: {', '.join(source.outputs) or 'none'}.", edge.source, edge.source_port,
                     params={"side": "output", "node": self.ref(edge.source), "port": edge.source_port,
                             "ports": list(source.outputs)})
        if target and in_port is None and target.config is not None:
            self.add("unknown_port", f"{self.title(edge.target)} has no input '{edge.target_port}'; its inputs "
                     f"are: {', '.join(target.inputs) or 'none'}.", edge.target, edge.target_port,
                     params={"side": "input", "node": self.ref(edge.target), "port": edge.target_port,
                             "ports": list(target.inputs)})
        if out_port and in_port and not accepts(in_port.type, out_port.type):
            self.add("type_mismatch", f"Port '{edge.target_port}' of {self.title(edge.target)} expects "
                     f"{in_port.type} but receives {out_port.type} from {self.title(edge.source)}; connect an "
                     f"output of type {in_port.type} or put a converting node in between.",
                     edge.target, edge.target_port,
                     params={"port": edge.target_port, "node": self.ref(edge.target), "expects": str(in_port.type),
                             "receives": str(out_port.type), "source": self.ref(edge.source)})

    def cycles(self, dag: nx.DiGraph) -> bool:
        """Report loops of edges; True when there is none."""
        acyclic = True
        for component in nx.strongly_connected_components(dag):
            if len(component) > 1 or any(dag.has_edge(n, n) for n in component):
                loop = nx.find_cycle(dag.subgraph(component))
                path = " → ".join([self.title(a) for a, _ in loop] + [self.title(loop[0][0])])
                first = loop[0][0]
                self.add("cycle", f"These nodes form a loop: {path}. A graph must flow one way; remove one of "
                         "these edges.", first, params={"path": [self.ref(a) for a, _ in loop] + [self.ref(first)]})
                acyclic = False
        return acyclic

    def loops(self, dag: nx.DiGraph) -> None:
        """The shape of For each … Collect loops (graph_runtime/loops.py)."""
        _, problems = find_loops(dag, {n.id: n.type for n in self.spec.nodes})
        for problem in problems:
            titles = {key: ", ".join(self.title(v) for v in value) if isinstance(value, tuple) else self.title(value)
                      for key, value in problem.params.items()}
            refs: dict[str, Any] = {key: [self.ref(v) for v in value] if isinstance(value, tuple) else self.ref(value)
                                    for key, value in problem.params.items()}
            if problem.params.get("node") == problem.params.get("for_each"):
                refs["variant"] = "items"  # the For each node itself feeds a node outside its loop
            self.add(problem.code, problem.message.format(**titles), problem.node_id, params=refs)

    def required_inputs(self) -> None:
        connected = {(e.target, e.target_port) for e in self.spec.edges}
        for node_id, resolved in self.resolved.items():
            for port in resolved.inputs.values():
                if port.required and (node_id, port.name) not in connected:
                    self.add("required_input_missing", f"Input '{port.name}' ({port.type}) of {self.title(node_id)}"
                             " is not connected; connect a node that produces it.", node_id, port.name,
                             params={"port": port.name, "type": str(port.type), "node": self.ref(node_id)})

    def interface(self) -> None:
        for node_type, what in ((INPUT_TYPE, "input"), (OUTPUT_TYPE, "output")):
            names = Counter(n.config.get("name") for n in self.spec.nodes if n.type == node_type)
            for name, count in names.items():
                if name and count > 1:
                    node_id = next(n.id for n in self.spec.nodes if n.type == node_type and n.config.get("name") == name)
                    self.add(f"duplicate_{what}_name", f"{count} graph {what}s are called '{name}'; give each "
                             f"{what} its own name.", node_id, "name", params={"count": count, "name": name})
        if self.spec.nodes and not any(n.type == OUTPUT_TYPE for n in self.spec.nodes):
            self.add("no_outputs", "The graph has no Output node, so a run would give nothing back; add an Output "
                     "node and connect the result to it.", params={})
        if not self.spec.nodes:
            self.add("empty_graph", "The graph has no nodes; add an Input, some work and an Output.")


def validate_graph(spec: GraphSpec, registry: Registry, *, max_nodes: int = DEFAULT_MAX_NODES) -> list[Issue]:
    """All problems of `spec`, or an empty list when it can run."""
    if len(spec.nodes) > max_nodes or len(spec.edges) > 4 * max_nodes:
        return [Issue("too_many_nodes", f"The graph has {len(spec.nodes)} nodes and {len(spec.edges)} edges; "
                      f"the limit is {max_nodes} nodes. Split it into smaller graphs.",
                      params={"nodes": len(spec.nodes), "edges": len(spec.edges), "limit": max_nodes})]
    checker = _Checker(spec, registry)
    checker.nodes()
    dag = checker.edges()
    if checker.cycles(dag):
        checker.loops(dag)
    checker.required_inputs()
    checker.interface()
    return checker.issues


def resolve_graph(spec: GraphSpec, registry: Registry) -> dict[str, ResolvedNode]:
    """Node types, configs and ports of a graph that `validate_graph` found clean."""
    checker = _Checker(spec, registry)
    checker.nodes()
    return checker.resolved
