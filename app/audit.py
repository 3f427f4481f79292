"""The audit log: who did what, when, from where (docs/accounts.md, "Audit log").

Services call `audit.record(actor, action, ...)` after a change succeeded. Actions are dotted names:
auth.sign_in, auth.sign_in_failed, auth.sign_out, auth.password_changed, auth.password_reset,
member.invited, member.joined, member.role_changed, member.removed, share_link.created, share_link.revoked,
listing.published, secret.created, secret.updated, secret.deleted, secret.read (a run used it), token.created,
token.revoked, graph.deleted, workspace.deleted, ...
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage.audit import AuditRepository, AuditRow

from .policy import Actor, Scope


class AuditLog:
    def __init__(self, repo: AuditRepository):
        self.repo = repo

    def record(self, actor: Actor | None, action: str, *, workspace_id: str | None = None, target_type: str = "",
               target_id: str = "", details: dict[str, Any] | None = None, label: str | None = None,
               ip: str | None = None) -> None:
        """Add one event. `actor` None: someone not signed in (a failed sign-in, a share-link visitor);
        `label` then says who (the email tried, "share link <name>")."""
        self.repo.add(workspace_id=workspace_id, actor_id=actor.user_id if actor else None,
                      actor_label=(label if label is not None else actor.label if actor else "")[:400],
                      action=action, target_type=target_type, target_id=str(target_id)[:200],
                      ip=(ip or (actor.ip if actor else None) or "")[:64], details=details or {})

    def list(self, scope: Scope, *, workspace_id: str | None = None, actor_id: str | None = None,
             action: str | None = None, since: datetime | None = None, until: datetime | None = None,
             before_id: int | None = None, limit: int = 100) -> list[AuditRow]:
        """A workspace's events, for its owners (instance admins may pass workspace_id="*" for everything)."""
        if workspace_id == "*" and scope.actor.is_admin:
            return self.repo.list(instance_wide=True, actor_id=actor_id, action=action, since=since, until=until,
                                  before_id=before_id, limit=min(max(limit, 1), 500))
        workspace_id = workspace_id or scope.workspace_id
        scope.require("audit.read", workspace_id, what="workspace")
        return self.repo.list(workspace_id=workspace_id, actor_id=actor_id, action=action, since=since,
                              until=until, before_id=before_id, limit=min(max(limit, 1), 500))
