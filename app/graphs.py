"""Graphs as a scope may see and change them: save (with version conflicts), list, validate, versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graph_runtime.formats import GraphFormatError, load_graph
from graph_runtime.plan import Plan
from graph_runtime.spec import GraphSpec
from graph_runtime.validate import Issue, validate_graph
from nodes.registry import Registry
from storage.graphs import GraphRepository, GraphRow, VersionConflict, VersionRow

from .errors import Conflict, InvalidGraph, NotFound
from .policy import Scope


class GraphService:
    """The graphs of one scope (app/policy.py): lists come from its current workspace, reads and changes of a
    graph are checked against the graph's own workspace."""

    def __init__(self, repo: GraphRepository, registry: Registry, scope: Scope, max_nodes: int):
        self.repo = repo
        self.registry = registry
        self.scope = scope
        self.max_nodes = max_nodes

    @property
    def owner_id(self) -> str:
        return self.scope.user_id

    def parse(self, source: str | bytes | dict[str, Any]) -> GraphSpec:
        try:
            return load_graph(source)
        except GraphFormatError as exc:
            raise InvalidGraph("The graph file cannot be read.",
                               details=[{"code": "format", "message": p, "node_id": None, "port": None, "params": {}}
                                        for p in exc.problems]) from None

    def check(self, spec: GraphSpec) -> list[Issue]:
        return validate_graph(spec, self.registry, max_nodes=self.max_nodes)

    def validate(self, source: str | bytes | dict[str, Any]) -> list[dict[str, Any]]:
        """Every problem of a graph, as JSON; empty when it can run."""
        try:
            spec = load_graph(source)
        except GraphFormatError as exc:
            return [{"code": "format", "message": p, "node_id": None, "port": None, "params": {}} for p in exc.problems]
        return [issue.to_json() for issue in self.check(spec)]

    def save(self, source: str | bytes | dict[str, Any], *, graph_id: str | None = None,
             source_kind: str = "editor", expected_version: int | None = None) -> VersionRow:
        """Save a graph (new, or a new version of `graph_id`). Graphs with problems are saved too:
        people save work in progress; running is what requires a clean graph.

        `expected_version`: the version number the editor loaded. When someone saved a newer version since,
        Conflict (code `version_conflict`) instead of silently overwriting their work; None: no check."""
        spec = self.parse(source).to_json()
        if graph_id is None:
            self.scope.require("graph.write", what="workspace")
            return self.repo.create(self.owner_id, spec, workspace_id=self.scope.workspace_id, source=source_kind)
        self.get(graph_id, "graph.write")
        try:
            return self.repo.add_version(graph_id, spec, expected=expected_version)
        except VersionConflict as exc:
            raise Conflict(f"This graph changed since you opened it: you edited version {exc.expected}, and "
                           f"version {exc.latest} was saved since. Reload the graph to see the other changes, "
                           "then apply yours again.", code="version_conflict",
                           details={"expected_version": exc.expected, "latest_version": exc.latest}) from None

    def save_named(self, source: str | bytes | dict[str, Any], source_kind: str) -> VersionRow:
        """Save under the graph of the same name from the same source (CLI files, samples)."""
        spec = self.parse(source)
        graph_id = self.repo.find_by_name(self.scope.workspace_id, spec.meta.name, source_kind)
        return self.save(spec.to_json(), graph_id=graph_id, source_kind=source_kind)

    def list(self, *, search: str | None = None, tag: str | None = None, source: str | None = None
             ) -> list[GraphRow]:
        """The graphs, most recently changed first; `search` matches name or description (any case),
        `tag` one of the tags exactly, `source` where the graph came from ('editor', 'cli', 'sample', ...)."""
        self.scope.require("graph.read", what="workspace")
        rows = self.repo.list(workspace_id=self.scope.workspace_id)
        if search:
            needle = search.casefold()
            rows = [r for r in rows if needle in r.name.casefold() or needle in r.description.casefold()]
        if tag:
            rows = [r for r in rows if tag in r.tags]
        if source:
            rows = [r for r in rows if r.source == source]
        return rows

    def get(self, graph_id: str, permission: str = "graph.read") -> GraphRow:
        """The graph when the scope may `permission` on it; NotFound when it does not exist or is in a workspace
        the actor is not a member of (its existence is not revealed), Forbidden for a too-small role."""
        row = self.repo.get(graph_id)
        if row is None or not self.scope.role(row.workspace_id):
            raise NotFound(f"There is no graph with id {graph_id}.")
        self.scope.require(permission, row.workspace_id, what="graph")
        return row

    def version(self, version_id: str, permission: str = "graph.read") -> VersionRow:
        row = self.repo.version(version_id)
        if row is None:
            raise NotFound(f"There is no graph version with id {version_id}.")
        try:
            self.get(row.graph_id, permission)
        except NotFound:
            raise NotFound(f"There is no graph version with id {version_id}.") from None
        return row

    def latest(self, graph_id: str) -> VersionRow:
        self.get(graph_id)
        return self.repo.latest_version(graph_id)  # type: ignore[return-value]

    def interface(self, version_id: str) -> dict[str, Any]:
        plan = Plan(load_graph(self.version(version_id).spec))
        return {"inputs": [d.to_json() for d in plan.inputs], "outputs": sorted(plan.outputs)}

    def load_samples(self, directory: Path) -> int:
        count = 0
        for path in sorted(directory.glob("*.json")):
            self.save_named(path.read_text(encoding="utf-8"), "sample")
            count += 1
        return count
