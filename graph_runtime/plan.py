"""The DAG of a graph, built with networkx: who feeds whom, in which order, and the graph interface."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import networkx as nx

from .loops import Loop, find_loops
from .spec import GraphSpec

INPUT_TYPE = "io.input"
OUTPUT_TYPE = "io.output"


@dataclass(frozen=True)
class GraphInputDecl:
    name: str
    kind: str
    default: Any
    label: str
    help: str
    node_id: str

    @property
    def required(self) -> bool:
        return self.default is None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "default": self.default, "label": self.label or self.name,
                "help": self.help, "required": self.required, "node_id": self.node_id}


class Plan:
    """A structurally valid graph (no cycles, edges point at nodes) ready to schedule."""

    def __init__(self, spec: GraphSpec):
        self.spec = spec
        self.dag = nx.MultiDiGraph()
        self.dag.add_nodes_from(node.id for node in spec.nodes)
        #: target node -> {input port: (source node, output port)}
        self.bindings: dict[str, dict[str, tuple[str, str]]] = {node.id: {} for node in spec.nodes}
        for edge in spec.edges:
            self.dag.add_edge(edge.source, edge.target)
            self.bindings[edge.target][edge.target_port] = (edge.source, edge.source_port)
        self.nodes = {node.id: node for node in spec.nodes}

    def parents(self, node_id: str) -> set[str]:
        return set(self.dag.predecessors(node_id))

    def children(self, node_id: str) -> set[str]:
        return set(self.dag.successors(node_id))

    def descendants(self, node_id: str) -> set[str]:
        return nx.descendants(self.dag, node_id)

    @cached_property
    def loops(self) -> dict[str, Loop]:
        """For each … Collect loops, by for-each node id."""
        return find_loops(self.dag, {node.id: node.type for node in self.spec.nodes})[0]

    @cached_property
    def loop_of(self) -> dict[str, Loop]:
        """The loop each body node (run once per item) belongs to."""
        return {node: loop for loop in self.loops.values() for node in loop.body}

    @cached_property
    def collect_of(self) -> dict[str, Loop]:
        return {loop.collect: loop for loop in self.loops.values()}

    @cached_property
    def roots(self) -> list[str]:
        return [n for n in self.order if self.dag.in_degree(n) == 0]

    @cached_property
    def order(self) -> list[str]:
        return list(nx.topological_sort(self.dag))

    @cached_property
    def generations(self) -> list[list[str]]:
        """Layers of nodes that can run side by side (also what auto-layout uses)."""
        return [sorted(layer) for layer in nx.topological_generations(self.dag)]

    @cached_property
    def inputs(self) -> list[GraphInputDecl]:
        return graph_inputs(self.spec)

    @cached_property
    def outputs(self) -> dict[str, tuple[str, str] | None]:
        """Graph output name -> (source node, port) wired into that output, if any."""
        return {
            node.config.get("name", node.id): self.bindings[node.id].get("value")
            for node in self.spec.nodes
            if node.type == OUTPUT_TYPE
        }


def graph_inputs(spec: GraphSpec) -> list[GraphInputDecl]:
    return [
        GraphInputDecl(
            name=node.config.get("name", ""),
            kind=node.config.get("kind", "text"),
            default=node.config.get("default"),
            label=node.config.get("label", ""),
            help=node.config.get("help", ""),
            node_id=node.id,
        )
        for node in spec.nodes
        if node.type == INPUT_TYPE
    ]
