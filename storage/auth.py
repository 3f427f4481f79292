"""Repository of browser sessions and failed sign-ins (the throttle)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update

from .db import Database
from .models import AuthSession, LoginAttempt, User, utcnow


@dataclass(frozen=True)
class SessionRow:
    id: str
    user_id: str
    csrf_token: str
    workspace_id: str | None
    auth_epoch: int
    expires_at: datetime
    last_seen_at: datetime


class AuthRepository:
    def __init__(self, db: Database):
        self.db = db

    # --- sessions ----------------------------------------------------------------------------------------------

    def create_session(self, *, token_hash: str, user_id: str, csrf_token: str, workspace_id: str | None,
                       ip: str, user_agent: str, expires_at: datetime) -> str:
        with self.db.session() as s:
            epoch = s.scalar(select(User.auth_epoch).where(User.id == user_id)) or 0
            row = AuthSession(token_hash=token_hash, user_id=user_id, csrf_token=csrf_token,
                              workspace_id=workspace_id, auth_epoch=epoch, ip=ip[:64], user_agent=user_agent[:300],
                              expires_at=expires_at)
            s.add(row)
            s.flush()
            return row.id

    def session(self, token_hash: str) -> tuple[SessionRow, int, bool] | None:
        """The session with the user's current auth epoch and whether the user is active."""
        with self.db.read() as s:
            row = s.execute(select(AuthSession, User.auth_epoch, User.is_active)
                            .join(User, User.id == AuthSession.user_id)
                            .where(AuthSession.token_hash == token_hash)).first()
            if row is None:
                return None
            sess, epoch, active = row
            return (SessionRow(sess.id, sess.user_id, sess.csrf_token, sess.workspace_id, sess.auth_epoch,
                               _aware(sess.expires_at), _aware(sess.last_seen_at)), epoch, active)

    def touch(self, session_id: str, expires_at: datetime) -> None:
        with self.db.session() as s:
            s.execute(update(AuthSession).where(AuthSession.id == session_id)
                      .values(last_seen_at=utcnow(), expires_at=expires_at))

    def set_workspace(self, session_id: str, workspace_id: str) -> None:
        with self.db.session() as s:
            s.execute(update(AuthSession).where(AuthSession.id == session_id).values(workspace_id=workspace_id))

    def delete_session(self, token_hash: str) -> None:
        with self.db.session() as s:
            s.execute(delete(AuthSession).where(AuthSession.token_hash == token_hash))

    def delete_sessions_of(self, user_id: str) -> None:
        with self.db.session() as s:
            s.execute(delete(AuthSession).where(AuthSession.user_id == user_id))

    # --- throttle ----------------------------------------------------------------------------------------------

    def add_failure(self, *keys: str) -> None:
        with self.db.session() as s:
            now = utcnow()
            s.add_all([LoginAttempt(key=key[:400], at=now) for key in keys])
            s.execute(delete(LoginAttempt).where(LoginAttempt.at < now - timedelta(days=1)))

    def failures(self, key: str, since: datetime) -> tuple[int, datetime | None]:
        """How many failures under `key` since then, and the oldest of them."""
        with self.db.read() as s:
            count, oldest = s.execute(select(func.count(), func.min(LoginAttempt.at))
                                      .where(LoginAttempt.key == key[:400], LoginAttempt.at >= since)).one()
            return count or 0, _aware(oldest) if oldest else None

    def clear_failures(self, key: str) -> None:
        with self.db.session() as s:
            s.execute(delete(LoginAttempt).where(LoginAttempt.key == key[:400]))


def _aware(value: datetime) -> datetime:
    """SQLite gives naive datetimes back; they were stored in UTC."""
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)
