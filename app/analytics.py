"""Usage figures of a workspace and of each graph: runs per day, success rate, median duration, most used
node types, documents processed, and the time the runs saved (docs/analytics.md).

Decisions:
- A day is a UTC calendar day of the run's creation; the window is the last `days` days, today included.
- Success rate = succeeded ÷ (succeeded + failed); cancelled and unfinished runs count in "runs" only.
- Documents processed = the files given as inputs to succeeded runs (a file given twice counts twice).
- Time saved = succeeded runs × the minutes of manual work one run saves (set per graph by an owner or editor);
  "per month" is the window's rate brought to 30 days.
- Runners see figures of their own runs only (as they see only their own runs).
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from storage.analytics import AnalyticsRepository, Window, count_files

from .errors import InvalidRequest, NotFound
from .policy import Scope

MAX_DAYS = 366
MAX_MINUTES = 60 * 24 * 7  # a week of work per run is more than any real estimate


@dataclass
class Figures:
    """Counts of one graph, one day, or everything."""

    runs: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    documents: int = 0
    hours_saved: float = 0.0
    durations: list[float] = field(default_factory=list, repr=False)

    @property
    def success_rate(self) -> float | None:
        finished = self.succeeded + self.failed
        return round(self.succeeded / finished, 4) if finished else None

    @property
    def median_duration_s(self) -> float | None:
        return round(statistics.median(self.durations), 3) if self.durations else None

    def add(self, state: str, n: int) -> None:
        self.runs += n
        if state in ("succeeded", "failed", "cancelled"):
            setattr(self, state, getattr(self, state) + n)

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "durations"}
        out["hours_saved"] = round(self.hours_saved, 2)
        return {**out, "success_rate": self.success_rate, "median_duration_s": self.median_duration_s}


@dataclass
class Report:
    workspace_id: str
    graph_id: str | None
    days: int
    since: datetime
    total: Figures
    per_day: dict[str, Figures]  # every day of the window, oldest first
    per_graph: dict[str, Figures]
    cells: dict[tuple[str, str], Figures]  # (day, graph id): the finest grain, for the CSV
    names: dict[str, str]
    minutes: dict[str, float]
    top_nodes: list[tuple[str, int]]

    @property
    def hours_saved_per_month(self) -> float:
        return round(self.total.hours_saved / self.days * 30, 2)

    def to_json(self) -> dict[str, Any]:
        return {
            "workspace_id": self.workspace_id, "graph_id": self.graph_id, "days": self.days,
            "since": self.since.date().isoformat(),
            "total": {**self.total.to_json(), "hours_saved_per_month": self.hours_saved_per_month},
            "per_day": [{"day": day, **f.to_json()} for day, f in self.per_day.items()],
            "graphs": [{"graph_id": g, "name": self.names.get(g, ""), "minutes_per_run": self.minutes.get(g),
                        **f.to_json(), "hours_saved_per_month": round(f.hours_saved / self.days * 30, 2)}
                       for g, f in sorted(self.per_graph.items(), key=lambda kv: (-kv[1].runs, kv[0]))],
            "top_nodes": [{"node_type": t, "count": n} for t, n in self.top_nodes],
        }

    def to_csv(self) -> str:
        """One row per day and graph with runs: spreadsheets sum and pivot them."""
        columns = ["day", "graph_id", "graph", "runs", "succeeded", "failed", "cancelled", "success_rate",
                   "median_duration_s", "documents", "minutes_per_run", "hours_saved"]
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        for (day, graph_id), f in sorted(self.cells.items()):
            data = f.to_json()
            writer.writerow([day, graph_id, self.names.get(graph_id, ""), f.runs, f.succeeded, f.failed,
                             f.cancelled, "" if data["success_rate"] is None else data["success_rate"],
                             "" if data["median_duration_s"] is None else data["median_duration_s"], f.documents,
                             self.minutes.get(graph_id, ""), data["hours_saved"]])
        return buffer.getvalue()


class AnalyticsService:
    def __init__(self, repo: AnalyticsRepository):
        self.repo = repo

    def report(self, scope: Scope, *, days: int = 30, graph_id: str | None = None,
               workspace_id: str | None = None, now: datetime | None = None) -> Report:
        """The figures of the last `days` days of the workspace (default: the scope's current one), or of one
        of its graphs."""
        workspace_id = workspace_id or scope.workspace_id
        if graph_id is not None:
            workspace_id = self._graph_workspace(scope, graph_id)
        scope.require("analytics.read", workspace_id, what="workspace")
        if not 1 <= days <= MAX_DAYS:
            raise InvalidRequest(f"'days' must be between 1 and {MAX_DAYS}; it is {days}.", code="invalid_days",
                                 details={"field": "days"})
        today = (now or datetime.now(UTC)).astimezone(UTC).date()
        first = today - timedelta(days=days - 1)
        since = datetime(first.year, first.month, first.day, tzinfo=UTC)
        owner = None if scope.sees_all_runs(workspace_id) else scope.user_id
        window = Window(workspace_id, since, graph_id, owner)
        minutes = self.repo.minutes(workspace_id)
        names = self.repo.graphs(workspace_id)

        cells: dict[tuple[str, str], Figures] = defaultdict(Figures)
        for graph, day, state, n in self.repo.counts(window):
            cells[(day, graph)].add(state, n)
            if state == "succeeded":
                cells[(day, graph)].hours_saved = n * minutes.get(graph, 0.0) / 60
        for graph, day, seconds in self.repo.durations(window):
            cells[(day, graph)].durations.append(seconds)
        for graph, day, inputs in self.repo.inputs(window):
            cells[(day, graph)].documents += count_files(inputs)

        per_day = {(first + timedelta(days=i)).isoformat(): Figures() for i in range(days)}
        per_graph: dict[str, Figures] = defaultdict(Figures)
        total = Figures()
        for (day, graph), cell in cells.items():
            for bucket in (per_day.setdefault(day, Figures()), per_graph[graph], total):
                _merge(bucket, cell)
        return Report(workspace_id, graph_id, days, since, total, dict(sorted(per_day.items())), dict(per_graph),
                      dict(cells), names, minutes, self.repo.node_types(window))

    def minutes_per_run(self, scope: Scope, graph_id: str) -> float | None:
        workspace_id = self._graph_workspace(scope, graph_id)
        scope.require("analytics.read", workspace_id, what="graph")
        return self.repo.minutes(workspace_id).get(graph_id)

    def set_minutes_per_run(self, scope: Scope, graph_id: str, minutes: float | None) -> float | None:
        """Set how many minutes of manual work one successful run of the graph saves (None: not estimated)."""
        workspace_id = self._graph_workspace(scope, graph_id)
        scope.require("graph.write", workspace_id, what="graph")
        if minutes is not None and not 0 <= minutes <= MAX_MINUTES:
            raise InvalidRequest(f"The minutes saved per run must be between 0 and {MAX_MINUTES}; {minutes:g} is "
                                 "not.", code="invalid_minutes", details={"field": "minutes_per_run"})
        self.repo.set_minutes(graph_id, minutes, scope.user_id)
        return minutes

    def _graph_workspace(self, scope: Scope, graph_id: str) -> str:
        workspace_id = self.repo.graph_workspace(graph_id)
        if workspace_id is None or scope.role(workspace_id) is None:
            raise NotFound(f"There is no graph with id {graph_id[:40]}.")
        return workspace_id


def _merge(into: Figures, cell: Figures) -> None:
    into.runs += cell.runs
    into.succeeded += cell.succeeded
    into.failed += cell.failed
    into.cancelled += cell.cancelled
    into.documents += cell.documents
    into.hours_saved += cell.hours_saved
    into.durations.extend(cell.durations)
