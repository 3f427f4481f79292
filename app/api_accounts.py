"""REST API v1 for the signed-in person, workspaces, members, invitations, the audit log and password reset
(docs/accounts.md). Thin routes: app/workspaces.py and app/password_reset.py check every permission."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response

from storage.accounts import MemberRow, UserRow, WorkspaceRow
from storage.audit import AuditRow
from storage.invitations import InvitationRow

from .api import Cursor, Limit, decode_cursor, encode_cursor, offset_page, paginate
from .api_models import errors
from .api_models_accounts import (
    Accepted,
    AuditEventInfo,
    InvitationAccept,
    InvitationCreate,
    InvitationCreated,
    InvitationInfo,
    Me,
    MemberInfo,
    PasswordChange,
    ProfileUpdate,
    ResetConfirm,
    ResetRequest,
    RoleChange,
    WorkspaceCreate,
    WorkspaceInfo,
    WorkspaceUpdate,
)
from .policy import Scope
from .services import Services
from .web_auth import client_ip, request_scope


def _signed_in_first(request: Request) -> None:
    """Every route but the password reset needs a signed-in caller, checked before the body is read: an
    anonymous request is a 401, whatever it sends."""
    request_scope(request)


_signed = APIRouter(dependencies=[Depends(_signed_in_first)])
_public = APIRouter()
ACCOUNTS, WORKSPACES = ["accounts"], ["workspaces"]


def _base(request: Request) -> Services:
    return request.app.state.services


def _signed_in(request: Request) -> tuple[Services, Scope]:
    return _base(request), request_scope(request)


def _utc(moment: datetime | None) -> datetime | None:
    """With its offset (SQLite hands back naive UTC times; the schema promises RFC 3339 date-times)."""
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


def _user(u: UserRow) -> dict[str, Any]:
    return {"id": u.id, "email": u.email, "name": u.name, "is_admin": u.is_admin, "locale": u.locale,
            "has_password": u.password_hash is not None, "last_login_at": _utc(u.last_login_at),
            "created_at": _utc(u.created_at)}


def _workspace(w: WorkspaceRow) -> dict[str, Any]:
    return {"id": w.id, "name": w.name, "personal": w.personal_of is not None, "role": w.role, "members": w.members,
            "plan": w.plan, "created_at": _utc(w.created_at)}


def _member(m: MemberRow) -> dict[str, Any]:
    return {"user_id": m.user_id, "email": m.email, "name": m.name, "role": m.role, "is_active": m.is_active,
            "since": _utc(m.since)}


def _invitation(i: InvitationRow) -> dict[str, Any]:
    return {"id": i.id, "workspace_id": i.workspace_id, "email": i.email, "role": i.role, "state": i.state,
            "invited_by": i.invited_by, "expires_at": _utc(i.expires_at), "created_at": _utc(i.created_at)}


def _event(e: AuditRow) -> dict[str, Any]:
    return {"id": e.id, "at": _utc(e.at), "workspace_id": e.workspace_id, "actor_id": e.actor_id,
            "actor_label": e.actor_label, "action": e.action, "target_type": e.target_type, "target_id": e.target_id,
            "ip": e.ip, "details": e.details}


def _me(svc: Services, scope: Scope) -> dict[str, Any]:
    user = svc.accounts_repo.user(scope.user_id)
    assert user is not None
    return {"user": _user(user), "workspaces": [_workspace(w) for w in svc.workspaces.list(scope)],
            "workspace_id": scope.workspace_id}


# --- the signed-in person ------------------------------------------------------------------------------------


@_signed.get("/me", response_model=Me, tags=ACCOUNTS, responses=errors(401))
def get_me(request: Request) -> dict[str, Any]:
    """Who you are, your workspaces with your role in each, and the current workspace."""
    return _me(*_signed_in(request))


@_signed.patch("/me", response_model=Me, tags=ACCOUNTS, responses=errors(401, 422))
def update_me(request: Request, body: ProfileUpdate) -> dict[str, Any]:
    """Change your name or language."""
    svc, scope = _signed_in(request)
    svc.accounts.update_profile(scope, name=body.name, locale=body.locale)
    return _me(svc, scope)


@_signed.post("/me/password", status_code=204, tags=ACCOUNTS, responses=errors(401, 422))
def change_password(request: Request, body: PasswordChange) -> None:
    """Set a new password. Your sessions (this one too: sign in again) and OAuth2 tokens end; personal API
    tokens keep working."""
    svc, scope = _signed_in(request)
    svc.accounts.change_password(scope, body.old_password, body.new_password)


# --- workspaces ----------------------------------------------------------------------------------------------


@_signed.get("/workspaces", response_model=list[WorkspaceInfo], tags=WORKSPACES, responses=errors(401, 422))
def list_workspaces(request: Request, response: Response, limit: int | None = Limit, cursor: str | None = Cursor
                    ) -> list[dict[str, Any]]:
    """Your workspaces, personal first, then by name."""
    svc, scope = _signed_in(request)
    return [_workspace(w) for w in offset_page(request, response, svc.workspaces.list(scope), limit or 100, cursor)]


@_signed.post("/workspaces", status_code=201, response_model=WorkspaceInfo, tags=WORKSPACES,
             responses=errors(401, 403, 422))
def create_workspace(request: Request, body: WorkspaceCreate) -> dict[str, Any]:
    """A team workspace with you as its owner; invite people into it."""
    svc, scope = _signed_in(request)
    return _workspace(svc.workspaces.create(scope, body.name))


@_signed.patch("/workspaces/{workspace_id}", response_model=WorkspaceInfo, tags=WORKSPACES,
              responses=errors(401, 403, 404, 422))
def rename_workspace(request: Request, workspace_id: str, body: WorkspaceUpdate) -> dict[str, Any]:
    """Rename a workspace (owners)."""
    svc, scope = _signed_in(request)
    return _workspace(svc.workspaces.rename(scope, workspace_id, body.name))


@_signed.delete("/workspaces/{workspace_id}", status_code=204, tags=WORKSPACES, responses=errors(401, 403, 404, 409))
def delete_workspace(request: Request, workspace_id: str) -> None:
    """Delete a team workspace and everything in it: graphs, runs, files, schedules, secrets, share links
    (owners; a personal workspace cannot be deleted)."""
    svc, scope = _signed_in(request)
    svc.lifecycle.delete_workspace(scope, workspace_id)  # files too: app/lifecycle.py


# --- members -------------------------------------------------------------------------------------------------


@_signed.get("/workspaces/{workspace_id}/members", response_model=list[MemberInfo], tags=WORKSPACES,
            responses=errors(401, 404, 422))
def list_members(request: Request, response: Response, workspace_id: str, limit: int | None = Limit,
                 cursor: str | None = Cursor) -> list[dict[str, Any]]:
    """Everyone in the workspace with their role, by email (any member may see them)."""
    svc, scope = _signed_in(request)
    rows = svc.workspaces.members(scope, workspace_id)
    return [_member(m) for m in offset_page(request, response, rows, limit or 100, cursor)]


@_signed.put("/workspaces/{workspace_id}/members/{user_id}", response_model=MemberInfo, tags=WORKSPACES,
            responses=errors(401, 403, 404, 409, 422))
def set_role(request: Request, workspace_id: str, user_id: str, body: RoleChange) -> dict[str, Any]:
    """Change a member's role (owners). People join through invitations; the last owner stays an owner."""
    svc, scope = _signed_in(request)
    return _member(svc.workspaces.set_role(scope, workspace_id, user_id, body.role))


