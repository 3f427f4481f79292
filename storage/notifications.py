"""Repository of in-app notifications: a run finished or failed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from .db import Database
from .models import Notification, utcnow


@dataclass(frozen=True)
class NotificationRow:
    id: int
    run_id: str
    graph_name: str
    state: str
    message: str
    created_at: datetime
    read_at: datetime | None

    @property
    def read(self) -> bool:
        return self.read_at is not None

    def to_json(self) -> dict[str, Any]:
        data = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}
        return {**data, "read": self.read, "run_url": f"/api/v1/runs/{self.run_id}"}


def _row(n: Notification) -> NotificationRow:
    return NotificationRow(n.id, n.run_id, n.graph_name, n.state, n.message, n.created_at, n.read_at)


class NotificationRepository:
    def __init__(self, db: Database):
        self.db = db

    def add(self, *, owner_id: str, run_id: str, graph_name: str, state: str, message: str) -> int:
        with self.db.session() as s:
            row = Notification(owner_id=owner_id, run_id=run_id, graph_name=graph_name, state=state,
                               message=message, created_at=utcnow())
            s.add(row)
            s.flush()
            return row.id

    def list(self, owner_id: str, *, unread_only: bool = False, limit: int = 50) -> list[NotificationRow]:
        query = select(Notification).where(Notification.owner_id == owner_id) \
            .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
        if unread_only:
            query = query.where(Notification.read_at.is_(None))
        with self.db.read() as s:
            return [_row(n) for n in s.scalars(query)]

    def unread(self, owner_id: str) -> int:
        with self.db.read() as s:
            return s.scalar(select(func.count()).where(Notification.owner_id == owner_id,
                                                       Notification.read_at.is_(None))) or 0

    def mark_read(self, owner_id: str, ids: list[int] | None = None) -> int:
        """Mark these notifications (None: all of them) read; returns how many changed."""
        query = update(Notification).where(Notification.owner_id == owner_id, Notification.read_at.is_(None))
        if ids is not None:
            query = query.where(Notification.id.in_(ids))
        with self.db.session() as s:
            return s.execute(query.values(read_at=utcnow())).rowcount
