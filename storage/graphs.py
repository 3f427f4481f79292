"""Repository of graphs and graph versions."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from .db import Database
from .models import Graph, GraphVersion


def spec_sha256(spec: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class GraphRow:
    id: str
    name: str
    description: str
    tags: list[str]
    source: str
    owner_id: str
    latest_version_id: str | None
    latest_version: int
    updated_at: datetime
    workspace_id: str = ""


@dataclass(frozen=True)
class VersionRow:
    id: str
    graph_id: str
    number: int
    spec: dict[str, Any]
    created_at: datetime


class VersionConflict(Exception):
    """A save based on a version that is no longer the newest one (someone saved in between)."""

    def __init__(self, expected: int, latest: int):
        super().__init__(f"expected version {expected}, the newest is {latest}")
        self.expected = expected
        self.latest = latest


def _version_row(v: GraphVersion) -> VersionRow:
    return VersionRow(v.id, v.graph_id, v.number, v.spec, v.created_at)


class GraphRepository:
    def __init__(self, db: Database):
        self.db = db

    def create(self, owner_id: str, spec: dict[str, Any], *, workspace_id: str, source: str = "editor"
               ) -> VersionRow:
        meta = spec["meta"]
        with self.db.session() as s:
            graph = Graph(owner_id=owner_id, workspace_id=workspace_id, name=meta["name"], description=meta.get("description", ""),
                          tags=meta.get("tags", []), source=source)
            s.add(graph)
            s.flush()
            version = GraphVersion(graph_id=graph.id, number=1, spec=spec, spec_sha256=spec_sha256(spec))
            s.add(version)
            s.flush()
            return _version_row(version)

    def add_version(self, graph_id: str, spec: dict[str, Any], *, expected: int | None = None) -> VersionRow:
        """Save `spec` as the graph's newest version, unless it equals the newest one already.

        `expected`: the version number the caller started from; VersionConflict when a newer one exists
        (checked in the same transaction; the unique (graph, number) pair catches a concurrent save)."""
        sha = spec_sha256(spec)
        with self.db.session() as s:
            graph = s.get(Graph, graph_id)
            if graph is None:
                raise LookupError(graph_id)
            latest = s.scalar(
                select(GraphVersion).where(GraphVersion.graph_id == graph_id).order_by(GraphVersion.number.desc())
            )
            if latest is not None and latest.spec_sha256 == sha:
                return _version_row(latest)
            if expected is not None and latest is not None and latest.number != expected:
                raise VersionConflict(expected, latest.number)
            meta = spec["meta"]
            graph.name, graph.description, graph.tags = meta["name"], meta.get("description", ""), meta.get("tags", [])
            version = GraphVersion(graph_id=graph_id, number=(latest.number if latest else 0) + 1, spec=spec,
                                   spec_sha256=sha)
            s.add(version)
            try:
                s.flush()
            except IntegrityError:
                if expected is None:
                    raise
                raise VersionConflict(expected, version.number) from None  # another save took this number
            return _version_row(version)

    def find_by_name(self, workspace_id: str, name: str, source: str) -> str | None:
        with self.db.read() as s:
            return s.scalar(select(Graph.id).where(Graph.workspace_id == workspace_id, Graph.name == name,
                                                   Graph.source == source).limit(1))

    def version(self, version_id: str) -> VersionRow | None:
        with self.db.read() as s:
            v = s.get(GraphVersion, version_id)
            return _version_row(v) if v else None

    def latest_version(self, graph_id: str) -> VersionRow | None:
        with self.db.read() as s:
            v = s.scalar(
                select(GraphVersion).where(GraphVersion.graph_id == graph_id).order_by(GraphVersion.number.desc())
            )
            return _version_row(v) if v else None

    def versions(self, graph_id: str) -> list[VersionRow]:
        with self.db.read() as s:
            rows = s.scalars(select(GraphVersion).where(GraphVersion.graph_id == graph_id)
                             .order_by(GraphVersion.number))
            return [_version_row(v) for v in rows]

    def get(self, graph_id: str) -> GraphRow | None:
        rows = self.list(graph_id=graph_id)
        return rows[0] if rows else None

    def list(self, *, workspace_id: str | None = None, graph_id: str | None = None) -> list[GraphRow]:
        latest = (select(GraphVersion.graph_id, func.max(GraphVersion.number).label("n"))
                  .group_by(GraphVersion.graph_id).subquery())
        query = (select(Graph, GraphVersion.id, GraphVersion.number)
                 .join(latest, latest.c.graph_id == Graph.id)
                 .join(GraphVersion, (GraphVersion.graph_id == Graph.id) & (GraphVersion.number == latest.c.n))
                 .order_by(Graph.updated_at.desc()))
        if workspace_id:
            query = query.where(Graph.workspace_id == workspace_id)
        if graph_id:
            query = query.where(Graph.id == graph_id)
        with self.db.read() as s:
            return [GraphRow(g.id, g.name, g.description, list(g.tags or []), g.source, g.owner_id, vid, n,
                             g.updated_at, g.workspace_id) for g, vid, n in s.execute(query)]
