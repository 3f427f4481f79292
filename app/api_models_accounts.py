"""Request and response bodies of the accounts and workspaces endpoints (app/api_accounts.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RoleName = Literal["owner", "editor", "runner", "viewer"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- responses -----------------------------------------------------------------------------------------------


class UserInfo(_Open):
    id: str
    email: str
    name: str
    is_admin: bool = Field(description="An administrator of this MindDocs (users, reset links)")
    locale: str = Field(description="es or en: the language of the app and of emails")
    has_password: bool = Field(description="False for accounts that sign in only with single sign-on")
    last_login_at: datetime | None
    created_at: datetime


class WorkspaceInfo(_Open):
    id: str
    name: str
    personal: bool = Field(description="The person's own workspace: cannot be deleted or shared")
    role: str | None = Field(description="Your role here: owner, editor, runner or viewer")
    members: int
    plan: str
    created_at: datetime


class Me(BaseModel):
    user: UserInfo
    workspaces: list[WorkspaceInfo] = Field(description="Your workspaces, personal first, with your role")
    workspace_id: str = Field(description="The current workspace: where lists come from and new things go "
                              "(choose another with the X-Workspace header)")


class MemberInfo(_Open):
    user_id: str
    email: str
    name: str
    role: str
    is_active: bool = Field(description="False: the account is disabled")
    since: datetime


class InvitationInfo(_Open):
    id: str
    workspace_id: str
    email: str
    role: str
    state: str = Field(description="valid, expired, used or revoked")
    invited_by: str | None = Field(description="User id of who invited")
    expires_at: datetime
    created_at: datetime


class InvitationCreated(InvitationInfo):
    link: str = Field(description="The invitation link (shown this once): /invite?token=...")
    emailed: bool = Field(description="True when it was emailed; otherwise pass the link on yourself")
    email_problem: str | None = Field(None, description="Why it was not emailed")


class AuditEventInfo(_Open):
    id: int
    at: datetime
    workspace_id: str | None
    actor_id: str | None = Field(description="Who did it; null when not signed in (a failed sign-in)")
    actor_label: str = Field(description="Their email, 'system', or what a visitor tried")
    action: str = Field(description="e.g. member.invited, member.role_changed, auth.sign_in, share_link.created")
    target_type: str
    target_id: str
    ip: str
    details: dict[str, Any]


class Accepted(BaseModel):
    message: str


# --- requests ------------------------------------------------------------------------------------------------


class ProfileUpdate(BaseModel):
    """The fields to change; those left out stay as they are."""

    name: str | None = Field(None, max_length=200)
    locale: Literal["es", "en"] | None = None


class PasswordChange(BaseModel):
    old_password: str = Field(max_length=1024, description="The current password (empty for an account that "
                              "has none yet)")
    new_password: str = Field(max_length=1024)


class WorkspaceCreate(BaseModel):
    name: str = Field(max_length=200, description="e.g. 'Despacho Pérez'")


class WorkspaceUpdate(BaseModel):
    name: str = Field(max_length=200)


class RoleChange(BaseModel):
    role: RoleName


class InvitationCreate(BaseModel):
    email: str = Field(max_length=320, description="Who is invited: they accept with an account of this address")
    role: RoleName = Field(description="owner, editor (build and run), runner (run graphs, see own runs), "
                           "viewer (read only)")


class InvitationAccept(BaseModel):
    token: str = Field(max_length=200, description="The token of the invitation link")


class ResetRequest(BaseModel):
    email: str = Field(max_length=320)


class ResetConfirm(BaseModel):
    token: str = Field(max_length=200, description="The token of the reset link")
    password: str = Field(max_length=1024, description="The new password")
