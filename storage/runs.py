"""Repository of runs, node runs and run logs.

Every state change is a conditional UPDATE (`... WHERE state IN (...)`) whose row count says who won,
so concurrent workers never dispatch, claim or finish the same thing twice, on SQLite or PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update

from .db import Database
from .models import NodeRun, Run, RunLog, utcnow

RUN_TERMINAL = ("succeeded", "failed", "cancelled")
NODE_TERMINAL = ("succeeded", "failed", "skipped", "cancelled")


@dataclass(frozen=True)
class NodeRunView:
    node_id: str
    node_type: str
    state: str
    attempts: int
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: float | None
    error_code: str | None
    error_message: str | None

    def to_json(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class RunView:
    id: str
    graph_version_id: str
    owner_id: str
    state: str
    inputs: dict[str, Any]
    outputs: dict[str, Any] | None
    error_code: str | None
    error_message: str | None
    executor: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    nodes: list[NodeRunView] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.state in RUN_TERMINAL

    def to_json(self) -> dict[str, Any]:
        data = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}
        data["nodes"] = [n.to_json() for n in self.nodes]
        return data


def _node_view(n: NodeRun) -> NodeRunView:
    return NodeRunView(n.node_id, n.node_type, n.state, n.attempts, n.queued_at, n.started_at, n.finished_at,
                       n.duration_ms, n.error_code, n.error_message)


class RunRepository:
    def __init__(self, db: Database):
        self.db = db

    # --- creating and reading -------------------------------------------------------------------
    def create(self, *, version_id: str, owner_id: str, inputs: dict[str, Any], executor: str,
               nodes: Iterable[tuple[str, str, str]], first: Iterable[str]) -> str:
        """A running run with one pending node run per (node id, type, queue); `first` start queued."""
        first = set(first)
        now = utcnow()
        with self.db.session() as s:
            run = Run(graph_version_id=version_id, owner_id=owner_id, inputs=inputs, executor=executor,
                      state="running", started_at=now)
            s.add(run)
            s.flush()
            s.add_all(NodeRun(run_id=run.id, node_id=node_id, node_type=node_type, queue=queue,
                              state="queued" if node_id in first else "pending",
                              queued_at=now if node_id in first else None)
                      for node_id, node_type, queue in nodes)
            return run.id

    def get(self, run_id: str, *, with_nodes: bool = True) -> RunView | None:
        with self.db.read() as s:
            run = s.get(Run, run_id)
            if run is None:
                return None
            nodes = [_node_view(n) for n in run.node_runs] if with_nodes else []
            return RunView(run.id, run.graph_version_id, run.owner_id, run.state, run.inputs, run.outputs,
                           run.error_code, run.error_message, run.executor, run.created_at, run.started_at,
                           run.finished_at, nodes)

    def list(self, *, owner_id: str | None = None, graph_version_ids: list[str] | None = None,
             limit: int = 50) -> list[RunView]:
        query = select(Run).order_by(Run.created_at.desc()).limit(limit)
        if owner_id:
            query = query.where(Run.owner_id == owner_id)
        if graph_version_ids is not None:
            query = query.where(Run.graph_version_id.in_(graph_version_ids))
        with self.db.read() as s:
            return [RunView(r.id, r.graph_version_id, r.owner_id, r.state, r.inputs, r.outputs, r.error_code,
                            r.error_message, r.executor, r.created_at, r.started_at, r.finished_at)
                    for r in s.scalars(query)]

    def node_states(self, run_id: str) -> dict[str, str]:
        with self.db.read() as s:
            return dict(s.execute(select(NodeRun.node_id, NodeRun.state).where(NodeRun.run_id == run_id)).all())

    def outputs_of(self, run_id: str, node_ids: Iterable[str]) -> dict[str, tuple[dict | None, str | None]]:
        """node id -> (outputs JSON, or the artifact holding outputs too large for the database)."""
        with self.db.read_engine.connect() as connection:
            rows = connection.execute(_OUTPUTS, {"run": run_id, "nodes": list(node_ids)})
            return {node_id: (outputs, artifact) for node_id, outputs, artifact in rows}

    def logs(self, run_id: str) -> list[dict[str, Any]]:
        with self.db.read() as s:
            rows = s.scalars(select(RunLog).where(RunLog.run_id == run_id).order_by(RunLog.id))
            return [{"at": r.at.isoformat(), "node_id": r.node_id, "level": r.level, "message": r.message}
                    for r in rows]

    # --- state changes --------------------------------------------------------------------------
    def claim(self, run_id: str, node_id: str) -> str:
        """'claimed' when this caller may run the node now; 'cancelled' or 'stale' otherwise.

        A node already 'running' is claimed again: that is a message redelivered after its worker died.
        """
        with self.db.begin() as connection:
            if connection.execute(_CLAIM, {"run": run_id, "node": node_id, "now": utcnow()}).rowcount:
                return "claimed"
        with self.db.session() as s:  # the rare path: find out why, and tidy up
            run_state = s.scalar(select(Run.state).where(Run.id == run_id))
            if run_state != "running":
                s.execute(update(NodeRun).where(NodeRun.run_id == run_id, NodeRun.node_id == node_id,
                                                NodeRun.state.in_(("pending", "queued", "running")))
                          .values(state="cancelled", finished_at=utcnow()))
                return "cancelled" if run_state == "cancelled" else "stale"
            return "stale"

    def complete(self, run_id: str, node_id: str, *, outputs: dict | None, outputs_artifact: str | None,
                 duration_ms: float, children: dict[str, set[str]]) -> tuple[list[str], int]:
        """Store a node's success and queue each child whose parents have all succeeded, in one transaction.

        Returns the children this caller must dispatch, and how many nodes of the run are still to run.
        The run row is locked first (SQLite's BEGIN IMMEDIATE already serialises writers), so two parents
        finishing at once cannot both miss — or both take — the hand-off of their common child.
        """
        now = utcnow()
        with self.db.begin() as connection:
            self._lock_run(connection, run_id)
            done = connection.execute(_SUCCEED, {"run": run_id, "node": node_id, "now": now, "outputs": outputs,
                                                 "artifact": outputs_artifact, "duration": duration_ms}).rowcount
            ready = []
            if done:
                for child, parents in children.items():
                    if connection.execute(_QUEUE_IF_READY, {"run": run_id, "child": child, "now": now,
                                                            "parents": sorted(parents),
                                                            "n_parents": len(parents)}).rowcount:
                        ready.append(child)
            return ready, connection.execute(_REMAINING, {"run": run_id}).scalar_one()

    def fail(self, run_id: str, node_id: str, *, code: str, message: str, duration_ms: float | None,
             descendants: set[str], skip_message: str) -> int:
        """Store a node's failure and skip everything downstream of it; returns the nodes still to run."""
        now = utcnow()
        with self.db.begin() as connection:
            self._lock_run(connection, run_id)
            connection.execute(_FAIL, {"run": run_id, "node": node_id, "now": now, "code": code,
                                       "message": message, "duration": duration_ms})
            if descendants:
                connection.execute(_SKIP, {"run": run_id, "nodes": sorted(descendants), "now": now,
                                           "code": "upstream_failed", "message": skip_message})
            return connection.execute(_REMAINING, {"run": run_id}).scalar_one()

    def _lock_run(self, connection, run_id: str) -> None:
        if not self.db.is_sqlite:
            connection.execute(_LOCK_RUN, {"run": run_id})

    def requeue(self, run_id: str, node_id: str) -> None:
        """Back to 'queued' while a retry waits for its backoff."""
        with self.db.session() as s:
            s.execute(update(NodeRun).where(NodeRun.run_id == run_id, NodeRun.node_id == node_id,
                                            NodeRun.state == "running").values(state="queued", queued_at=utcnow()))

    def run_info(self, run_id: str) -> tuple[str, dict[str, Any]] | None:
        """(graph version id, input values) of a run: both never change after the run is created."""
        with self.db.read() as s:
            row = s.execute(select(Run.graph_version_id, Run.inputs).where(Run.id == run_id)).first()
            return (row[0], row[1]) if row else None

    def finish_run_if_done(self, run_id: str) -> str | None:
        """Close the run once no node is left to run; returns its final state for the one caller that closed it."""
        with self.db.session() as s:
            states = dict(s.execute(select(NodeRun.state, func.count()).where(NodeRun.run_id == run_id)
                                    .group_by(NodeRun.state)).all())
            if any(state not in NODE_TERMINAL for state in states):
                return None
            failed = states.get("failed", 0)
            final = "failed" if failed else "succeeded"
            values: dict[str, Any] = {"state": final, "finished_at": utcnow()}
            if failed:
                values |= {"error_code": "node_failed", "error_message": f"{failed} node(s) failed."}
            closed = s.execute(update(Run).where(Run.id == run_id, Run.state == "running").values(**values)).rowcount
            return final if closed else None

    def set_outputs(self, run_id: str, outputs: dict[str, Any]) -> None:
        with self.db.session() as s:
            s.execute(update(Run).where(Run.id == run_id).values(outputs=outputs))

    def cancel(self, run_id: str) -> bool:
        with self.db.session() as s:
            cancelled = s.execute(update(Run).where(Run.id == run_id, Run.state.in_(("pending", "running")))
                                  .values(state="cancelled", finished_at=utcnow(), error_code="cancelled",
                                          error_message="The run was cancelled.")).rowcount
            if cancelled:
                s.execute(update(NodeRun).where(NodeRun.run_id == run_id,
                                                NodeRun.state.in_(("pending", "queued")))
                          .values(state="cancelled", finished_at=utcnow()))
            return bool(cancelled)

    def log(self, run_id: str, node_id: str | None, level: str, message: str) -> None:
        with self.db.session() as s:
            s.add(RunLog(run_id=run_id, node_id=node_id, level=level, message=message[:20000]))

    # --- recovery -------------------------------------------------------------------------------
    def unfinished(self, executor_prefix: str) -> list[tuple[str, str]]:
        """(run id, executor) of runs still running whose executor name starts with the prefix."""
        with self.db.read() as s:
            return list(s.execute(select(Run.id, Run.executor).where(Run.state == "running",
                                                                     Run.executor.startswith(executor_prefix))))

    def adopt(self, run_id: str, old_executor: str, new_executor: str) -> list[tuple[str, str]]:
        """Take over a run from a dead executor; returns (node id, queue) of the nodes to dispatch again."""
        with self.db.session() as s:
            taken = s.execute(update(Run).where(Run.id == run_id, Run.executor == old_executor)
                              .values(executor=new_executor)).rowcount
            if not taken:
                return []
            rows = s.execute(select(NodeRun.node_id, NodeRun.queue).where(
                NodeRun.run_id == run_id, NodeRun.state.in_(("queued", "running"))))
            return [tuple(r) for r in rows]  # type: ignore[misc]


# --- the runtime's hot path as prebuilt Core statements (compiled once, cached by SQLAlchemy) ------------
_nodes = NodeRun.__table__
_runs = Run.__table__
_parent = _nodes.alias("parent")
_THIS_NODE = (_nodes.c.run_id == bindparam("run"), _nodes.c.node_id == bindparam("node"))
_ACTIVE = ("pending", "queued", "running")

_CLAIM = (
    update(_nodes)
    .where(*_THIS_NODE, _nodes.c.state.in_(("queued", "running")),
           select(_runs.c.id).where(_runs.c.id == bindparam("run"), _runs.c.state == "running").exists())
    .values(state="running", started_at=bindparam("now"), attempts=_nodes.c.attempts + 1)
)
_LOCK_RUN = select(_runs.c.id).where(_runs.c.id == bindparam("run")).with_for_update()
_SUCCEED = (
    update(_nodes)
    .where(*_THIS_NODE, _nodes.c.state == "running")
    .values(state="succeeded", finished_at=bindparam("now"), duration_ms=bindparam("duration"),
            outputs=bindparam("outputs", type_=_nodes.c.outputs.type),
            outputs_artifact=bindparam("artifact"))
)
_FAIL = (
    update(_nodes)
    .where(*_THIS_NODE, _nodes.c.state == "running")
    .values(state="failed", finished_at=bindparam("now"), duration_ms=bindparam("duration"),
            error_code=bindparam("code"), error_message=bindparam("message"))
)
_SKIP = (
    update(_nodes)
    .where(_nodes.c.run_id == bindparam("run"), _nodes.c.node_id.in_(bindparam("nodes", expanding=True)),
           _nodes.c.state == "pending")
    .values(state="skipped", finished_at=bindparam("now"), error_code=bindparam("code"),
            error_message=bindparam("message"))
)
_QUEUE_IF_READY = (
    update(_nodes)
    .where(_nodes.c.run_id == bindparam("run"), _nodes.c.node_id == bindparam("child"), _nodes.c.state == "pending",
           select(func.count()).select_from(_parent)
           .where(_parent.c.run_id == bindparam("run"), _parent.c.node_id.in_(bindparam("parents", expanding=True)),
                  _parent.c.state == "succeeded").scalar_subquery() == bindparam("n_parents"))
    .values(state="queued", queued_at=bindparam("now"))
)
_OUTPUTS = select(_nodes.c.node_id, _nodes.c.outputs, _nodes.c.outputs_artifact).where(
    _nodes.c.run_id == bindparam("run"), _nodes.c.node_id.in_(bindparam("nodes", expanding=True)))
_REMAINING = select(func.count()).select_from(_nodes).where(_nodes.c.run_id == bindparam("run"),
                                                            _nodes.c.state.in_(_ACTIVE))
