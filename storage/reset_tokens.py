"""Repository of one-time password-reset tokens (OneTimeToken rows of kind "reset"); only hashes are stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update

from .db import Database
from .models import OneTimeToken, utcnow

KIND = "reset"
#: used and expired tokens are kept this long (the "this link was already used" answer), then pruned
_KEEP = timedelta(days=7)


@dataclass(frozen=True)
class ResetTokenRow:
    id: str
    user_id: str
    expires_at: datetime
    used_at: datetime | None
    created_at: datetime

    @property
    def state(self) -> str:
        """valid, used or expired."""
        if self.used_at is not None:
            return "used"
        return "expired" if self.expires_at <= utcnow() else "valid"


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)  # SQLite: naive UTC


def _when(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _row(t: OneTimeToken) -> ResetTokenRow:
    return ResetTokenRow(t.id, t.user_id, _when(t.expires_at), _aware(t.used_at), _when(t.created_at))


class ResetTokenRepository:
    def __init__(self, db: Database):
        self.db = db

    def create(self, user_id: str, token_hash: str, expires_at: datetime) -> ResetTokenRow:
        now = utcnow()
        with self.db.session() as s:
            s.execute(delete(OneTimeToken).where(OneTimeToken.kind == KIND, OneTimeToken.expires_at < now - _KEEP))
            token = OneTimeToken(kind=KIND, token_hash=token_hash, user_id=user_id, expires_at=expires_at,
                                 created_at=now)
            s.add(token)
            s.flush()
            return _row(token)

    def find(self, token_hash: str) -> ResetTokenRow | None:
        with self.db.read() as s:
            token = s.scalar(select(OneTimeToken).where(OneTimeToken.kind == KIND,
                                                        OneTimeToken.token_hash == token_hash))
            return _row(token) if token else None

    def use(self, token_id: str) -> bool:
        """Mark a valid token used, and every other unused reset token of the same user with it (an older link
        must not work after a reset). False when it was used or expired meanwhile."""
        now = utcnow()
        with self.db.session() as s:
            user_id = s.scalar(select(OneTimeToken.user_id).where(OneTimeToken.id == token_id))
            result = s.execute(update(OneTimeToken).where(OneTimeToken.id == token_id, OneTimeToken.used_at.is_(None),
                                                          OneTimeToken.expires_at > now).values(used_at=now))
            if user_id is None or result.rowcount != 1:  # type: ignore[attr-defined]
                return False
            s.execute(update(OneTimeToken).where(OneTimeToken.kind == KIND, OneTimeToken.user_id == user_id,
                                                 OneTimeToken.used_at.is_(None)).values(used_at=now))
            return True

    def count_since(self, user_id: str, since: datetime) -> int:
        """Reset tokens made for a user since then (a cap on reset emails to one address)."""
        with self.db.read() as s:
            return s.scalar(select(func.count()).select_from(OneTimeToken).where(
                OneTimeToken.kind == KIND, OneTimeToken.user_id == user_id, OneTimeToken.created_at >= since)) or 0
