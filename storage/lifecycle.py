"""Queries of the data lifecycle (app/lifecycle.py): which stored files are still referenced, and by which
workspace; expiring workspace grants and cache entries; forgetting a user's traces in other workspaces.

A stored file (an `Artifact` row, bytes under the artifacts folder) is referenced when:
- a workspace holds it (`WorkspaceFile`: uploaded there, or a run's output there);
- a *live* run names it: in its inputs, outputs or a node run's outputs (also the large-outputs artifact). A run
  is live while unfinished, or when it ended after the retention cutoff (all runs, without retention);
- a graph version's spec names it (a template set in a node's settings), a schedule's preset inputs do, a
  marketplace listing version does, a pending delivery's payload does, or a node-cache entry does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import column, delete, or_, select, table, update

from .db import Database
from .models import (
    Artifact,
    AuditEvent,
    Delivery,
    Graph,
    GraphVersion,
    LoginAttempt,
    Membership,
    NodeCacheEntry,
    NodeRun,
    Notification,
    Run,
    Schedule,
    ShareLink,
    User,
    WorkspaceFile,
)

BATCH = 500
_LISTING_VERSIONS = table("listing_versions", column("spec"))  # marketplace/models.py; no import across rooms


def file_hashes(value: Any) -> set[str]:
    """The sha256 of every file reference inside a JSON value."""
    found: set[str] = set()

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            sha = v.get("artifact")
            if isinstance(sha, str) and len(sha) == 64:
                found.add(sha)
            for item in v.values():
                walk(item)
        elif isinstance(v, list):
            for item in v:
                walk(item)

    walk(value)
    return found


@dataclass
class Usage:
    """Who refers to which files. `by_workspace`: live runs, graph versions and schedules of each workspace;
    `grants`: what each workspace holds; `other`: cache entries, listings, pending deliveries."""

    by_workspace: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    grants: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    other: set[str] = field(default_factory=set)

    def all(self, *, without_grants: Iterable[tuple[str, str]] = ()) -> set[str]:
        dropped = set(without_grants)
        out = set(self.other)
        for shas in self.by_workspace.values():
            out |= shas
        for workspace_id, shas in self.grants.items():
            out |= {sha for sha in shas if (workspace_id, sha) not in dropped}
        return out


class LifecycleRepository:
    def __init__(self, db: Database):
        self.db = db

    # --- references --------------------------------------------------------------------------------------------

    def usage(self, *, live_since: datetime | None, cache_before: datetime | None = None,
              workspace_id: str | None = None) -> Usage:
        """Every reference to stored files (module docstring). Runs that ended before `live_since` do not
        count; nor do cache entries created before `cache_before` (they are about to be dropped).
        `workspace_id`: only that workspace's runs, graphs, schedules and grants (no `other`)."""
        usage = Usage()
        live = or_(Run.finished_at.is_(None), Run.finished_at >= live_since) if live_since else True
        runs = select(Run.workspace_id, Run.inputs, Run.outputs).where(live)
        nodes = (select(Run.workspace_id, NodeRun.outputs, NodeRun.outputs_artifact)
                 .join(Run, Run.id == NodeRun.run_id).where(live))
        specs = select(Graph.workspace_id, GraphVersion.spec).join(Graph, Graph.id == GraphVersion.graph_id)
        schedules = select(Schedule.workspace_id, Schedule.inputs)
        grants = select(WorkspaceFile.workspace_id, WorkspaceFile.sha256)
        if workspace_id is not None:
            runs, nodes = runs.where(Run.workspace_id == workspace_id), nodes.where(Run.workspace_id == workspace_id)
            specs, schedules = specs.where(Graph.workspace_id == workspace_id), schedules.where(
                Schedule.workspace_id == workspace_id)
            grants = grants.where(WorkspaceFile.workspace_id == workspace_id)
        with self.db.read() as s:
            for ws, inputs, outputs in s.execute(runs.execution_options(yield_per=BATCH)):
                usage.by_workspace[ws] |= file_hashes(inputs) | file_hashes(outputs)
            for ws, outputs, artifact in s.execute(nodes.execution_options(yield_per=BATCH)):
                usage.by_workspace[ws] |= file_hashes(outputs) | ({artifact} if artifact else set())
            for ws, spec in s.execute(specs.execution_options(yield_per=BATCH)):
                usage.by_workspace[ws] |= file_hashes(spec)
            for ws, inputs in s.execute(schedules):
                usage.by_workspace[ws] |= file_hashes(inputs)
            for ws, sha in s.execute(grants.execution_options(yield_per=BATCH)):
                usage.grants[ws].add(sha)
            if workspace_id is not None:
                return usage
            cache = select(NodeCacheEntry.outputs, NodeCacheEntry.outputs_artifact)
            if cache_before is not None:
                cache = cache.where(NodeCacheEntry.created_at >= cache_before)
            for outputs, artifact in s.execute(cache.execution_options(yield_per=BATCH)):
                usage.other |= file_hashes(outputs) | ({artifact} if artifact else set())
            for (spec,) in s.execute(select(_LISTING_VERSIONS.c.spec).execution_options(yield_per=BATCH)):
                usage.other |= file_hashes(spec)
            for (payload,) in s.execute(select(Delivery.payload).where(Delivery.state == "pending")):
                usage.other |= file_hashes(payload)
        return usage

    def old_grants(self, before: datetime) -> list[tuple[str, str]]:
        """(workspace id, sha256) of grants made before `before`."""
        with self.db.read() as s:
            return [tuple(r) for r in s.execute(select(WorkspaceFile.workspace_id, WorkspaceFile.sha256)
                                                .where(WorkspaceFile.created_at < before))]  # type: ignore[misc]

    def drop_grants(self, grants: list[tuple[str, str]]) -> None:
        by_workspace: dict[str, list[str]] = defaultdict(list)
        for workspace_id, sha in grants:
            by_workspace[workspace_id].append(sha)
        with self.db.session() as s:
            for workspace_id, shas in by_workspace.items():
                for start in range(0, len(shas), BATCH):
                    s.execute(delete(WorkspaceFile).where(WorkspaceFile.workspace_id == workspace_id,
                                                          WorkspaceFile.sha256.in_(shas[start:start + BATCH])))

    def old_cache_keys(self, before: datetime) -> list[str]:
        with self.db.read() as s:
            return list(s.scalars(select(NodeCacheEntry.key).where(NodeCacheEntry.created_at < before)))

    def cache_keys_of(self, workspace_id: str) -> list[str]:
        """Cache entries made by runs of a workspace (a workspace's deletion takes them along)."""
        with self.db.read() as s:
            return list(s.scalars(select(NodeRun.cache_key).join(Run, Run.id == NodeRun.run_id).distinct()
                                  .where(Run.workspace_id == workspace_id, NodeRun.cache_key.is_not(None))))

    def drop_cache(self, keys: list[str]) -> None:
        with self.db.session() as s:
            for start in range(0, len(keys), BATCH):
                s.execute(delete(NodeCacheEntry).where(NodeCacheEntry.key.in_(keys[start:start + BATCH])))

    # --- stored files ------------------------------------------------------------------------------------------

    def artifacts(self, *, before: datetime) -> list[tuple[str, int]]:
        """(sha256, size) of the files recorded before `before`."""
        with self.db.read() as s:
            return [(sha, int(size)) for sha, size in s.execute(select(Artifact.sha256, Artifact.size)
                                                                .where(Artifact.created_at < before))]

    def forget_artifact(self, sha: str, *, before: datetime) -> bool:
        """Delete a file's record unless it was stored (again) since `before`: False when it was kept."""
        with self.db.session() as s:
            return bool(s.execute(delete(Artifact).where(Artifact.sha256 == sha, Artifact.created_at < before))
                        .rowcount)

    def recorded(self, shas: Iterable[str]) -> set[str]:
        shas = list(shas)
        found: set[str] = set()
        with self.db.read() as s:
            for start in range(0, len(shas), BATCH):
                found |= set(s.scalars(select(Artifact.sha256).where(Artifact.sha256.in_(shas[start:start + BATCH]))))
        return found

    # --- runs and people ---------------------------------------------------------------------------------------

    def active_runs(self, workspace_id: str) -> list[str]:
        with self.db.read() as s:
            return list(s.scalars(select(Run.id).where(Run.workspace_id == workspace_id,
                                                       Run.state.in_(("pending", "running")))))

    def oldest_owner(self, workspace_id: str, *, besides: str) -> str | None:
        """The longest-standing owner of a workspace other than `besides` (else its oldest other member)."""
        with self.db.read() as s:
            rows = s.execute(select(Membership.user_id, Membership.role).where(
                Membership.workspace_id == workspace_id, Membership.user_id != besides)
                .order_by(Membership.created_at, Membership.user_id)).all()
        owners = [u for u, role in rows if role == "owner"]
        return (owners or [u for u, _ in rows] or [None])[0]

    def workspaces_with_work_of(self, user_id: str) -> set[str]:
        """Workspaces holding graphs, runs, schedules or share links the user made (also ones they left)."""
        with self.db.read() as s:
            found: set[str] = set()
            for model, column_ in ((Graph, Graph.owner_id), (Run, Run.owner_id), (Schedule, Schedule.owner_id),
                                   (ShareLink, ShareLink.created_by)):
                found |= set(s.scalars(select(model.workspace_id).where(column_ == user_id).distinct()))
            return found

    def hand_over(self, user_id: str, workspace_id: str, heir: str) -> dict[str, int]:
        """What `user_id` made in a team workspace (graphs, runs, schedules, share links) passes to `heir`."""
        moved = {}
        with self.db.session() as s:
            for name, model, column_ in (("graphs", Graph, Graph.owner_id), ("runs", Run, Run.owner_id),
                                         ("schedules", Schedule, Schedule.owner_id),
                                         ("share_links", ShareLink, ShareLink.created_by)):
                result = s.execute(update(model).where(column_ == user_id, model.workspace_id == workspace_id)
                                   .values({column_.key: heir}))
                moved[name] = result.rowcount or 0
        return moved

    def forget_user(self, user_id: str, email: str, label: str) -> None:
        """Delete the user row (sessions, tokens, identities and memberships go with it), their notifications
        and failed sign-in records; the audit log keeps its events with the person's name replaced by `label`."""
        with self.db.session() as s:
            s.execute(delete(Notification).where(Notification.owner_id == user_id))
            s.execute(delete(LoginAttempt).where(LoginAttempt.key == f"email:{email}"))
            s.execute(update(AuditEvent).where(AuditEvent.actor_id == user_id).values(actor_label=label, ip=""))
            s.execute(delete(User).where(User.id == user_id))

    def workspaces_owned_alone(self, user_id: str) -> list[tuple[str, str]]:
        """(id, name) of the team workspaces where the user is the only owner."""
        from .models import Workspace

        with self.db.read() as s:
            mine = s.execute(select(Workspace.id, Workspace.name).join(
                Membership, Membership.workspace_id == Workspace.id).where(
                Membership.user_id == user_id, Membership.role == "owner", Workspace.personal_of.is_(None))).all()
            out = []
            for workspace_id, name in mine:
                owners = s.scalars(select(Membership.user_id).where(Membership.workspace_id == workspace_id,
                                                                    Membership.role == "owner")).all()
                if list(owners) == [user_id]:
                    out.append((workspace_id, name))
        return out
