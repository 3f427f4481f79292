"""Workspaces, their members and roles, and invitations by email link (docs/accounts.md).

Every method checks the caller's Scope first (app/policy.py): a workspace the caller is not a member of
answers NotFound, a member whose role does not allow the change Forbidden. Every change is audited.

Decisions (also in docs/accounts.md):
- A personal workspace belongs to one person: it cannot be deleted, nor can anyone be invited into it.
- An invitation is for one email address: accepting it needs an account with that address (any case);
  signed in with another, the answer is Forbidden with a sentence saying which address to use.
- Inviting an address again replaces the pending invitation (only the newest link works).
- Accepting never demotes: someone who is already a member keeps their role.
- A workspace always keeps an owner: the last one cannot be demoted, removed, or leave.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from nodes.net import SmtpServer
from storage.accounts import AccountRepository, MemberRow, WorkspaceRow
from storage.invitations import InvitationRepository, InvitationRow, LastOwner, NotMember
from storage.models import utcnow

from .account_mail import send_account_email
from .audit import AuditLog
from .errors import Conflict, Forbidden, InvalidAccount, InvalidRequest, NotFound
from .policy import Actor, Role, Scope
from .settings import Settings

_EMAIL = re.compile(r"^[^@\s<>(),;:\"\[\]\\\x00-\x1f\x7f]+@[\w-]+(\.[\w-]+)+$")
MAX_NAME = 200


@dataclass(frozen=True)
class Invite:
    """A new invitation and its link (shown once: only its hash is stored)."""

    row: InvitationRow
    link: str
    emailed: bool
    email_problem: str | None = None  # why it was not emailed; the owner can pass the link on themselves


@dataclass(frozen=True)
class InvitationView:
    """What the invitation page shows to whoever holds the link."""

    id: str
    workspace_id: str
    workspace_name: str
    role: str
    email: str
    state: str  # valid, expired, used, revoked
    expires_at: datetime
    invited_by: str  # the inviter's name or email; "" when their account is gone


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidRequest(f"'{str(role)[:40]}' is not a role; use one of: {', '.join(r.value for r in Role)}.",
                             code="invalid_role", details={"field": "role"}) from None


def _name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise InvalidRequest(f"A workspace name must have 1 to {MAX_NAME} characters (no control characters).",
                             code="invalid_name",
                             details={"field": "name"})
    return name


class WorkspaceService:
    def __init__(self, accounts: AccountRepository, audit: AuditLog, settings: Settings, smtp: SmtpServer | None,
                 quotas: Any = None):
        self.accounts = accounts
        self.quotas = quotas  # app/quotas.py QuotaService: the plan's member limit
        self.invites = InvitationRepository(accounts.db)
        self.audit = audit
        self.settings = settings
        self.smtp = smtp

    # --- workspaces --------------------------------------------------------------------------------------------

    def list(self, scope: Scope) -> list[WorkspaceRow]:
        """The caller's workspaces, personal first, each with their role and member count."""
        return self.accounts.workspaces_of(scope.user_id)

    def get(self, scope: Scope, workspace_id: str) -> WorkspaceRow:
        self._require(scope, "workspace.read", workspace_id)
        found = [w for w in self.accounts.workspaces_of(scope.user_id) if w.id == workspace_id]
        return found[0] if found else self.accounts.workspace(workspace_id)  # type: ignore[return-value]

    def create(self, scope: Scope, name: str) -> WorkspaceRow:
        """A team workspace with the caller as its only owner."""
        scope.require("workspace.create", what="workspace")
        row = self.accounts.create_workspace(_name(name), scope.user_id)
        self.audit.record(scope.actor, "workspace.created", workspace_id=row.id, target_type="workspace",
                          target_id=row.id, details={"name": row.name})
        return row

    def rename(self, scope: Scope, workspace_id: str, name: str) -> WorkspaceRow:
        before = self._require(scope, "workspace.manage", workspace_id)
        row = self.accounts.update_workspace(workspace_id, name=_name(name))
        self.audit.record(scope.actor, "workspace.renamed", workspace_id=workspace_id, target_type="workspace",
                          target_id=workspace_id, details={"from": before.name, "to": row.name})
        return self.get(scope, workspace_id)

    def delete(self, scope: Scope, workspace_id: str) -> None:
        """The workspace and everything in it: graphs, runs, files, schedules, secrets, share links."""
        row = self._require(scope, "workspace.manage", workspace_id)
        if row.personal_of is not None:
            raise Conflict("A personal workspace cannot be deleted; delete what is in it instead.",
                           code="personal_workspace")
        self.accounts.delete_workspace(workspace_id)
        self.invites.forget_workspace(workspace_id)
        self.audit.record(scope.actor, "workspace.deleted", workspace_id=workspace_id, target_type="workspace",
                          target_id=workspace_id, details={"name": row.name})

    # --- members -----------------------------------------------------------------------------------------------

    def members(self, scope: Scope, workspace_id: str) -> list[MemberRow]:
        """Everyone in the workspace with their role; any member may see who else is in it."""
        self._require(scope, "workspace.read", workspace_id)
        return self.accounts.members(workspace_id)

    def set_role(self, scope: Scope, workspace_id: str, user_id: str, role: str) -> MemberRow:
        self._require(scope, "members.manage", workspace_id)
        new = _role(role)
        try:
            previous = self.invites.change_member(workspace_id, user_id, new.value)
        except NotMember:
            raise NotFound("There is no such member in this workspace.") from None
        except LastOwner:
            raise Conflict("This is the workspace's last owner; make someone else an owner first.",
                           code="last_owner") from None
        member = self._member(workspace_id, user_id)
        if previous != new.value:
            self.audit.record(scope.actor, "member.role_changed", workspace_id=workspace_id, target_type="user",
                              target_id=user_id, details={"email": member.email, "from": previous, "to": new.value})
        return member

    def remove_member(self, scope: Scope, workspace_id: str, user_id: str) -> None:
        """An owner removes a member, or a member leaves (their own user id). The last owner stays."""
        leaving = user_id == scope.user_id
        row = self._require(scope, "workspace.read" if leaving else "members.manage", workspace_id)
        if leaving and row.personal_of == user_id:
            raise Conflict("You cannot leave your personal workspace.", code="personal_workspace")
        member = next((m for m in self.accounts.members(workspace_id) if m.user_id == user_id), None)
        try:
            previous = self.invites.change_member(workspace_id, user_id, None)
        except NotMember:
            raise NotFound("There is no such member in this workspace.") from None
        except LastOwner:
            raise Conflict("This is the workspace's last owner; make someone else an owner first"
                           + (", or delete the workspace." if leaving else "."), code="last_owner") from None
        self.audit.record(scope.actor, "member.removed", workspace_id=workspace_id, target_type="user",
                          target_id=user_id, details={"email": member.email if member else "", "role": previous,
                                                      "left": leaving})

    # --- invitations -------------------------------------------------------------------------------------------

    def invite(self, scope: Scope, workspace_id: str, email: str, role: str) -> Invite:
        """An invitation link for `email` to join with `role`, emailed when SMTP is set up. The link is in the
        answer either way, once: the owner may pass it on themselves."""
        row = self._require(scope, "members.manage", workspace_id)
        email, new = email.strip().lower(), _role(role)
        if row.personal_of is not None:
            raise Conflict("Nobody can be invited into a personal workspace; create a team workspace and invite "
                           "people there.", code="personal_workspace")
        if not _EMAIL.match(email) or len(email) > 320:
            raise InvalidAccount(f"'{email[:100]}' is not an email address.", code="invalid_email",
                                 details={"field": "email"})
        if any(m.email == email for m in self.accounts.members(workspace_id)):
            raise Conflict(f"{email} is already a member of this workspace; change their role instead.",
                           code="already_member")
        if self.quotas is not None:
            self.quotas.check_member(workspace_id, email=email)
        token = secrets.token_urlsafe(32)
        expires = utcnow() + timedelta(days=self.settings.auth.invitation_days)
        invitation, replaced = self.invites.create(workspace_id=workspace_id, email=email, role=new.value,
                                                   token_hash=_hash(token), invited_by=scope.user_id,
                                                   expires_at=expires)
        link = f"{self.settings.notifications.public_url.rstrip('/')}/invite?token={quote(token)}"
        inviter = self.accounts.user(scope.user_id)
        problem = send_account_email(self.smtp, "invitation", inviter.locale if inviter else "es", email,
                                     workspace=row.name, role=new.value, link=link,
                                     inviter=(inviter.name or inviter.email) if inviter and inviter.claimed
                                     else "MindDocs", expires=f"{expires:%Y-%m-%d %H:%M}")
        self.audit.record(scope.actor, "member.invited", workspace_id=workspace_id, target_type="invitation",
                          target_id=invitation.id, details={"email": email, "role": new.value,
                                                            "emailed": problem is None, "replaces": replaced})
        return Invite(invitation, link, problem is None, problem)

    def invitations(self, scope: Scope, workspace_id: str) -> list[InvitationRow]:
        """Invitations not accepted nor revoked, newest first (expired ones too: `state` says)."""
        self._require(scope, "members.manage", workspace_id)
        return self.invites.pending(workspace_id)

    def revoke_invitation(self, scope: Scope, invitation_id: str) -> None:
        """The link stops working at once. Revoking twice is fine; an accepted one is a member to remove."""
        invitation = self.invites.get(invitation_id)
        if invitation is None:
            raise NotFound("There is no such invitation.")
        self._require(scope, "members.manage", invitation.workspace_id, what="invitation")
        if invitation.accepted_at is not None:
            raise Conflict(f"{invitation.email} already accepted this invitation; remove the member instead.",
                           code="invitation_used")
        if self.invites.revoke(invitation_id):
            self.audit.record(scope.actor, "invitation.revoked", workspace_id=invitation.workspace_id,
                              target_type="invitation", target_id=invitation_id,
                              details={"email": invitation.email, "role": invitation.role})

    def invitation(self, token: str) -> InvitationView | None:
        """What an invitation link is for, for whoever holds it; None for a link that never existed."""
        if not token or len(token) > 200:
            return None
        invitation = self.invites.by_token(_hash(token))
        workspace = self.accounts.workspace(invitation.workspace_id) if invitation else None
        if invitation is None or workspace is None:
            return None
        inviter = self.accounts.user(invitation.invited_by) if invitation.invited_by else None
        return InvitationView(invitation.id, workspace.id, workspace.name, invitation.role, invitation.email,
                              invitation.state, invitation.expires_at,
                              (inviter.name or inviter.email) if inviter and inviter.claimed else "")

    def accept_invitation(self, token: str, user_id: str) -> WorkspaceRow:
        """Join the invitation's workspace as the signed-in user `user_id`, whose email must be the invited one."""
        view = self.invitation(token)
        if view is None:
            raise NotFound("This invitation link is not valid; check that the whole link was copied, or ask for a "
                           "new invitation.", code="invitation_invalid")
        user = self.accounts.user(user_id)
        if user is None or not user.is_active:
            raise NotFound("There is no such account.")
        if view.state != "valid":
            raise Conflict({"expired": "This invitation has expired; ask an owner of the workspace for a new one.",
                            "used": "This invitation was already used; an invitation link works once.",
                            "revoked": "This invitation was withdrawn; ask an owner of the workspace for a new one.",
                            }[view.state], code=f"invitation_{view.state}")
        if user.email.casefold() != view.email.casefold():
            raise Forbidden(f"This invitation is for {view.email}, but you are signed in as {user.email}. Sign in "
                            f"with {view.email} (or create an account with it), or ask the owner to invite "
                            f"{user.email}.", code="invitation_other_email",
                            details={"invited": view.email, "signed_in": user.email})
        if self.quotas is not None and view.workspace_id not in self.accounts.roles(user.id):
            self.quotas.check_member(view.workspace_id, accepting=True)
        accepted = self.invites.accept(view.id, user.id)
        if accepted is None:  # used, revoked or expired between the look and the update
            raise Conflict("This invitation is no longer valid; ask an owner of the workspace for a new one.",
                           code="invitation_used")
        role, joined = accepted
        if joined:
            self.audit.record(Actor(user.id, label=user.email), "member.joined", workspace_id=view.workspace_id,
                              target_type="user", target_id=user.id,
                              details={"email": user.email, "role": role, "invitation": view.id})
        return next(w for w in self.accounts.workspaces_of(user.id) if w.id == view.workspace_id)

    # --- helpers -----------------------------------------------------------------------------------------------

    def _require(self, scope: Scope, permission: str, workspace_id: str, *, what: str = "workspace"
                 ) -> WorkspaceRow:
        """The workspace, when the caller may do `permission` there (NotFound for non-members, even the system
        actor asking for a workspace that does not exist)."""
        scope.require(permission, workspace_id, what=what)
        row = self.accounts.workspace(workspace_id)
        if row is None:
            raise NotFound(f"There is no such {what}.")
        return row

    def _member(self, workspace_id: str, user_id: str) -> MemberRow:
        return next(m for m in self.accounts.members(workspace_id) if m.user_id == user_id)
