"""Repository of runs, node runs and run logs.

Every state change is a conditional UPDATE (`... WHERE state IN (...)`) whose row count says who won,
so concurrent workers never dispatch, claim or finish the same thing twice, on SQLite or PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

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
        with self.db.read() as s:
            rows = s.execute(select(NodeRun.node_id, NodeRun.outputs, NodeRun.outputs_artifact)
                             .where(NodeRun.run_id == run_id, NodeRun.node_id.in_(list(node_ids))))
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
        with self.db.session() as s:
            run_state = s.scalar(select(Run.state).where(Run.id == run_id))
            if run_state != "running":
                s.execute(update(NodeRun).where(NodeRun.run_id == run_id, NodeRun.node_id == node_id,
                                                NodeRun.state.in_(("pending", "queued", "running")))
                          .values(state="cancelled", finished_at=utcnow()))
                return "cancelled" if run_state == "cancelled" else "stale"
            claimed = s.execute(
                update(NodeRun)
                .where(NodeRun.run_id == run_id, NodeRun.node_id == node_id,
                       NodeRun.state.in_(("queued", "running")))
                .values(state="running", started_at=utcnow(), attempts=NodeRun.attempts + 1)
            ).rowcount
            return "claimed" if claimed else "stale"

    def succeed(self, run_id: str, node_id: str, *, outputs: dict | None, outputs_artifact: str | None,
                duration_ms: float) -> bool:
        return self._finish(run_id, node_id, "succeeded", outputs=outputs, outputs_artifact=outputs_artifact,
                            duration_ms=duration_ms)

    def fail(self, run_id: str, node_id: str, *, code: str, message: str, duration_ms: float | None) -> bool:
        return self._finish(run_id, node_id, "failed", error_code=code, error_message=message,
                            duration_ms=duration_ms)

    def _finish(self, run_id: str, node_id: str, state: str, **values: Any) -> bool:
        with self.db.session() as s:
            return bool(s.execute(
                update(NodeRun).where(NodeRun.run_id == run_id, NodeRun.node_id == node_id,
                                      NodeRun.state == "running")
                .values(state=state, finished_at=utcnow(), **values)
            ).rowcount)

    def requeue(self, run_id: str, node_id: str) -> None:
        """Back to 'queued' while a retry waits for its backoff."""
        with self.db.session() as s:
            s.execute(update(NodeRun).where(NodeRun.run_id == run_id, NodeRun.node_id == node_id,
                                            NodeRun.state == "running").values(state="queued", queued_at=utcnow()))

    def skip(self, run_id: str, node_ids: Iterable[str], *, code: str, message: str) -> None:
        with self.db.session() as s:
            s.execute(update(NodeRun).where(NodeRun.run_id == run_id, NodeRun.node_id.in_(list(node_ids)),
                                            NodeRun.state == "pending")
                      .values(state="skipped", error_code=code, error_message=message, finished_at=utcnow()))

    def queue_if_ready(self, run_id: str, node_id: str, parents: set[str]) -> bool:
        """Move a pending node to 'queued' once every parent succeeded. True for exactly one caller.

        Callers commit their own node's success before calling, so the last parent to finish always
        sees all parents done; the conditional UPDATE makes sure only one caller dispatches.
        """
        with self.db.session() as s:
            done = s.scalar(select(func.count()).where(NodeRun.run_id == run_id, NodeRun.node_id.in_(parents),
                                                       NodeRun.state == "succeeded"))
            if done != len(parents):
                return False
            return bool(s.execute(
                update(NodeRun).where(NodeRun.run_id == run_id, NodeRun.node_id == node_id,
                                      NodeRun.state == "pending").values(state="queued", queued_at=utcnow())
            ).rowcount)

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
