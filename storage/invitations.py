"""Repository of workspace invitations, and the membership changes that must not leave a workspace without an
owner (an invitation accepted, a role changed, a member removed): each is one transaction. Sessions working
in a workspace their person left or that was deleted go back to the personal one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, update

from .db import Database
from .models import AuthSession, Invitation, Membership, Workspace, utcnow


@dataclass(frozen=True)
class InvitationRow:
    id: str
    workspace_id: str
    email: str
    role: str
    invited_by: str | None
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime

    @property
    def state(self) -> str:
        """valid, expired, used (accepted) or revoked."""
        if self.revoked_at is not None:
            return "revoked"
        if self.accepted_at is not None:
            return "used"
        return "expired" if self.expires_at <= utcnow() else "valid"


class LastOwner(Exception):
    """The change would leave the workspace without an owner."""


class NotMember(Exception):
    pass


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)  # SQLite: naive UTC


def _when(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _row(i: Invitation) -> InvitationRow:
    return InvitationRow(i.id, i.workspace_id, i.email, i.role, i.invited_by, _when(i.expires_at),
                         _aware(i.accepted_at), _aware(i.revoked_at), _when(i.created_at))


def _pending(query):
    return query.where(Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))


class InvitationRepository:
    def __init__(self, db: Database):
        self.db = db

    # --- invitations -------------------------------------------------------------------------------------------

    def create(self, *, workspace_id: str, email: str, role: str, token_hash: str, invited_by: str | None,
               expires_at: datetime) -> tuple[InvitationRow, list[str]]:
        """A new invitation; earlier pending ones to the same address for the same workspace are revoked in the
        same transaction (their ids come back second), so only the newest link works."""
        email = email.lower()
        now = utcnow()
        with self.db.session() as s:
            replaced = list(s.scalars(_pending(select(Invitation.id)).where(Invitation.workspace_id == workspace_id,
                                                                         Invitation.email == email)))
            if replaced:
                s.execute(update(Invitation).where(Invitation.id.in_(replaced)).values(revoked_at=now))
            invitation = Invitation(workspace_id=workspace_id, email=email, role=role, token_hash=token_hash,
                                    invited_by=invited_by, expires_at=expires_at, created_at=now)
            s.add(invitation)
            s.flush()
            return _row(invitation), replaced

    def get(self, invitation_id: str) -> InvitationRow | None:
        with self.db.read() as s:
            invitation = s.get(Invitation, invitation_id)
            return _row(invitation) if invitation else None

    def by_token(self, token_hash: str) -> InvitationRow | None:
        with self.db.read() as s:
            invitation = s.scalar(select(Invitation).where(Invitation.token_hash == token_hash))
            return _row(invitation) if invitation else None

    def pending(self, workspace_id: str) -> list[InvitationRow]:
        """Invitations neither accepted nor revoked (expired ones included), newest first."""
        with self.db.read() as s:
            return [_row(i) for i in s.scalars(_pending(select(Invitation)).where(
                Invitation.workspace_id == workspace_id).order_by(Invitation.created_at.desc(), Invitation.id))]

    def revoke(self, invitation_id: str) -> bool:
        """False when it was already accepted or revoked."""
        with self.db.session() as s:
            result = s.execute(_pending(update(Invitation)).where(Invitation.id == invitation_id)
                               .values(revoked_at=utcnow()))
            return result.rowcount == 1  # type: ignore[attr-defined]

    def accept(self, invitation_id: str, user_id: str) -> tuple[str, bool] | None:
        """Mark a valid invitation accepted and make the user a member with its role, at once. A user who is
        already a member keeps their role (an invitation never demotes). (role they have, joined now);
        None when the invitation stopped being valid (used, revoked or expired) meanwhile."""
        now = utcnow()
        with self.db.session() as s:
            result = s.execute(_pending(update(Invitation)).where(Invitation.id == invitation_id,
                                                                  Invitation.expires_at > now)
                               .values(accepted_at=now))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            invitation = s.get(Invitation, invitation_id)
            assert invitation is not None
            membership = s.get(Membership, (invitation.workspace_id, user_id))
            if membership is not None:
                return membership.role, False
            s.add(Membership(workspace_id=invitation.workspace_id, user_id=user_id, role=invitation.role,
                             created_at=now))
            return invitation.role, True

    # --- membership changes that keep an owner ------------------------------------------------------------------

    def change_member(self, workspace_id: str, user_id: str, role: str | None) -> str:
        """Set a member's role, or remove them (role None); their previous role comes back. NotMember when they
        are not one; LastOwner when the workspace would be left without an owner. The workspace row is locked
        (PostgreSQL; SQLite writers are serial anyway), so two owners demoting each other cannot both win."""
        with self.db.session() as s:
            s.scalar(select(Workspace.id).where(Workspace.id == workspace_id).with_for_update())
            membership = s.get(Membership, (workspace_id, user_id))
            if membership is None:
                raise NotMember(user_id)
            previous = membership.role
            if previous == "owner" and role != "owner":
                owners = s.scalar(select(func.count()).select_from(Membership).where(
                    Membership.workspace_id == workspace_id, Membership.role == "owner")) or 0
                if owners <= 1:
                    raise LastOwner(workspace_id)
            if role is None:
                s.delete(membership)
                _forget(s, workspace_id, user_id)
            else:
                membership.role = role
            return previous

    def forget_workspace(self, workspace_id: str) -> None:
        """After a workspace is deleted: browser sessions working in it go back to their personal workspace."""
        with self.db.session() as s:
            _forget(s, workspace_id)


def _forget(s, workspace_id: str, user_id: str | None = None) -> None:
    """Sessions that worked in a workspace they can no longer use work in the personal one again (no session
    may point at a workspace its person cannot enter: every request of it would answer not found)."""
    query = update(AuthSession).where(AuthSession.workspace_id == workspace_id)
    if user_id is not None:
        query = query.where(AuthSession.user_id == user_id)
    s.execute(query.values(workspace_id=None))
