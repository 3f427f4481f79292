"""What the editor edits: one graph spec with undo/redo, copy/paste, wiring rules and auto-layout.

Plain Python (no NiceGUI), so every rule is tested without a browser. The canvas only draws `flow()`.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from app import ui_support
from app.services import Services

from . import theme
from .i18n import issue_text, t

HISTORY = 100
LAYER_DX, ROW_DY = 300, 150


def edge_id(edge: dict[str, Any]) -> str:
    return f"{edge['source']}:{edge['source_port']}->{edge['target']}:{edge['target_port']}"


class EditorModel:
    def __init__(self, services: Services, spec: dict[str, Any], catalogue: list[dict[str, Any]],
                 lang: str | None = None):
        """`catalogue` as `ui_support.catalogue(svc, lang)` gives it; with `lang`, the issues and the ports'
        descriptions on the canvas are in that language too."""
        self.svc = services
        self.lang = lang
        self.spec = copy.deepcopy(spec)
        self.catalogue = {c["type_id"]: c for c in catalogue}
        self.undo_stack: list[str] = []
        self.redo_stack: list[str] = []
        self._coalesce: str | None = None
        self.dirty = False
        self.issues: list[dict[str, Any]] = []
        self.states: dict[str, str] = {}
        self.state_notes: dict[str, str] = {}  # node id -> e.g. elapsed time, shown after the state
        self.selected: list[str] = []
        self.revalidate()

    # --- history ---------------------------------------------------------------------------------
    def _checkpoint(self, coalesce: str | None = None) -> None:
        """Remember the graph before a change; changes with the same `coalesce` key (typing) merge."""
        if coalesce is None or coalesce != self._coalesce:
            self.undo_stack.append(json.dumps(self.spec))
            del self.undo_stack[:-HISTORY]
            self.redo_stack.clear()
        self._coalesce = coalesce

    def _changed(self) -> None:
        self.dirty = True
        self.revalidate()

    def undo(self) -> bool:
        if not self.undo_stack:
            return False
        self.redo_stack.append(json.dumps(self.spec))
        self.spec = json.loads(self.undo_stack.pop())
        self._coalesce = None
        self._changed()
        return True

    def redo(self) -> bool:
        if not self.redo_stack:
            return False
        self.undo_stack.append(json.dumps(self.spec))
        self.spec = json.loads(self.redo_stack.pop())
        self._coalesce = None
        self._changed()
        return True

    # --- reading ---------------------------------------------------------------------------------
    def node(self, node_id: str) -> dict[str, Any] | None:
        return next((n for n in self.spec["nodes"] if n["id"] == node_id), None)

    def ports(self, node: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        return ui_support.node_ports(self.svc, node["type"], node.get("config") or {}, self.lang)

    def revalidate(self) -> None:
        self.issues = self.svc.graphs.validate(self.spec)

    def issue_text(self, issue: dict[str, Any]) -> str:
        """The issue as a sentence in the model's language (its English message without one)."""
        if not self.lang:
            return issue["message"]
        return issue_text(issue, {t: c["display_name"] for t, c in self.catalogue.items()}, self.lang)

    def compat(self) -> dict[str, dict[str, bool]]:
        """target type label -> source type label -> may connect (nodes.ports.accepts, for the canvas)."""
        types: dict[str, dict[str, Any]] = {}
        for entry in self.catalogue.values():
            for port in entry["inputs"] + entry["outputs"]:
                types[port["type_label"]] = port["type"]
        for name in ("Text", "Number", "Bool", "Json", "Any", "File", "Document", "Image", "Audio"):
            types.setdefault(name, {"name": name})
        return {t: {s: ui_support.port_accepts(tt, st) for s, st in types.items()} for t, tt in types.items()}

    def flow(self, labels: dict[str, str] | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Nodes and edges as Vue Flow draws them."""
        by_node: dict[str, list[str]] = {}
        issue_ports: dict[str, list[str]] = {}
        for issue in self.issues:
            if issue.get("node_id"):
                by_node.setdefault(issue["node_id"], []).append(self.issue_text(issue))
                if issue.get("port"):
                    issue_ports.setdefault(issue["node_id"], []).append(issue["port"])
        nodes, colours = [], {}
        for node in self.spec["nodes"]:
            entry = self.catalogue.get(node["type"], {})
            ports = self.ports(node)
            for role in ("inputs", "outputs"):
                for port in ports[role]:
                    port["colour"] = theme.port_colour(port["type"])
                    if role == "outputs":
                        colours[(node["id"], port["name"])] = port["colour"]
            state = self.states.get(node["id"])
            nodes.append({
                "id": node["id"], "type": "minddocs", "selected": node["id"] in self.selected,
                "position": {"x": node.get("position", {}).get("x", 0), "y": node.get("position", {}).get("y", 0)},
                "data": {"label": node.get("label") or entry.get("display_name") or node["id"],
                         "type_id": node["type"], "description": entry.get("description", ""),
                         "inputs": ports["inputs"], "outputs": ports["outputs"],
                         "issues": by_node.get(node["id"], []), "issue_ports": issue_ports.get(node["id"], []),
                         "state": state, "state_label": " · ".join(filter(None, [
                             (labels or {}).get(state or "", state or ""), self.state_notes.get(node["id"])]))},
            })
        edges = []
        for edge in self.spec["edges"]:
            colour = colours.get((edge["source"], edge["source_port"]), theme.PORT_COLOURS["Any"])
            edges.append({"id": edge_id(edge), "source": edge["source"], "sourceHandle": edge["source_port"],
                          "target": edge["target"], "targetHandle": edge["target_port"],
                          "style": {"stroke": colour, "strokeWidth": 2},
                          "animated": self.states.get(edge["target"]) == "running"})
        return nodes, edges

    # --- changes ---------------------------------------------------------------------------------
    def new_id(self, type_id: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_]", "_", type_id.split(".")[-1])[:40] or "node"
        taken = {n["id"] for n in self.spec["nodes"]}
        number = 1
        while f"{base}_{number}" in taken:
            number += 1
        return f"{base}_{number}"

    def default_config(self, type_id: str) -> dict[str, Any]:
        schema = self.catalogue[type_id]["config_schema"]
        config = {k: copy.deepcopy(v["default"]) for k, v in schema.get("properties", {}).items() if "default" in v}
        if "name" in schema.get("properties", {}) and "name" in schema.get("required", []):
            used = {n.get("config", {}).get("name") for n in self.spec["nodes"] if n["type"] == type_id}
            base = "input" if type_id == "io.input" else "output" if type_id == "io.output" else "name"
            number = 1
            while f"{base}_{number}" in used:
                number += 1
            config["name"] = f"{base}_{number}"
        return config

    def add_node(self, type_id: str, x: float = 0, y: float = 0) -> str:
        if type_id not in self.catalogue:
            raise KeyError(type_id)
        self._checkpoint()
        entry = self.catalogue[type_id]
        node_id = self.new_id(type_id)
        self.spec["nodes"].append({"id": node_id, "type": type_id, "version": entry["version"],
                                   "config": self.default_config(type_id), "position": {"x": x, "y": y}})
        self.selected = [node_id]
        self._changed()
        return node_id

    def move(self, moves: list[dict[str, Any]]) -> None:
        changed = [(self.node(m["id"]), m) for m in moves if self.node(m["id"])]
        changed = [(n, m) for n, m in changed
                   if (n.get("position", {}).get("x"), n.get("position", {}).get("y")) != (m["x"], m["y"])]
        if not changed:
            return
        self._checkpoint()
        for node, m in changed:
            node["position"] = {"x": float(m["x"]), "y": float(m["y"])}
        self.dirty = True

    def connection_problem(self, source: str, source_port: str, target: str, target_port: str) -> str | None:
        """None when the wire may be drawn; otherwise why not, as a sentence (in the model's language)."""
        source_node, target_node = self.node(source), self.node(target)
        if source_node is None or target_node is None:
            return self._refusal("That node no longer exists.", "node_gone")
        if source == target:
            return self._refusal("A node cannot feed itself.", "self")
        out = next((p for p in self.ports(source_node)["outputs"] if p["name"] == source_port), None)
        into = next((p for p in self.ports(target_node)["inputs"] if p["name"] == target_port), None)
        if out is None or into is None:
            return self._refusal("That port no longer exists.", "port_gone")
        problem = ui_support.connection_problem(out, into)
        if problem:
            return self._refusal(problem, "type", target=into["name"], expects=into["type_label"],
                                 source=out["name"], gives=out["type_label"])
        if self._reaches(target, source):
            return self._refusal("This wire would make a loop; a graph must flow one way.", "loop")
        return None

    def _refusal(self, english: str, reason: str, **values: str) -> str:
        return t(f"editor.refused_{reason}", self.lang, **values) if self.lang else english

    def _reaches(self, start: str, goal: str) -> bool:
        todo, seen = [start], set()
        while todo:
            current = todo.pop()
            if current == goal:
                return True
            if current in seen:
                continue
            seen.add(current)
            todo.extend(e["target"] for e in self.spec["edges"] if e["source"] == current)
        return False

    def connect(self, source: str, source_port: str, target: str, target_port: str) -> str | None:
        """Wire an output to an input (replacing what fed that input); returns the refusal reason, if any."""
        problem = self.connection_problem(source, source_port, target, target_port)
        if problem:
            return problem
        self._checkpoint()
        self.spec["edges"] = [e for e in self.spec["edges"]
                              if not (e["target"] == target and e["target_port"] == target_port)]
        self.spec["edges"].append({"source": source, "source_port": source_port,
                                   "target": target, "target_port": target_port})
        self._changed()
        return None

    def delete(self, node_ids: list[str], edge_ids: list[str] | None = None) -> bool:
        nodes, edges = set(node_ids), set(edge_ids or [])
        keep_edges = [e for e in self.spec["edges"]
                      if e["source"] not in nodes and e["target"] not in nodes and edge_id(e) not in edges]
        keep_nodes = [n for n in self.spec["nodes"] if n["id"] not in nodes]
        if len(keep_edges) == len(self.spec["edges"]) and len(keep_nodes) == len(self.spec["nodes"]):
            return False
        self._checkpoint()
        self.spec["nodes"], self.spec["edges"] = keep_nodes, keep_edges
        self.selected = [s for s in self.selected if s not in nodes]
        self._changed()
        return True

    def set_config(self, node_id: str, field: str, value: Any) -> None:
        node = self.node(node_id)
        if node is None:
            return
        self._checkpoint(coalesce=f"{node_id}.{field}")
        config = node.setdefault("config", {})
        if value is None:
            config.pop(field, None)
        else:
            config[field] = value
        self._drop_dangling_edges(node)
        self._changed()

    def set_label(self, node_id: str, label: str) -> None:
        node = self.node(node_id)
        if node is None:
            return
        self._checkpoint(coalesce=f"{node_id}.label")
        if label.strip():
            node["label"] = label.strip()[:120]
        else:
            node.pop("label", None)
        self._changed()

    def set_name(self, name: str) -> None:
        self._checkpoint(coalesce="meta.name")
        self.spec["meta"]["name"] = name[:200]
        self._changed()

    def _drop_dangling_edges(self, node: dict[str, Any]) -> None:
        """A config change can remove ports (template variables); wires into ports that are gone go too."""
        ports = self.ports(node)
        inputs, outputs = {p["name"] for p in ports["inputs"]}, {p["name"] for p in ports["outputs"]}
        dynamic_in = node["type"] in self.catalogue and not self.catalogue[node["type"]]["inputs_schema"].get(
            "properties") and self.catalogue[node["type"]]["inputs_schema"].get("additionalProperties")
        self.spec["edges"] = [
            e for e in self.spec["edges"]
            if not (e["target"] == node["id"] and dynamic_in and e["target_port"] not in inputs)
            and not (e["source"] == node["id"] and outputs and e["source_port"] not in outputs)]

    # --- clipboard -------------------------------------------------------------------------------
    def copy(self, node_ids: list[str]) -> dict[str, Any] | None:
        """The selected nodes and the wires between them, as a fragment for the clipboard."""
        ids = set(node_ids)
        if not ids:
            return None
        return {"nodes": copy.deepcopy([n for n in self.spec["nodes"] if n["id"] in ids]),
                "edges": copy.deepcopy([e for e in self.spec["edges"] if e["source"] in ids and e["target"] in ids])}

    def paste(self, fragment: dict[str, Any] | None, offset: float = 40) -> list[str]:
        if not fragment or not fragment.get("nodes"):
            return []
        known = [n for n in fragment["nodes"] if n.get("type") in self.catalogue]
        if not known:
            return []
        self._checkpoint()
        renamed: dict[str, str] = {}
        for node in copy.deepcopy(known):
            new_id = self.new_id(node["type"])
            renamed[node["id"]] = new_id
            node["id"] = new_id
            position = node.get("position") or {}
            node["position"] = {"x": position.get("x", 0) + offset, "y": position.get("y", 0) + offset}
            self.spec["nodes"].append(node)
        for edge in fragment.get("edges", []):
            if edge["source"] in renamed and edge["target"] in renamed:
                self.spec["edges"].append({**edge, "source": renamed[edge["source"]],
                                           "target": renamed[edge["target"]]})
        self.selected = list(renamed.values())
        self._changed()
        return self.selected

    def duplicate(self, node_ids: list[str]) -> list[str]:
        return self.paste(self.copy(node_ids))

    # --- layout ----------------------------------------------------------------------------------
    def auto_layout(self) -> None:
        """Columns by topological generation (networkx), rows in id order inside each column."""
        layers = ui_support.layout_generations(self.spec)
        if not layers:
            return
        self._checkpoint()
        for column, layer in enumerate(layers):
            for row, node_id in enumerate(layer):
                node = self.node(node_id)
                if node is not None:
                    node["position"] = {"x": float(column * LAYER_DX), "y": float(row * ROW_DY)}
        self.dirty = True
