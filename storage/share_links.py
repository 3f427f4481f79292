"""Repository of share links (run-only access to one graph version without an account) and of the runs they
started.

A run started through a link is counted with one conditional UPDATE (`runs_count < max_runs AND not revoked AND
not expired`), so two visitors submitting at the same moment can never exceed the link's maximum.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select, update

from .db import Database
from .models import Run, ShareLink, utcnow


def _utc(moment: datetime | None) -> datetime | None:
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite: naive UTC


@dataclass(frozen=True)
class ShareLinkRow:
    id: str
    workspace_id: str
    graph_version_id: str
    created_by: str
    name: str
    token_hash: str
    token_sealed: str
    expires_at: datetime | None
    max_runs: int | None
    runs_count: int
    password_hash: str | None
    show_outputs: bool
    allowed_origins: list[str]
    revoked_at: datetime | None
    created_at: datetime

    def state(self, now: datetime | None = None) -> str:
        """"active", "revoked", "expired" or "used_up" (the maximum number of runs is reached)."""
        now = now or utcnow()
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        if self.max_runs is not None and self.runs_count >= self.max_runs:
            return "used_up"
        return "active"

    def to_json(self) -> dict[str, Any]:
        """What editors may see: never the hashes nor the sealed token."""
        hidden = {"token_hash", "token_sealed", "password_hash"}
        data = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()
                if k not in hidden}
        return {**data, "has_password": self.password_hash is not None, "state": self.state()}


def _row(link: ShareLink) -> ShareLinkRow:
    return ShareLinkRow(link.id, link.workspace_id, link.graph_version_id, link.created_by, link.name,
                        link.token_hash, link.token_sealed, _utc(link.expires_at), link.max_runs, link.runs_count,
                        link.password_hash, link.show_outputs, list(link.allowed_origins or []),
                        _utc(link.revoked_at), _utc(link.created_at))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Submission:
    """Which link started a run, and the hash of the secret that lets its submitter follow it."""

    run_id: str
    share_link_id: str | None
    submission_hash: str | None


class ShareLinkRepository:
    def __init__(self, db: Database):
        self.db = db

    def create(self, *, link_id: str, workspace_id: str, graph_version_id: str, created_by: str, name: str,
               token_hash: str, token_sealed: str, expires_at: datetime | None, max_runs: int | None,
               password_hash: str | None, show_outputs: bool, allowed_origins: list[str]) -> ShareLinkRow:
        with self.db.session() as s:
            link = ShareLink(id=link_id, workspace_id=workspace_id, graph_version_id=graph_version_id,
                             created_by=created_by, name=name, token_hash=token_hash, token_sealed=token_sealed,
                             expires_at=expires_at, max_runs=max_runs, runs_count=0, password_hash=password_hash,
                             show_outputs=show_outputs, allowed_origins=list(allowed_origins))
            s.add(link)
            s.flush()
            return _row(link)

    def get(self, link_id: str) -> ShareLinkRow | None:
        with self.db.read() as s:
            link = s.get(ShareLink, link_id)
            return _row(link) if link else None

    def by_token_hash(self, token_hash: str) -> ShareLinkRow | None:
        with self.db.read() as s:
            link = s.scalar(select(ShareLink).where(ShareLink.token_hash == token_hash))
            return _row(link) if link else None

    def list(self, workspace_id: str, graph_version_ids: list[str] | None = None) -> list[ShareLinkRow]:
        """Newest first."""
        query = select(ShareLink).where(ShareLink.workspace_id == workspace_id) \
            .order_by(ShareLink.created_at.desc(), ShareLink.id.desc())
        if graph_version_ids is not None:
            query = query.where(ShareLink.graph_version_id.in_(graph_version_ids))
        with self.db.read() as s:
            return [_row(link) for link in s.scalars(query)]

    def revoke(self, link_id: str) -> bool:
        """Revoke now; False when it was revoked already."""
        with self.db.session() as s:
            result = s.execute(update(ShareLink).where(ShareLink.id == link_id, ShareLink.revoked_at.is_(None))
                               .values(revoked_at=utcnow()))
            return result.rowcount == 1

    def claim_run(self, link_id: str) -> bool:
        """Count one more run when the link still allows it (not revoked, not expired, under its maximum)."""
        now = utcnow()
        with self.db.session() as s:
            result = s.execute(
                update(ShareLink)
                .where(ShareLink.id == link_id, ShareLink.revoked_at.is_(None),
                       or_(ShareLink.expires_at.is_(None), ShareLink.expires_at > now),
                       or_(ShareLink.max_runs.is_(None), ShareLink.runs_count < ShareLink.max_runs))
                .values(runs_count=ShareLink.runs_count + 1))
            return result.rowcount == 1

    def release_run(self, link_id: str) -> None:
        """Give back a counted run that did not start (its inputs were refused)."""
        with self.db.session() as s:
            s.execute(update(ShareLink).where(ShareLink.id == link_id, ShareLink.runs_count > 0)
                      .values(runs_count=ShareLink.runs_count - 1))

    def submission(self, run_id: str) -> Submission | None:
        with self.db.read() as s:
            row = s.execute(select(Run.id, Run.share_link_id, Run.submission_hash).where(Run.id == run_id)).first()
            return Submission(row[0], row[1], row[2]) if row else None
