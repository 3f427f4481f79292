"""Repository of users, workspaces and memberships (sessions, tokens and the rest live in storage/auth.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from .db import Database
from .models import Membership, User, Workspace, utcnow

#: the user the installation starts with: the CLI and the scheduler act as them until the first admin
#: account claims it (`minddocs user create --admin` or the first-start page)
LOCAL_USER_EMAIL = "local@minddocs.invalid"


@dataclass(frozen=True)
class UserRow:
    id: str
    email: str
    name: str
    password_hash: str | None
    is_admin: bool
    is_active: bool
    locale: str
    auth_epoch: int
    last_login_at: datetime | None
    created_at: datetime

    @property
    def claimed(self) -> bool:
        """False for the installation's placeholder user before the first admin takes it over."""
        return self.email != LOCAL_USER_EMAIL


@dataclass(frozen=True)
class WorkspaceRow:
    id: str
    name: str
    personal_of: str | None
    plan: str
    created_at: datetime
    role: str | None = None  # the asking user's role, when listed for a user
    members: int = 0


@dataclass(frozen=True)
class MemberRow:
    user_id: str
    email: str
    name: str
    role: str
    is_active: bool
    since: datetime


class EmailTaken(Exception):
    pass


def _user(u: User) -> UserRow:
    return UserRow(u.id, u.email, u.name, u.password_hash, u.is_admin, u.is_active, u.locale, u.auth_epoch,
                   u.last_login_at, u.created_at)


def _workspace(w: Workspace, role: str | None = None, members: int = 0) -> WorkspaceRow:
    return WorkspaceRow(w.id, w.name, w.personal_of, w.plan, w.created_at, role, members)