@_signed.delete("/workspaces/{workspace_id}/members/{user_id}", status_code=204, tags=WORKSPACES,
               responses=errors(401, 403, 404, 409))
def remove_member(request: Request, workspace_id: str, user_id: str) -> None:
    """Remove a member (owners), or leave (your own user id). The last owner cannot go."""
    svc, scope = _signed_in(request)
    svc.workspaces.remove_member(scope, workspace_id, user_id)


# --- invitations ---------------------------------------------------------------------------------------------


@_signed.get("/workspaces/{workspace_id}/invitations", response_model=list[InvitationInfo], tags=WORKSPACES,
            responses=errors(401, 403, 404, 422))
def list_invitations(request: Request, response: Response, workspace_id: str, limit: int | None = Limit,
                     cursor: str | None = Cursor) -> list[dict[str, Any]]:
    """Invitations not yet accepted nor revoked, newest first (expired ones too: see `state`)."""
    svc, scope = _signed_in(request)
    rows = svc.workspaces.invitations(scope, workspace_id)
    return [_invitation(i) for i in offset_page(request, response, rows, limit or 100, cursor)]


@_signed.post("/workspaces/{workspace_id}/invitations", status_code=201, response_model=InvitationCreated,
             tags=WORKSPACES, responses=errors(401, 403, 404, 409, 422))
