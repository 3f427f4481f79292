"""Repository of single sign-on identities (provider + subject → user)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .db import Database
from .models import Invitation, UserIdentity, utcnow


class IdentityRepository:
    def __init__(self, db: Database):
        self.db = db

    def user_for(self, provider: str, subject: str) -> str | None:
        with self.db.read() as s:
            return s.scalar(select(UserIdentity.user_id).where(UserIdentity.provider == provider,
                                                               UserIdentity.subject == subject))

    def link(self, user_id: str, provider: str, subject: str, email: str) -> None:
        try:
            with self.db.session() as s:
                s.add(UserIdentity(user_id=user_id, provider=provider, subject=subject, email=email))
        except IntegrityError:
            pass  # linked at the same moment by another request

    def invited(self, email: str) -> bool:
        """Whether a pending, unexpired invitation is addressed to `email`."""
        with self.db.read() as s:
            return s.scalar(select(Invitation.id).where(
                Invitation.email == email.lower(), Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None), Invitation.expires_at > utcnow()).limit(1)) is not None
