"""Repository of runs, node runs and run logs.

Every state change is a conditional UPDATE (`... WHERE state IN (...)`) whose row count says who won,
so concurrent workers never dispatch, claim or finish the same thing twice, on SQLite or PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, update

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
    item: int | None = None  # inside a For each loop: the item (node_id is then "<node>[<item>]")
    reused: str | None = None  # "cache" or "run": outputs reused, the node did not execute

    def to_json(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class RunInfo:
    """What never changes after a run is created."""

    version_id: str
    inputs: dict[str, Any]
    options: dict[str, Any]
    started_at: datetime | None
    workspace_id: str = ""


@dataclass(frozen=True)
class LoopStep:
    """What a For each loop needs done, in the same transaction, when one of its node runs ends."""

    loop: str  # the for-each node id
    items: int  # how many items the loop has
    roots: tuple[str, ...]  # body nodes that start an item
    concurrency: int
    body: tuple[tuple[str, str, str], ...]  # (node id, type, queue) of the body nodes
    collect: str
    collect_parents: tuple[str, ...]
    item: int | None = None  # the item whose node run ended; None when the for-each node itself ended
    skipped: bool = False  # the for-each node was skipped: so are its body nodes

    def instance(self, node_id: str, item: int) -> str:
        return f"{node_id}[{item}]"


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
    options: dict[str, Any] = field(default_factory=dict)
    workspace_id: str = ""
    share_link_id: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in RUN_TERMINAL

    def to_json(self) -> dict[str, Any]:
        data = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}
        data["nodes"] = [n.to_json() for n in self.nodes]
        return data


def _node_view(n: NodeRun) -> NodeRunView:
    return NodeRunView(n.node_id, n.node_type, n.state, n.attempts, n.queued_at, n.started_at, n.finished_at,
                       n.duration_ms, n.error_code, n.error_message, n.item, n.reused)


class RunRepository:
    def __init__(self, db: Database):
        self.db = db

    # --- creating and reading -------------------------------------------------------------------
    def create(self, *, version_id: str, owner_id: str, workspace_id: str, inputs: dict[str, Any], executor: str,
               nodes: Iterable[tuple[str, str, str]], first: Iterable[str], options: dict[str, Any] | None = None,
               share_link_id: str | None = None, submission_hash: str | None = None) -> str:
        """A running run with one pending node run per (node id, type, queue); `first` start queued."""
        first = set(first)
        now = utcnow()
        with self.db.session() as s:
            run = Run(graph_version_id=version_id, owner_id=owner_id, workspace_id=workspace_id, inputs=inputs,
                      executor=executor, state="running", started_at=now, options=options or {},
                      share_link_id=share_link_id, submission_hash=submission_hash)
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
                           run.finished_at, nodes, run.options or {}, run.workspace_id, run.share_link_id)

    def list(self, *, workspace_id: str | None = None, owner_id: str | None = None,
             graph_version_ids: list[str] | None = None,
             limit: int = 50, state: str | None = None, after: tuple[datetime, str] | None = None
             ) -> list[RunView]:
        """Newest first. `after`: (created_at, id) of the last run of the previous page (keyset paging)."""
        query = select(Run).order_by(Run.created_at.desc(), Run.id.desc()).limit(limit)
        if workspace_id:
            query = query.where(Run.workspace_id == workspace_id)
        if owner_id:
            query = query.where(Run.owner_id == owner_id)
        if graph_version_ids is not None:
            query = query.where(Run.graph_version_id.in_(graph_version_ids))
        if state is not None:
            query = query.where(Run.state == state)
        if after is not None:
            query = query.where(or_(Run.created_at < after[0], and_(Run.created_at == after[0], Run.id < after[1])))
        with self.db.read() as s:
            return [RunView(r.id, r.graph_version_id, r.owner_id, r.state, r.inputs, r.outputs, r.error_code,
                            r.error_message, r.executor, r.created_at, r.started_at, r.finished_at,
                            options=r.options or {}, workspace_id=r.workspace_id, share_link_id=r.share_link_id)
                    for r in s.scalars(query)]

    def node_states(self, run_id: str) -> dict[str, str]:
        with self.db.read() as s:
            return dict(s.execute(select(NodeRun.node_id, NodeRun.state).where(NodeRun.run_id == run_id)).all())

    def outputs_of(self, run_id: str, node_ids: Iterable[str]) -> dict[str, tuple[str, dict | None, str | None]]:
        """node id -> (state, outputs JSON, or the artifact holding outputs too large for the database)."""
        with self.db.read_engine.connect() as connection:
            rows = connection.execute(_OUTPUTS, {"run": run_id, "nodes": list(node_ids)})
            return {node_id: (state, outputs, artifact) for node_id, state, outputs, artifact in rows}

    def item_results(self, run_id: str, loop: str, node_id: str, items: int
                     ) -> tuple[list[tuple[str, dict | None, str | None]], list[dict[str, Any]]]:
        """For Collect: (state, outputs, artifact) of `node_id` for every item in order, and the failures."""
        ids = [f"{node_id}[{i}]" for i in range(items)]
        with self.db.read_engine.connect() as connection:
            found = {row[0]: row[1:] for row in connection.execute(_OUTPUTS, {"run": run_id, "nodes": ids})}
            failures = [{"item": item, "node": node.rpartition("[")[0], "error": message}
                        for node, item, message in connection.execute(_ITEM_FAILURES, {"run": run_id, "loop_id": loop})]
        return [found.get(i, ("skipped", None, None)) for i in ids], failures

    def reusable(self, run_id: str, cache_key: str) -> tuple[dict | None, str | None] | None:
        """Outputs of a node run of `run_id` that succeeded with this cache key (for resuming a run)."""
        with self.db.read_engine.connect() as connection:
            row = connection.execute(_REUSABLE, {"run": run_id, "key": cache_key}).first()
            return (row[0], row[1]) if row else None

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
                 duration_ms: float, children: dict[str, set[str]], state: str = "succeeded",
                 cache_key: str | None = None, reused: str | None = None, loop: LoopStep | None = None,
                 claiming: bool = False) -> tuple[list[str], int]:
        """Store a node's success (or skip) and queue each child whose parents are all done, in one transaction.

        Returns the node runs this caller must dispatch, and how many nodes of the run are still to run.
        The run row is locked first (SQLite's BEGIN IMMEDIATE already serialises writers), so two parents
        finishing at once cannot both miss — or both take — the hand-off of their common child.
        `loop`: the for-each node ended (its items' node runs are created and the first items started),
        or a node run of one item ended (the next item may start, the loop may be over).
        `claiming`: the node run was not claimed (its result is reused): claim and complete it at once, on
        the same conditions as `claim` (queued or redelivered, and the run still running).
        """
        now = utcnow()
        with self.db.begin() as connection:
            self._lock_run(connection, run_id)
            done = connection.execute(_SUCCEED_CLAIMING if claiming else _SUCCEED, {
                                                 "run": run_id, "node": node_id, "now": now, "outputs": outputs,
                                                 "artifact": outputs_artifact, "duration": duration_ms,
                                                 "state": state, "key": cache_key, "reused": reused}).rowcount
            ready = []
            if done:
                ready = self._queue_ready(connection, run_id, children, now)
                if loop is not None and loop.item is None:
                    ready += self._expand(connection, run_id, loop, now)
                elif loop is not None:
                    ready += self._advance(connection, run_id, loop, now)
            return ready, connection.execute(_REMAINING, {"run": run_id}).scalar_one()

    @staticmethod
    def _queue_ready(connection, run_id: str, children: dict[str, set[str]] | dict[str, tuple[str, ...]],
                     now: datetime) -> list[str]:
        ready = []
        for child, parents in children.items():
            if connection.execute(_QUEUE_IF_READY, {"run": run_id, "child": child, "now": now,
                                                    "parents": sorted(parents), "n_parents": len(parents)}).rowcount:
                ready.append(child)
        return ready

    def _expand(self, connection, run_id: str, loop: LoopStep, now: datetime) -> list[str]:
        """Create one node run per body node and item, and start the first `concurrency` items."""
        rows = [{"run_id": run_id, "node_id": loop.instance(node_id, item), "node_type": node_type, "queue": queue,
                 "state": "pending", "attempts": 0, "item": item, "loop": loop.loop}
                for item in range(loop.items) for node_id, node_type, queue in loop.body]
        for start in range(0, len(rows), 500):
            connection.execute(insert(_nodes), rows[start:start + 500])
        ready = []
        first = min(loop.concurrency, loop.items)
        connection.execute(_SET_STARTED, {"run": run_id, "loop_node": loop.loop, "started": first})
        for item in range(first):
            ready += self._start_item(connection, run_id, loop, item, now)
        if loop.items == 0:
            ready += self._close_loop(connection, run_id, loop, now)
        return ready

    def _start_item(self, connection, run_id: str, loop: LoopStep, item: int, now: datetime) -> list[str]:
        ids = [loop.instance(root, item) for root in loop.roots]
        queued = connection.execute(_QUEUE_MANY, {"run": run_id, "nodes": ids, "now": now}).rowcount
        return ids if queued else []  # none when the loop stopped and its items were skipped

    def _advance(self, connection, run_id: str, loop: LoopStep, now: datetime) -> list[str]:
        """After a node run of an item ended: start the next item once this one is done; close a finished loop."""
        args = {"run": run_id, "loop_id": loop.loop}
        if connection.execute(_ITEM_ACTIVE, args | {"item": loop.item}).scalar_one():
            return []
        # the for-each node's row counts the items begun: items start in order, one as another ends
        started = connection.execute(_NEXT_ITEM, {"run": run_id, "loop_node": loop.loop, "n": loop.items}).scalar()
        if started is not None:
            return self._start_item(connection, run_id, loop, started - 1, now)
        if connection.execute(_LOOP_ACTIVE, args).scalar_one():
            return []
        return self._close_loop(connection, run_id, loop, now)

    def _close_loop(self, connection, run_id: str, loop: LoopStep, now: datetime) -> list[str]:
        """Every item is done: the body nodes count as succeeded, and the collect node may run.

        (A collect node whose for-each node was skipped is skipped when it runs.)
        """
        if loop.body:
            connection.execute(_CLOSE_BODY, {"run": run_id, "nodes": [n for n, _, _ in loop.body], "now": now,
                                             "state": "skipped" if loop.skipped else "succeeded"})
        return self._queue_ready(connection, run_id, {loop.collect: loop.collect_parents}, now)

    def fail(self, run_id: str, node_id: str, *, code: str, message: str, duration_ms: float | None,
             descendants: set[str], skip_message: str, loop: LoopStep | None = None,
             stop_loop: bool = False, fail_also: str | None = None) -> tuple[list[str], int]:
        """Store a node's failure and skip everything downstream of it.

        Inside a loop, either the item alone is given up (the next item may start: `loop`), or the whole
        loop stops (`stop_loop`: its items not yet done are skipped, and `fail_also` — the node's own row
        outside the items — fails too, which fails the run). Returns the node runs to dispatch and the
        number of nodes still to run.
        """
        now = utcnow()
        ready: list[str] = []
        with self.db.begin() as connection:
            self._lock_run(connection, run_id)
            failed = connection.execute(_FAIL, {"run": run_id, "node": node_id, "now": now, "code": code,
                                                "message": message, "duration": duration_ms}).rowcount
            if failed and fail_also:
                connection.execute(_FAIL_PENDING, {"run": run_id, "node": fail_also, "now": now, "code": code,
                                                   "message": message})
            if failed and stop_loop and loop is not None:
                connection.execute(_SKIP_LOOP, {"run": run_id, "loop_id": loop.loop, "now": now,
                                                "code": "upstream_failed", "message": skip_message})
            if failed and descendants:
                connection.execute(_SKIP, {"run": run_id, "nodes": sorted(descendants), "now": now,
                                           "code": "upstream_failed", "message": skip_message})
            if failed and loop is not None and not stop_loop:
                ready = self._advance(connection, run_id, loop, now)
            return ready, connection.execute(_REMAINING, {"run": run_id}).scalar_one()

    def stop_node(self, run_id: str, node_id: str) -> None:
        """A running node that noticed its run was cancelled."""
        with self.db.session() as s:
            s.execute(update(NodeRun).where(NodeRun.run_id == run_id, NodeRun.node_id == node_id,
                                            NodeRun.state == "running").values(state="cancelled", finished_at=utcnow()))

    def _lock_run(self, connection, run_id: str) -> None:
        if not self.db.is_sqlite:
            connection.execute(_LOCK_RUN, {"run": run_id})

    def requeue(self, run_id: str, node_id: str) -> None:
        """Back to 'queued' while a retry waits for its backoff."""
        with self.db.session() as s:
            s.execute(update(NodeRun).where(NodeRun.run_id == run_id, NodeRun.node_id == node_id,
                                            NodeRun.state == "running").values(state="queued", queued_at=utcnow()))

    def run_info(self, run_id: str) -> RunInfo | None:
        with self.db.read() as s:
            row = s.execute(select(Run.graph_version_id, Run.inputs, Run.options, Run.started_at, Run.workspace_id)
                            .where(Run.id == run_id)).first()
            return RunInfo(row[0], row[1], row[2] or {}, row[3], row[4]) if row else None

    def state(self, run_id: str) -> str | None:
        with self.db.read() as s:
            return s.scalar(select(Run.state).where(Run.id == run_id))

    def finish_run_if_done(self, run_id: str) -> str | None:
        """Close the run once no node is left to run; returns its final state for the one caller that closed it."""
        with self.db.session() as s:
            states = dict(s.execute(select(NodeRun.state, func.count()).where(NodeRun.run_id == run_id)
                                    .group_by(NodeRun.state)).all())
            if any(state not in NODE_TERMINAL for state in states):
                return None
            # a node run of a loop item that failed is reported by Collect; it fails the run only when the
            # loop stopped (then its node's own row failed too)
            failed = s.scalar(select(func.count()).where(NodeRun.run_id == run_id, NodeRun.state == "failed",
                                                         NodeRun.item.is_(None))) if states.get("failed") else 0
            final = "failed" if failed else "succeeded"
            values: dict[str, Any] = {"state": final, "finished_at": utcnow()}
            if failed:
                values |= {"error_code": "node_failed", "error_message": f"{failed} node(s) failed."}
            closed = s.execute(update(Run).where(Run.id == run_id, Run.state == "running").values(**values)).rowcount
            return final if closed else None

    def set_outputs(self, run_id: str, outputs: dict[str, Any]) -> None:
        with self.db.session() as s:
            s.execute(update(Run).where(Run.id == run_id).values(outputs=outputs))

    def cancel(self, run_id: str, *, state: str = "cancelled", code: str = "cancelled",
               message: str = "The run was cancelled.") -> bool:
        """Stop a run: its nodes not started yet will not start (also used for a run past its time limit)."""
        with self.db.session() as s:
            cancelled = s.execute(update(Run).where(Run.id == run_id, Run.state.in_(("pending", "running")))
                                  .values(state=state, finished_at=utcnow(), error_code=code,
                                          error_message=message)).rowcount
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
    .values(state=bindparam("state"), finished_at=bindparam("now"), duration_ms=bindparam("duration"),
            outputs=bindparam("outputs", type_=_nodes.c.outputs.type),
            outputs_artifact=bindparam("artifact"), cache_key=bindparam("key"), reused=bindparam("reused"))
)
_SUCCEED_CLAIMING = (
    update(_nodes)
    .where(*_THIS_NODE, _nodes.c.state.in_(("queued", "running")),
           select(_runs.c.id).where(_runs.c.id == bindparam("run"), _runs.c.state == "running").exists())
    .values(state=bindparam("state"), started_at=bindparam("now"), attempts=_nodes.c.attempts + 1,
            finished_at=bindparam("now"), duration_ms=bindparam("duration"),
            outputs=bindparam("outputs", type_=_nodes.c.outputs.type),
            outputs_artifact=bindparam("artifact"), cache_key=bindparam("key"), reused=bindparam("reused"))
)
_FAIL = (
    update(_nodes)
    .where(*_THIS_NODE, _nodes.c.state == "running")
    .values(state="failed", finished_at=bindparam("now"), duration_ms=bindparam("duration"),
            error_code=bindparam("code"), error_message=bindparam("message"))
)
_FAIL_PENDING = (
    update(_nodes)
    .where(*_THIS_NODE, _nodes.c.state == "pending")
    .values(state="failed", finished_at=bindparam("now"), error_code=bindparam("code"),
            error_message=bindparam("message"))
)
_SKIP_LOOP = (
    update(_nodes)
    .where(_nodes.c.run_id == bindparam("run"), _nodes.c.loop == bindparam("loop_id"),
           _nodes.c.state.in_(("pending", "queued")))
    .values(state="skipped", finished_at=bindparam("now"), error_code=bindparam("code"),
            error_message=bindparam("message"))
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
                  _parent.c.state.in_(("succeeded", "skipped"))).scalar_subquery() == bindparam("n_parents"))
    .values(state="queued", queued_at=bindparam("now"))
)
_QUEUE_MANY = (
    update(_nodes)
    .where(_nodes.c.run_id == bindparam("run"), _nodes.c.node_id.in_(bindparam("nodes", expanding=True)),
           _nodes.c.state == "pending")
    .values(state="queued", queued_at=bindparam("now"))
)
_CLOSE_BODY = (
    update(_nodes)
    .where(_nodes.c.run_id == bindparam("run"), _nodes.c.node_id.in_(bindparam("nodes", expanding=True)),
           _nodes.c.state == "pending")
    .values(state=bindparam("state"), finished_at=bindparam("now"))
)
_IN_LOOP = (_nodes.c.run_id == bindparam("run"), _nodes.c.loop == bindparam("loop_id"))
_ITEM_ACTIVE = select(func.count()).select_from(_nodes).where(*_IN_LOOP, _nodes.c.item == bindparam("item"),
                                                                _nodes.c.state.in_(("pending", "queued", "running")))
_LOOP_ACTIVE = select(func.count()).select_from(_nodes).where(*_IN_LOOP,
                                                                _nodes.c.state.in_(("pending", "queued", "running")))
_LOOP_NODE = (_nodes.c.run_id == bindparam("run"), _nodes.c.node_id == bindparam("loop_node"))
_SET_STARTED = update(_nodes).where(*_LOOP_NODE).values(items_started=bindparam("started"))
_NEXT_ITEM = (update(_nodes).where(*_LOOP_NODE, _nodes.c.items_started < bindparam("n"))
              .values(items_started=_nodes.c.items_started + 1).returning(_nodes.c.items_started))
_ITEM_FAILURES = select(_nodes.c.node_id, _nodes.c.item, _nodes.c.error_message).where(
    *_IN_LOOP, _nodes.c.state == "failed").order_by(_nodes.c.item, _nodes.c.id)
_OUTPUTS = select(_nodes.c.node_id, _nodes.c.state, _nodes.c.outputs, _nodes.c.outputs_artifact).where(
    _nodes.c.run_id == bindparam("run"), _nodes.c.node_id.in_(bindparam("nodes", expanding=True)))
_REUSABLE = select(_nodes.c.outputs, _nodes.c.outputs_artifact).where(
    _nodes.c.run_id == bindparam("run"), _nodes.c.cache_key == bindparam("key"),
    _nodes.c.state == "succeeded").limit(1)
_REMAINING = select(func.count()).select_from(_nodes).where(_nodes.c.run_id == bindparam("run"),
                                                            _nodes.c.state.in_(_ACTIVE))
