"""Repository of schedules and their fires.

A fire is claimed by inserting its row: the unique key (schedule, fire time, key) lets exactly one of
several scheduler processes win a tick; the others get an IntegrityError and move on.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from .db import Database
from .models import Schedule, ScheduleFire, utcnow

EDITABLE = ("name", "graph_id", "graph_version_id", "inputs", "cron", "timezone", "start_at", "end_at", "paused",
            "misfire", "watch_dir", "watch_input")


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite gives back naive UTC times


@dataclass(frozen=True)
class ScheduleRow:
    id: str
    owner_id: str
    workspace_id: str
    name: str
    graph_id: str
    graph_version_id: str | None
    inputs: dict[str, Any]
    cron: str
    timezone: str
    start_at: datetime | None
    end_at: datetime | None
    paused: bool
    misfire: str
    watch_dir: str | None
    watch_input: str | None
    watch_state: dict[str, Any]
    checked_until: datetime | None
    last_run_id: str | None
    last_fire_at: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class FireRow:
    id: int
    schedule_id: str
    fire_at: datetime
    kind: str
    key: str
    run_id: str | None
    error: str | None
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}


def _row(s: Schedule) -> ScheduleRow:
    values = {f.name: getattr(s, f.name) for f in fields(ScheduleRow)}
    for name in ("start_at", "end_at", "checked_until", "last_fire_at", "created_at", "updated_at"):
        values[name] = _utc(values[name])
    values["inputs"] = dict(values["inputs"] or {})
    values["watch_state"] = dict(values["watch_state"] or {})
    return ScheduleRow(**values)


def _fire(f: ScheduleFire) -> FireRow:
    return FireRow(f.id, f.schedule_id, _utc(f.fire_at), f.kind, f.key, f.run_id, f.error,  # type: ignore[arg-type]
                   _utc(f.created_at))  # type: ignore[arg-type]


class ScheduleRepository:
    def __init__(self, db: Database):
        self.db = db

    def create(self, owner_id: str, values: dict[str, Any], *, workspace_id: str,
               created_at: datetime | None = None) -> ScheduleRow:
        with self.db.session() as s:
            row = Schedule(owner_id=owner_id, workspace_id=workspace_id,
                           **{k: values[k] for k in EDITABLE if k in values})
            if created_at is not None:
                row.created_at = row.updated_at = created_at
            s.add(row)
            s.flush()
            return _row(row)

    def update(self, schedule_id: str, values: dict[str, Any]) -> ScheduleRow | None:
        with self.db.session() as s:
            row = s.get(Schedule, schedule_id)
            if row is None:
                return None
            for key, value in values.items():
                if key in EDITABLE or key in ("checked_until", "last_error", "watch_state"):
                    setattr(row, key, value)
            s.flush()
            return _row(row)

    def get(self, schedule_id: str) -> ScheduleRow | None:
        with self.db.read() as s:
            row = s.get(Schedule, schedule_id)
            return _row(row) if row else None

    def list(self, *, workspace_id: str | None = None, active_only: bool = False) -> list[ScheduleRow]:
        query = select(Schedule).order_by(Schedule.name, Schedule.created_at)
        if workspace_id is not None:
            query = query.where(Schedule.workspace_id == workspace_id)
        if active_only:
            query = query.where(Schedule.paused.is_(False))
        with self.db.read() as s:
            return [_row(r) for r in s.scalars(query)]

    def delete(self, schedule_id: str) -> bool:
        with self.db.session() as s:
            s.execute(delete(ScheduleFire).where(ScheduleFire.schedule_id == schedule_id))
            return bool(s.execute(delete(Schedule).where(Schedule.id == schedule_id)).rowcount)

    def advance(self, schedule_id: str, until: datetime) -> None:
        """Ticks up to `until` are handled; never moves the cursor backwards (another scheduler may be ahead)."""
        with self.db.session() as s:
            s.execute(update(Schedule).where(Schedule.id == schedule_id)
                      .where(or_(Schedule.checked_until.is_(None), Schedule.checked_until < until))
                      .values(checked_until=until))

    def set_watch_state(self, schedule_id: str, state: dict[str, Any]) -> None:
        with self.db.session() as s:
            s.execute(update(Schedule).where(Schedule.id == schedule_id).values(watch_state=state))

    def claim(self, schedule_id: str, fire_at: datetime, kind: str, key: str = "", *,
              at: datetime | None = None) -> int | None:
        """Insert the fire; its id, or None when another scheduler already claimed this tick."""
        try:
            with self.db.session() as s:
                fire = ScheduleFire(schedule_id=schedule_id, fire_at=fire_at, kind=kind, key=key,
                                    created_at=at or utcnow())
                s.add(fire)
                s.flush()
                return fire.id
        except IntegrityError:
            return None

    def finish(self, fire_id: int, *, run_id: str | None, error: str | None) -> None:
        """Record what a claimed fire started (or why it could not), on the fire and on its schedule."""
        with self.db.session() as s:
            fire = s.get(ScheduleFire, fire_id)
            if fire is None:
                return
            fire.run_id, fire.error = run_id, error
            s.execute(update(Schedule).where(Schedule.id == fire.schedule_id)
                      .values(last_run_id=run_id if run_id else Schedule.last_run_id, last_error=error,
                              last_fire_at=fire.created_at))

    def fires(self, schedule_id: str, limit: int = 20) -> list[FireRow]:
        with self.db.read() as s:
            return [_fire(f) for f in s.scalars(
                select(ScheduleFire).where(ScheduleFire.schedule_id == schedule_id)
                .order_by(ScheduleFire.created_at.desc(), ScheduleFire.id.desc()).limit(limit))]

    def fires_by_id(self, ids: list[int]) -> list[FireRow]:
        if not ids:
            return []
        with self.db.read() as s:
            return [_fire(f) for f in s.scalars(select(ScheduleFire).where(ScheduleFire.id.in_(ids))
                                                .order_by(ScheduleFire.id))]
