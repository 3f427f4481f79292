"""What workspaces use (runs this month, stored files, members) and what the instance is doing (queues, failed
runs): the counting queries behind plans and quotas (app/quotas.py) and the admin area (app/admin.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from .db import Database
from .models import (
    Artifact,
    Graph,
    GraphVersion,
    Invitation,
    Membership,
    NodeRun,
    Run,
    Workspace,
    WorkspaceFile,
    utcnow,
)


@dataclass(frozen=True)
class WorkspaceUsageRow:
    """One workspace as the admin area lists it."""

    id: str
    name: str
    personal_of: str | None
    plan: str
    members: int
    storage_bytes: int
    created_at: datetime


@dataclass(frozen=True)
class FailedRunRow:
    id: str
    workspace_id: str
    workspace_name: str
    graph_name: str
    owner_id: str
    error_code: str | None
    error_message: str | None
    created_at: datetime
    finished_at: datetime | None


class UsageRepository:
    def __init__(self, db: Database):
        self.db = db

    # --- one workspace -----------------------------------------------------------------------------------------

    def runs_since(self, workspace_id: str, since: datetime) -> int:
        """Runs started in the workspace from `since` on, whoever or whatever started them."""
        with self.db.read() as s:
            return s.scalar(select(func.count()).select_from(Run).where(Run.workspace_id == workspace_id,
                                                                        Run.created_at >= since)) or 0

    def storage_bytes(self, workspace_id: str) -> int:
        """The size of every stored file the workspace holds (uploaded there or made by its runs), each once."""
        with self.db.read() as s:
            return int(s.scalar(select(func.coalesce(func.sum(Artifact.size), 0))
                                .select_from(WorkspaceFile)
                                .join(Artifact, Artifact.sha256 == WorkspaceFile.sha256)
                                .where(WorkspaceFile.workspace_id == workspace_id)) or 0)

    def holds(self, workspace_id: str, sha256: str) -> bool:
        with self.db.read() as s:
            return s.get(WorkspaceFile, (workspace_id, sha256)) is not None

    def members(self, workspace_id: str) -> int:
        with self.db.read() as s:
            return s.scalar(select(func.count()).select_from(Membership)
                            .where(Membership.workspace_id == workspace_id)) or 0

    def pending_invitations(self, workspace_id: str, *, except_email: str = "") -> int:
        """Invitations that still work (neither accepted, revoked nor expired), other than `except_email`'s."""
        with self.db.read() as s:
            query = select(func.count()).select_from(Invitation).where(
                Invitation.workspace_id == workspace_id, Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None), Invitation.expires_at > utcnow())
            if except_email:
                query = query.where(Invitation.email != except_email.lower())
            return s.scalar(query) or 0

    def plan(self, workspace_id: str) -> str | None:
        with self.db.read() as s:
            return s.scalar(select(Workspace.plan).where(Workspace.id == workspace_id))

    def set_plan(self, workspace_id: str, plan: str) -> str | None:
        """The previous plan, or None when there is no such workspace."""
        with self.db.session() as s:
            workspace = s.get(Workspace, workspace_id)
            if workspace is None:
                return None
            previous, workspace.plan = workspace.plan, plan
            return previous

    # --- the whole instance (admin area) -----------------------------------------------------------------------

    def workspaces(self) -> list[WorkspaceUsageRow]:
        """Every workspace with its member count and stored bytes, oldest first."""
        with self.db.read() as s:
            members = dict(s.execute(select(Membership.workspace_id, func.count())
                                     .group_by(Membership.workspace_id)).all())
            storage = dict(s.execute(select(WorkspaceFile.workspace_id, func.coalesce(func.sum(Artifact.size), 0))
                                     .join(Artifact, Artifact.sha256 == WorkspaceFile.sha256)
                                     .group_by(WorkspaceFile.workspace_id)).all())
            return [WorkspaceUsageRow(w.id, w.name, w.personal_of, w.plan, int(members.get(w.id, 0)),
                                      int(storage.get(w.id, 0)), w.created_at)
                    for w in s.scalars(select(Workspace).order_by(Workspace.created_at, Workspace.id))]

    def node_runs_by_queue(self) -> dict[str, dict[str, int]]:
        """queue -> {state: count} of the node runs waiting or running now (pending, queued, running)."""
        with self.db.read() as s:
            rows = s.execute(select(NodeRun.queue, NodeRun.state, func.count())
                             .where(NodeRun.state.in_(("pending", "queued", "running")))
                             .group_by(NodeRun.queue, NodeRun.state)).all()
        out: dict[str, dict[str, int]] = {}
        for queue, state, count in rows:
            out.setdefault(queue, {})[state] = int(count)
        return out

    def runs_by_state(self) -> dict[str, int]:
        with self.db.read() as s:
            return {state: int(n) for state, n in s.execute(select(Run.state, func.count()).group_by(Run.state))}

    def failed_runs(self, limit: int = 50) -> list[FailedRunRow]:
        """The latest failed runs of every workspace, newest first."""
        with self.db.read() as s:
            rows = s.execute(
                select(Run.id, Run.workspace_id, Workspace.name, Graph.name, Run.owner_id, Run.error_code,
                       Run.error_message, Run.created_at, Run.finished_at)
                .join(Workspace, Workspace.id == Run.workspace_id)
                .join(GraphVersion, GraphVersion.id == Run.graph_version_id)
                .join(Graph, Graph.id == GraphVersion.graph_id)
                .where(Run.state == "failed")
                .order_by(func.coalesce(Run.finished_at, Run.created_at).desc(), Run.id.desc())
                .limit(limit)).all()
        return [FailedRunRow(*row) for row in rows]