def invite(request: Request, workspace_id: str, body: InvitationCreate) -> dict[str, Any]:
    """Invite an email address with a role (owners). The link is emailed when this server sends email, and is in
    the answer either way, this once."""
    svc, scope = _signed_in(request)
    sent = svc.workspaces.invite(scope, workspace_id, body.email, body.role)
    return {**_invitation(sent.row), "link": sent.link, "emailed": sent.emailed, "email_problem": sent.email_problem}


@_signed.delete("/invitations/{invitation_id}", status_code=204, tags=WORKSPACES, responses=errors(401, 403, 404, 409))
def revoke_invitation(request: Request, invitation_id: str) -> None:
    """Withdraw an invitation: its link stops working at once (owners)."""
    svc, scope = _signed_in(request)
    svc.workspaces.revoke_invitation(scope, invitation_id)


@_signed.post("/invitations/accept", response_model=WorkspaceInfo, tags=WORKSPACES,
             responses=errors(401, 403, 404, 409))
def accept_invitation(request: Request, body: InvitationAccept) -> dict[str, Any]:
    """Join a workspace with an invitation's token; you must be signed in with the invited email address."""
    svc, scope = _signed_in(request)
    scope.require("workspace.create", what="workspace")  # an API token needs the "write" scope
    return _workspace(svc.workspaces.accept_invitation(body.token, scope.user_id))


# --- audit log -----------------------------------------------------------------------------------------------


@_signed.get("/audit", response_model=list[AuditEventInfo], tags=WORKSPACES, responses=errors(401, 403, 404, 422))
def audit_log(request: Request, response: Response,
              workspace_id: str | None = Query(None, max_length=40, description="Default: the current workspace; "
                                               "'*': every event of this MindDocs (administrators)"),
              action: str | None = Query(None, max_length=64, description="An action (member.invited), or a "
                                         "prefix ending in '.' (member.)"),
              actor_id: str | None = Query(None, max_length=40, description="Only what this user did"),
              since: datetime | None = Query(None, description="From this time on (ISO 8601)"),
              until: datetime | None = Query(None, description="Before this time (ISO 8601)"),
              limit: int | None = Limit, cursor: str | None = Cursor) -> list[dict[str, Any]]:
    """Who did what, when and from where in a workspace, newest first (owners)."""
    svc, scope = _signed_in(request)
    before_id = decode_cursor(cursor, ["before"])["before"] if cursor else None
    if before_id is not None and (not isinstance(before_id, int) or not 0 < before_id < 2 ** 62):
        decode_cursor("", ["before"])  # raises invalid_cursor
    limit = limit or 100
    rows = svc.audit.list(scope, workspace_id=workspace_id, actor_id=actor_id, action=action, since=since,
                          until=until, before_id=before_id, limit=limit + 1)
    page = paginate(request, response, rows, limit, lambda: encode_cursor({"before": rows[limit - 1].id}))
    return [_event(e) for e in page]


# --- password reset (public) ---------------------------------------------------------------------------------


@_public.post("/auth/password-reset", status_code=202, response_model=Accepted, tags=ACCOUNTS, responses=errors(422))
def request_password_reset(request: Request, body: ResetRequest) -> dict[str, str]:
    """Email a password-reset link to the address, when it has an account. The answer is the same either way."""
    _base(request).password_reset.request(body.email, ip=client_ip(request))
    return {"message": "If there is an account for this address, a link to choose a new password is on its way. "
                       "It works once and for a limited time."}


@_public.post("/auth/password-reset/confirm", status_code=204, tags=ACCOUNTS, responses=errors(422))
def confirm_password_reset(request: Request, body: ResetConfirm) -> None:
    """Set a new password with the token of a reset link. Every session and OAuth2 token of the account ends."""
    _base(request).password_reset.reset(body.token, body.password, ip=client_ip(request))


router = APIRouter(prefix="/api/v1")
router.include_router(_signed)
router.include_router(_public)
