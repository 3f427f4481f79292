"""Queries behind the analytics page: runs of a workspace grouped by graph, day and state; durations; node
types; the input files of runs; minutes of manual work saved per graph. The same SQL on SQLite and PostgreSQL:
the two spots where the dialects differ (the day of a timestamp, seconds between two) are `_day` and `_seconds`.
Medians are taken in Python (app/analytics.py): percentile functions differ between the two.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .db import Database
from .models import Graph, GraphTimeSaved, GraphVersion, NodeRun, Run, utcnow

#: node types that only carry values in and out of a graph: not "used" in any sense worth charting
STRUCTURAL_NODES = ("io.input", "io.output")


@dataclass(frozen=True)
class Window:
    """Which runs: those of `workspace_id` created at or after `since`; of one graph; of one person (runners)."""

    workspace_id: str
    since: datetime
    graph_id: str | None = None
    owner_id: str | None = None


def _day(db: Database, column: Any) -> Any:
    """'YYYY-MM-DD' (UTC) of a timestamp column."""
    if db.is_sqlite:
        return func.strftime("%Y-%m-%d", column)
    return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")


def _seconds(db: Database, start: Any, end: Any) -> Any:
    if db.is_sqlite:
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return func.extract("epoch", end - start)


def count_files(value: Any) -> int:
    """How many stored files a run input value names (a file, a list of files, files inside JSON)."""
    if isinstance(value, dict):
        if isinstance(value.get("artifact"), str) and len(value["artifact"]) == 64:
            return 1
        return sum(count_files(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_files(v) for v in value)
    return 0


class AnalyticsRepository:
    def __init__(self, db: Database):
        self.db = db

    def _runs(self, window: Window, *columns: Any) -> Select:
        query = (select(*columns).select_from(Run).join(GraphVersion, GraphVersion.id == Run.graph_version_id)
                 .where(Run.workspace_id == window.workspace_id, Run.created_at >= window.since))
        if window.graph_id is not None:
            query = query.where(GraphVersion.graph_id == window.graph_id)
        if window.owner_id is not None:
            query = query.where(Run.owner_id == window.owner_id)
        return query

    def counts(self, window: Window) -> list[tuple[str, str, str, int]]:
        """(graph id, day, state, runs) for every combination that has runs."""
        day = _day(self.db, Run.created_at).label("day")
        query = self._runs(window, GraphVersion.graph_id, day, Run.state, func.count()) \
            .group_by(GraphVersion.graph_id, day, Run.state)
        with self.db.read() as s:
            return [(g, d, state, int(n)) for g, d, state, n in s.execute(query)]

    def durations(self, window: Window) -> list[tuple[str, str, float]]:
        """(graph id, day, seconds from start to end) of every succeeded run."""
        day = _day(self.db, Run.created_at).label("day")
        seconds = _seconds(self.db, Run.started_at, Run.finished_at)
        query = self._runs(window, GraphVersion.graph_id, day, seconds).where(
            Run.state == "succeeded", Run.started_at.is_not(None), Run.finished_at.is_not(None))
        with self.db.read() as s:
            return [(g, d, max(0.0, float(sec))) for g, d, sec in s.execute(query) if sec is not None]

    def inputs(self, window: Window) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(graph id, day, inputs) of every succeeded run, streamed."""
        day = _day(self.db, Run.created_at).label("day")
        query = self._runs(window, GraphVersion.graph_id, day, Run.inputs).where(Run.state == "succeeded") \
            .execution_options(yield_per=500)
        with self.db.read() as s:
            for graph_id, d, inputs in s.execute(query):
                yield graph_id, d, inputs or {}

    def node_types(self, window: Window, limit: int = 10) -> list[tuple[str, int]]:
        """The node types run most often (executed or reused), structural input/output nodes left out."""
        n = func.count().label("n")
        query = self._runs(window, NodeRun.node_type, n).join(NodeRun, NodeRun.run_id == Run.id) \
            .where(NodeRun.node_type.not_in(STRUCTURAL_NODES), NodeRun.state == "succeeded") \
            .group_by(NodeRun.node_type).order_by(n.desc(), NodeRun.node_type).limit(limit)
        with self.db.read() as s:
            return [(t, int(c)) for t, c in s.execute(query)]

    def graphs(self, workspace_id: str) -> dict[str, str]:
        """graph id -> name, for the workspace's graphs."""
        with self.db.read() as s:
            return dict(s.execute(select(Graph.id, Graph.name).where(Graph.workspace_id == workspace_id)).all())

    def graph_workspace(self, graph_id: str) -> str | None:
        with self.db.read() as s:
            return s.scalar(select(Graph.workspace_id).where(Graph.id == graph_id))

    def minutes(self, workspace_id: str) -> dict[str, float]:
        """graph id -> minutes of manual work one successful run saves, for graphs that have it set."""
        with self.db.read() as s:
            return dict(s.execute(select(GraphTimeSaved.graph_id, GraphTimeSaved.minutes_per_run)
                                  .join(Graph, Graph.id == GraphTimeSaved.graph_id)
                                  .where(Graph.workspace_id == workspace_id)).all())

    def set_minutes(self, graph_id: str, minutes: float | None, user_id: str) -> None:
        """Set (or with None, forget) the minutes a graph's run saves."""
        with self.db.session() as s:
            if minutes is None:
                row = s.get(GraphTimeSaved, graph_id)
                if row is not None:
                    s.delete(row)
                return
            insert = sqlite_insert if self.db.is_sqlite else pg_insert
            values = {"graph_id": graph_id, "minutes_per_run": minutes, "updated_by": user_id,
                      "updated_at": utcnow()}
            s.execute(insert(GraphTimeSaved).values(**values).on_conflict_do_update(
                index_elements=["graph_id"], set_={k: v for k, v in values.items() if k != "graph_id"}))