class AccountRepository:
    def __init__(self, db: Database):
        self.db = db

    # --- users -------------------------------------------------------------------------------------------------

    def ensure_local_user(self) -> str:
        """The installation's first user (with a personal workspace): the placeholder, or whoever claimed it."""
        with self.db.session() as s:
            user = s.scalar(select(User).order_by(User.created_at, User.id).limit(1))
            if user is not None:
                return user.id
        try:
            return self.create_user(LOCAL_USER_EMAIL, name="Local user", is_admin=True).id
        except EmailTaken:  # another process made it at the same moment
            return self.ensure_local_user()

    def create_user(self, email: str, *, name: str = "", password_hash: str | None = None,
                    is_admin: bool = False, locale: str = "es", workspace_name: str = "Personal") -> UserRow:
        """A user and their personal workspace, in one transaction."""
        try:
            with self.db.session() as s:
                user = User(email=email.lower(), name=name, password_hash=password_hash, is_admin=is_admin,
                            locale=locale)
                s.add(user)
                s.flush()
                workspace = Workspace(name=workspace_name, personal_of=user.id)
                s.add(workspace)
                s.flush()
                s.add(Membership(workspace_id=workspace.id, user_id=user.id, role="owner"))
                s.flush()
                return _user(user)
        except IntegrityError:
            raise EmailTaken(email) from None

    def user(self, user_id: str) -> UserRow | None:
        with self.db.read() as s:
            user = s.get(User, user_id)
            return _user(user) if user else None

    def user_by_email(self, email: str) -> UserRow | None:
        with self.db.read() as s:
            user = s.scalar(select(User).where(User.email == email.lower()))
            return _user(user) if user else None

    def users(self) -> list[UserRow]:
        with self.db.read() as s:
            return [_user(u) for u in s.scalars(select(User).order_by(User.created_at))]

    def update_user(self, user_id: str, **values: Any) -> UserRow:
        """Change columns of a user (email, name, password_hash, is_admin, is_active, locale, last_login_at);
        `bump_epoch=True` also ends their sessions and tokens issued before."""
        bump = values.pop("bump_epoch", False)
        if "email" in values:
            values["email"] = values["email"].lower()
        try:
            with self.db.session() as s:
                user = s.get(User, user_id)
                if user is None:
                    raise KeyError(user_id)
                for key, value in values.items():
                    setattr(user, key, value)
                if bump:
                    user.auth_epoch += 1
                s.flush()
                return _user(user)
        except IntegrityError:
            raise EmailTaken(values.get("email", "")) from None

    def count_users(self, *, claimed_only: bool = True) -> int:
        with self.db.read() as s:
            query = select(func.count()).select_from(User)
            if claimed_only:
                query = query.where(User.email != LOCAL_USER_EMAIL)
            return s.scalar(query) or 0

    # --- workspaces and members --------------------------------------------------------------------------------

    def personal_workspace(self, user_id: str) -> str:
        with self.db.read() as s:
            return s.scalar(select(Workspace.id).where(Workspace.personal_of == user_id))  # type: ignore[return-value]

    def roles(self, user_id: str) -> dict[str, str]:
        """workspace id -> role, for every workspace the user belongs to."""
        with self.db.read() as s:
            return dict(s.execute(select(Membership.workspace_id, Membership.role)
                                  .where(Membership.user_id == user_id)).all())

    def workspace(self, workspace_id: str) -> WorkspaceRow | None:
        with self.db.read() as s:
            w = s.get(Workspace, workspace_id)
            return _workspace(w) if w else None

    def workspaces_of(self, user_id: str) -> list[WorkspaceRow]:
        """The user's workspaces, personal first, then by name, with their role and member count."""
        with self.db.read() as s:
            counts = (select(Membership.workspace_id, func.count().label("n"))
                      .group_by(Membership.workspace_id).subquery())
            rows = s.execute(select(Workspace, Membership.role, counts.c.n)
                             .join(Membership, Membership.workspace_id == Workspace.id)
                             .join(counts, counts.c.workspace_id == Workspace.id)
                             .where(Membership.user_id == user_id)).all()
        out = [_workspace(w, role, n) for w, role, n in rows]
        return sorted(out, key=lambda w: (w.personal_of != user_id, w.name.casefold()))

    def all_workspaces(self) -> list[WorkspaceRow]:
        with self.db.read() as s:
            return [_workspace(w) for w in s.scalars(select(Workspace).order_by(Workspace.created_at))]

    def create_workspace(self, name: str, owner_id: str) -> WorkspaceRow:
        with self.db.session() as s:
            workspace = Workspace(name=name)
            s.add(workspace)
            s.flush()
            s.add(Membership(workspace_id=workspace.id, user_id=owner_id, role="owner"))
            s.flush()
            return _workspace(workspace, "owner", 1)

    def update_workspace(self, workspace_id: str, **values: Any) -> WorkspaceRow:
        with self.db.session() as s:
            s.execute(update(Workspace).where(Workspace.id == workspace_id).values(**values))
            return _workspace(s.get(Workspace, workspace_id))  # type: ignore[arg-type]

    def delete_workspace(self, workspace_id: str) -> None:
        """The workspace and, through ON DELETE CASCADE, everything in it."""
        with self.db.session() as s:
            workspace = s.get(Workspace, workspace_id)
            if workspace is not None:
                s.delete(workspace)

    def members(self, workspace_id: str) -> list[MemberRow]:
        with self.db.read() as s:
            rows = s.execute(select(User, Membership).join(Membership, Membership.user_id == User.id)
                             .where(Membership.workspace_id == workspace_id).order_by(User.email)).all()
        return [MemberRow(u.id, u.email, u.name, m.role, u.is_active, m.created_at) for u, m in rows]

    def set_role(self, workspace_id: str, user_id: str, role: str | None) -> None:
        """Add a member, change their role, or (role None) remove them."""
        with self.db.session() as s:
            membership = s.get(Membership, (workspace_id, user_id))
            if role is None:
                if membership is not None:
                    s.delete(membership)
            elif membership is None:
                s.add(Membership(workspace_id=workspace_id, user_id=user_id, role=role, created_at=utcnow()))
            else:
                membership.role = role
