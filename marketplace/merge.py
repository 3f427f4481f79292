"""What changed between two versions of a template, and a three-way merge of graphs on the node level.

base = the version that was installed, theirs = the listing's new version, ours = the workspace's graph now.
A node (or the wire into an input port) that only one side changed takes that side's state; both sides
changing it differently is a conflict. Moving a node on the canvas never conflicts: ours wins.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any


def _nodes(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["id"]: n for n in spec.get("nodes", [])}


def _edges(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Wires keyed by the input they feed (an input port takes one wire)."""
    return {(e["target"], e["target_port"]): e for e in spec.get("edges", [])}


def _content(node: dict[str, Any] | None) -> dict[str, Any] | None:
    """A node without its place on the canvas."""
    return None if node is None else {k: v for k, v in node.items() if k != "position"}


@dataclass
class Diff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    wires_changed: int = 0

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.wires_changed)

    def to_json(self) -> dict[str, Any]:
        return {"added": self.added, "removed": self.removed, "changed": self.changed,
                "wires_changed": self.wires_changed}

    def summary(self) -> str:
        parts = [f"{len(self.added)} node(s) added" if self.added else "",
                 f"{len(self.removed)} removed" if self.removed else "",
                 f"{len(self.changed)} changed" if self.changed else "",
                 f"{self.wires_changed} wire(s) changed" if self.wires_changed else ""]
        return ", ".join(p for p in parts if p) or "no changes to the nodes"


def diff(old: dict[str, Any], new: dict[str, Any]) -> Diff:
    a, b = _nodes(old), _nodes(new)
    ea, eb = _edges(old), _edges(new)
    return Diff(added=sorted(set(b) - set(a)), removed=sorted(set(a) - set(b)),
                changed=sorted(i for i in set(a) & set(b) if _content(a[i]) != _content(b[i])),
                wires_changed=sum(1 for k in set(ea) | set(eb) if ea.get(k) != eb.get(k)))


@dataclass
class Merged:
    spec: dict[str, Any]
    conflicts: list[dict[str, Any]]


def _pick(base: Any, ours: Any, theirs: Any) -> tuple[Any, bool]:
    """(the merged value, whether it conflicts); values compared as given (None: absent)."""
    if ours == theirs:
        return ours, False
    if ours == base:
        return theirs, False
    if theirs == base:
        return ours, False
    return ours, True


def merge(base: dict[str, Any], ours: dict[str, Any], theirs: dict[str, Any]) -> Merged:
    """Merge the listing's new version into the workspace's graph; conflicts name the nodes and inputs."""
    nb, no, nt = _nodes(base), _nodes(ours), _nodes(theirs)
    conflicts: list[dict[str, Any]] = []
    merged_nodes: list[dict[str, Any]] = []
    order = list(no) + [i for i in nt if i not in no]  # keep the user's order, new nodes after
    for node_id in order + [i for i in nb if i not in no and i not in nt]:
        content, clash = _pick(_content(nb.get(node_id)), _content(no.get(node_id)), _content(nt.get(node_id)))
        if clash:
            conflicts.append({"kind": "node", "node_id": node_id,
                              "message": f"Node '{node_id}' was changed both in your graph and in the new version"
                                         + (" (one side removed it)." if not (no.get(node_id) and nt.get(node_id))
                                            else ".")})
            continue
        if content is None:
            continue
        source = no.get(node_id) or nt.get(node_id)
        node = copy.deepcopy(content)
        if source and "position" in source:
            node["position"] = copy.deepcopy(source["position"])
        merged_nodes.append(node)
    eb, eo, et = _edges(base), _edges(ours), _edges(theirs)
    merged_edges: list[dict[str, Any]] = []
    for key in list(eo) + [k for k in et if k not in eo] + [k for k in eb if k not in eo and k not in et]:
        edge, clash = _pick(eb.get(key), eo.get(key), et.get(key))
        if clash:
            conflicts.append({"kind": "wire", "node_id": key[0], "port": key[1],
                              "message": f"The wire into input '{key[1]}' of node '{key[0]}' was changed both in "
                                         "your graph and in the new version."})
            continue
        if edge is not None:
            merged_edges.append(copy.deepcopy(edge))
    present = {n["id"] for n in merged_nodes}
    merged_edges = [e for e in merged_edges if e["source"] in present and e["target"] in present]
    meta, _ = _pick(base.get("meta"), ours.get("meta"), theirs.get("meta"))  # a clash keeps the user's
    spec = {**copy.deepcopy(ours), "meta": copy.deepcopy(meta), "nodes": merged_nodes, "edges": merged_edges}
    return Merged(spec, conflicts)
