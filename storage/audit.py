"""Repository of the audit log: rows are only ever added (and read, filtered)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from .db import Database
from .models import AuditEvent


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    workspace_id: str | None
    actor_id: str | None
    actor_label: str
    action: str
    target_type: str
    target_id: str
    ip: str
    details: dict[str, Any]


class AuditRepository:
    def __init__(self, db: Database):
        self.db = db

    def add(self, **values: Any) -> None:
        with self.db.session() as s:
            s.add(AuditEvent(**values))

    def list(self, *, workspace_id: str | None = None, actor_id: str | None = None, action: str | None = None,
             since: datetime | None = None, until: datetime | None = None, before_id: int | None = None,
             limit: int = 100, instance_wide: bool = False) -> list[AuditRow]:
        """Newest first. `workspace_id`: that workspace's events (with `instance_wide`, all of them);
        `action`: exact, or a prefix ending in '.' ("auth.")."""
        query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
        if not instance_wide:
            query = query.where(AuditEvent.workspace_id == workspace_id)
        if actor_id:
            query = query.where(AuditEvent.actor_id == actor_id)
        if action:
            query = query.where(AuditEvent.action.startswith(action) if action.endswith(".")
                                else AuditEvent.action == action)
        if since:
            query = query.where(AuditEvent.at >= since)
        if until:
            query = query.where(AuditEvent.at < until)
        if before_id:
            query = query.where(AuditEvent.id < before_id)
        with self.db.read() as s:
            return [AuditRow(e.id, e.at, e.workspace_id, e.actor_id, e.actor_label, e.action, e.target_type,
                             e.target_id, e.ip, dict(e.details or {})) for e in s.scalars(query)]
