"""Everything stored about one person, read for "export my data" (app/data_export.py); rows come out as
plain JSON-ready dicts, and the long lists (runs, audit events) are streamed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select

from .db import Database
from .models import (
    ApiToken,
    AuditEvent,
    AuthSession,
    Graph,
    GraphVersion,
    Membership,
    NodeRun,
    Run,
    Schedule,
    User,
    UserIdentity,
    Workspace,
)

BATCH = 200


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _row(obj: Any, *names: str) -> dict[str, Any]:
    return {name: _json(getattr(obj, name)) for name in names}


class UserDataRepository:
    def __init__(self, db: Database):
        self.db = db

    def account(self, user_id: str) -> dict[str, Any] | None:
        """The account, its sign-in identities, sessions and API tokens (never a secret or a hash)."""
        with self.db.read() as s:
            user = s.get(User, user_id)
            if user is None:
                return None
            out = _row(user, "id", "email", "name", "locale", "is_admin", "is_active", "created_at", "last_login_at")
            out["has_password"] = user.password_hash is not None
            out["identities"] = [_row(i, "provider", "subject", "email", "created_at") for i in
                                 s.scalars(select(UserIdentity).where(UserIdentity.user_id == user_id))]
            out["sessions"] = [_row(a, "created_at", "last_seen_at", "expires_at", "ip", "user_agent") for a in
                               s.scalars(select(AuthSession).where(AuthSession.user_id == user_id))]
            out["api_tokens"] = [_row(t, "id", "name", "scopes", "workspace_id", "created_at", "expires_at",
                                      "revoked_at", "last_used_at") for t in
                                 s.scalars(select(ApiToken).where(ApiToken.user_id == user_id))]
            return out

    def workspaces(self, user_id: str) -> list[dict[str, Any]]:
        with self.db.read() as s:
            rows = s.execute(select(Workspace, Membership).join(Membership, Membership.workspace_id == Workspace.id)
                             .where(Membership.user_id == user_id).order_by(Workspace.created_at)).all()
            return [{**_row(w, "id", "name", "plan", "created_at"), "personal": w.personal_of == user_id,
                     "role": m.role, "member_since": _json(m.created_at)} for w, m in rows]

    def graphs(self, user_id: str) -> Iterator[dict[str, Any]]:
        """The graphs the person made (in any workspace), each with its latest version's spec."""
        with self.db.read() as s:
            for graph in s.scalars(select(Graph).where(Graph.owner_id == user_id).order_by(Graph.created_at)):
                latest = s.scalar(select(GraphVersion).where(GraphVersion.graph_id == graph.id)
                                  .order_by(GraphVersion.number.desc()).limit(1))
                yield {**_row(graph, "id", "workspace_id", "name", "description", "tags", "source", "created_at",
                              "updated_at"),
                       "version": latest.number if latest else None, "spec": latest.spec if latest else None}

    def schedules(self, user_id: str) -> list[dict[str, Any]]:
        with self.db.read() as s:
            return [_row(x, "id", "workspace_id", "name", "graph_id", "cron", "timezone", "paused", "watch_dir",
                         "inputs", "created_at") for x in
                    s.scalars(select(Schedule).where(Schedule.owner_id == user_id))]

    def runs(self, user_id: str) -> Iterator[dict[str, Any]]:
        """The runs the person started, oldest first, with their node runs' states (no node outputs)."""
        with self.db.read() as s:
            query = (select(Run, GraphVersion.graph_id).join(GraphVersion, GraphVersion.id == Run.graph_version_id)
                     .where(Run.owner_id == user_id).order_by(Run.created_at, Run.id)
                     .execution_options(yield_per=BATCH))
            for run, graph_id in s.execute(query):
                nodes = s.execute(select(NodeRun.node_id, NodeRun.node_type, NodeRun.state, NodeRun.duration_ms,
                                         NodeRun.error_message).where(NodeRun.run_id == run.id)
                                  .order_by(NodeRun.id)).all()
                yield {**_row(run, "id", "workspace_id", "graph_version_id", "state", "inputs", "outputs",
                              "error_code", "error_message", "created_at", "started_at", "finished_at"),
                       "graph_id": graph_id,
                       "nodes": [{"node_id": n, "node_type": t, "state": st, "duration_ms": d, "error": e}
                                 for n, t, st, d, e in nodes]}

    def audit(self, user_id: str) -> Iterator[dict[str, Any]]:
        """Audit events the person caused, or that are about their account."""
        query = (select(AuditEvent).where(or_(AuditEvent.actor_id == user_id,
                                              and_(AuditEvent.target_type == "user",
                                                   AuditEvent.target_id == user_id)))
                 .order_by(AuditEvent.id).execution_options(yield_per=BATCH))
        with self.db.read() as s:
            for event in s.scalars(query):
                yield _row(event, "at", "workspace_id", "actor_label", "action", "target_type", "target_id", "ip",
                           "details")
