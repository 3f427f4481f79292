"""Repository of API credentials: personal access tokens and the OAuth2 endpoint's refresh tokens.

Only hashes of secrets are stored. The checks that decide whether a token is usable live in app/tokens.py;
this module only reads and changes rows, with the conditional updates that make rotation safe when two
requests race (a refresh token is marked used by exactly one of them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_, select, update

from .db import Database
from .models import ApiToken, RefreshToken, new_id, utcnow


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back; they were stored in UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ApiTokenRow:
    id: str
    user_id: str
    workspace_id: str | None
    name: str
    scopes: tuple[str, ...]
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime
    secret_hash: str  # sha256 hex of the secret part; never shown

    def state(self, now: datetime | None = None) -> str:
        """'active', 'expired' or 'revoked'."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or utcnow()):
            return "expired"
        return "active"


@dataclass(frozen=True)
class RefreshRow:
    id: str
    family_id: str
    user_id: str
    workspace_id: str | None
    scopes: tuple[str, ...]
    auth_epoch: int
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


def _token(t: ApiToken) -> ApiTokenRow:
    return ApiTokenRow(t.id, t.user_id, t.workspace_id, t.name, tuple(t.scopes or ()), _utc(t.expires_at),
                       _utc(t.revoked_at), _utc(t.last_used_at), _utc(t.created_at), t.secret_hash)  # type: ignore[arg-type]


def _refresh(r: RefreshToken) -> RefreshRow:
    return RefreshRow(r.id, r.family_id, r.user_id, r.workspace_id, tuple(r.scopes or ()), r.auth_epoch,
                      _utc(r.expires_at), _utc(r.used_at), _utc(r.revoked_at))  # type: ignore[arg-type]


class TokenRepository:
    def __init__(self, db: Database):
        self.db = db

    # --- personal access tokens --------------------------------------------------------------------------------

    def create_api_token(self, *, token_id: str, user_id: str, workspace_id: str | None, name: str,
                         secret_hash: str, scopes: list[str], expires_at: datetime | None) -> ApiTokenRow:
        with self.db.session() as s:
            token = ApiToken(id=token_id, user_id=user_id, workspace_id=workspace_id, name=name,
                             secret_hash=secret_hash, scopes=list(scopes), expires_at=expires_at,
                             created_at=utcnow())
            s.add(token)
            s.flush()
            return _token(token)

    def api_token(self, token_id: str) -> ApiTokenRow | None:
        with self.db.read() as s:
            token = s.get(ApiToken, token_id)
            return _token(token) if token else None

    def api_tokens(self, user_id: str) -> list[ApiTokenRow]:
        """The user's tokens, newest first."""
        with self.db.read() as s:
            return [_token(t) for t in s.scalars(select(ApiToken).where(ApiToken.user_id == user_id)
                                                 .order_by(ApiToken.created_at.desc(), ApiToken.id))]

    def revoke_api_token(self, user_id: str, token_id: str) -> ApiTokenRow | None:
        """Revoke one of the user's tokens (a revoked one stays as it was); None when they have no such token."""
        with self.db.session() as s:
            token = s.get(ApiToken, token_id)
            if token is None or token.user_id != user_id:
                return None
            if token.revoked_at is None:
                token.revoked_at = utcnow()
                s.flush()
            return _token(token)

    def expire_now(self, token_id: str) -> None:
        """Make a token expire at this moment (it stays listed as expired)."""
        with self.db.session() as s:
            s.execute(update(ApiToken).where(ApiToken.id == token_id).values(expires_at=utcnow()))

    def touch_api_token(self, token_id: str, *, every_s: int = 60) -> None:
        """Set last_used_at, at most once per `every_s` (the condition is in the UPDATE: processes agree)."""
        now = utcnow()
        with self.db.session() as s:
            s.execute(update(ApiToken).where(ApiToken.id == token_id, or_(
                ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - timedelta(seconds=every_s)))
                .values(last_used_at=now))

    # --- refresh tokens ----------------------------------------------------------------------------------------

    def add_refresh(self, *, token_hash: str, family_id: str | None, user_id: str, workspace_id: str | None,
                    scopes: list[str], auth_epoch: int, expires_at: datetime, replaces: str | None = None
                    ) -> RefreshRow | None:
        """A new refresh token; `family_id` None starts a new family (a fresh sign-in). `replaces`: the id of the
        token it rotates, marked used in the same transaction; None (and nothing added) when that one was used or
        revoked already — of two requests racing with one token exactly one wins, and the new token is committed
        before the loser can revoke the family, so the revocation reaches it."""
        with self.db.session() as s:
            if replaces is not None and not s.execute(update(RefreshToken).where(
                    RefreshToken.id == replaces, RefreshToken.used_at.is_(None), RefreshToken.revoked_at.is_(None))
                    .values(used_at=utcnow())).rowcount:
                return None
            token = RefreshToken(token_hash=token_hash, family_id=family_id or new_id(), user_id=user_id,
                                 workspace_id=workspace_id, scopes=list(scopes), auth_epoch=auth_epoch,
                                 expires_at=expires_at, created_at=utcnow())
            s.add(token)
            s.flush()
            return _refresh(token)

    def refresh(self, token_hash: str) -> RefreshRow | None:
        with self.db.read() as s:
            token = s.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))
            return _refresh(token) if token else None

    def revoke_family(self, family_id: str) -> int:
        """Revoke every refresh token of a family that is not revoked yet; how many."""
        with self.db.session() as s:
            return s.execute(update(RefreshToken).where(RefreshToken.family_id == family_id,
                                                        RefreshToken.revoked_at.is_(None))
                             .values(revoked_at=utcnow())).rowcount

    def refresh_family(self, family_id: str) -> list[RefreshRow]:
        with self.db.read() as s:
            return [_refresh(r) for r in s.scalars(select(RefreshToken).where(RefreshToken.family_id == family_id)
                                                   .order_by(RefreshToken.created_at))]

    def purge_expired_refresh(self, *, older_than: timedelta = timedelta(days=1)) -> int:
        """Delete refresh tokens that expired more than `older_than` ago; how many."""
        with self.db.session() as s:
            return s.execute(delete(RefreshToken).where(RefreshToken.expires_at < utcnow() - older_than)).rowcount
