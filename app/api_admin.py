"""REST API of the admin area (/api/v1/admin/..., instance administrators only: 404 for everybody else) and of a
workspace's usage of its plan (docs/admin.md). Thin routes: app/admin.py and app/quotas.py check everything."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response

from storage.accounts import UserRow
from storage.usage import FailedRunRow, WorkspaceUsageRow

from .api import Cursor, Limit, offset_page
from .api_models import RunInfo, errors
from .api_models_admin import (
    AdminUserCreate,
    AdminUserCreated,
    AdminUserInfo,
    AdminUserUpdate,
    AdminWorkspaceInfo,
    FailedRunInfo,
    PlanChange,
    PlanInfo,
    QueuesInfo,
    ResetLink,
    SettingInfo,
    UsageInfo,
)
from .policy import Scope
from .quotas import Usage
from .services import Services
from .web_auth import request_scope


def _signed_in_first(request: Request) -> None:
    """Who is asking, before the body is read: an anonymous request is a 401 whatever it sends."""
    request_scope(request)


router = APIRouter(prefix="/api/v1", dependencies=[Depends(_signed_in_first)])
ADMIN, WORKSPACES = ["admin"], ["workspaces"]


def _ctx(request: Request) -> tuple[Services, Scope]:
    return request.app.state.services, request_scope(request)


def _utc(moment: datetime | None) -> datetime | None:
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


def usage_json(u: Usage) -> dict[str, Any]:
    return {"workspace_id": u.workspace_id, "plan": u.plan, "month_start": _utc(u.month_start),
            "runs": {"used": u.runs.used, "limit": u.runs.limit},
            "storage_mb": {"used": u.storage.used, "limit": u.storage.limit},
            "members": {"used": u.members.used, "limit": u.members.limit},
            "max_file_mb": u.limits.max_file_mb, "heavy_nodes": u.limits.heavy_nodes}


def _user(u: UserRow) -> dict[str, Any]:
    return {"id": u.id, "email": u.email, "name": u.name, "is_admin": u.is_admin, "is_active": u.is_active,
            "has_password": u.password_hash is not None, "last_login_at": _utc(u.last_login_at),
            "created_at": _utc(u.created_at)}


def _workspace(w: WorkspaceUsageRow) -> dict[str, Any]:
    return {"id": w.id, "name": w.name, "personal": w.personal_of is not None, "plan": w.plan, "members": w.members,
            "storage_mb": round(w.storage_bytes / 1024 / 1024, 1), "created_at": _utc(w.created_at)}


def _failed(r: FailedRunRow) -> dict[str, Any]:
    return {**r.__dict__, "created_at": _utc(r.created_at), "finished_at": _utc(r.finished_at)}


# --- a workspace's usage (its owners) ------------------------------------------------------------------------


@router.get("/workspaces/{workspace_id}/usage", response_model=UsageInfo, tags=WORKSPACES,
            responses=errors(401, 403, 404))
def workspace_usage(request: Request, workspace_id: str) -> dict[str, Any]:
    """The workspace's plan, its limits and what it uses of them (owners of the workspace)."""
    svc, scope = _ctx(request)
    return usage_json(svc.quotas.usage_for(scope, workspace_id))


# --- users ---------------------------------------------------------------------------------------------------


@router.get("/admin/users", response_model=list[AdminUserInfo], tags=ADMIN, responses=errors(401, 404))
def list_users(request: Request, response: Response, limit: int | None = Limit,
               cursor: str | None = Cursor) -> list[dict[str, Any]]:
    """Every account of this MindDocs, oldest first."""
    svc, scope = _ctx(request)
    return [_user(u) for u in offset_page(request, response, svc.admin.users(scope), limit or 100, cursor)]


@router.post("/admin/users", status_code=201, response_model=AdminUserCreated, tags=ADMIN,
             responses=errors(401, 404, 422))
def create_user(request: Request, body: AdminUserCreate) -> dict[str, Any]:
    """Create an account without a password; the answer holds the single-use link with which its person chooses
    one (pass it on privately)."""
    svc, scope = _ctx(request)
    new = svc.admin.create_user(scope, body.email, name=body.name, is_admin=body.is_admin, locale=body.locale)
    return {"user": _user(new.user), "link": new.link}


@router.patch("/admin/users/{user_id}", response_model=AdminUserInfo, tags=ADMIN, responses=errors(401, 404, 409))
def update_user(request: Request, user_id: str, body: AdminUserUpdate) -> dict[str, Any]:
    """Disable or enable an account, make it an administrator or not. The last active administrator stays."""
    svc, scope = _ctx(request)
    user = svc.admin.user(scope, user_id)
    if body.is_active is not None:
        user = svc.admin.set_active(scope, user_id, body.is_active)
    if body.is_admin is not None:
        user = svc.admin.set_admin(scope, user_id, body.is_admin)
    return _user(user)


@router.post("/admin/users/{user_id}/reset-link", response_model=ResetLink, tags=ADMIN,
             responses=errors(401, 404, 422))
def reset_link(request: Request, user_id: str) -> dict[str, str]:
    """A single-use password-reset link for the account."""
    svc, scope = _ctx(request)
    return {"link": svc.admin.reset_link(scope, user_id)}


# --- workspaces and plans ------------------------------------------------------------------------------------


@router.get("/admin/workspaces", response_model=list[AdminWorkspaceInfo], tags=ADMIN, responses=errors(401, 404))
def list_workspaces(request: Request, response: Response, limit: int | None = Limit,
                    cursor: str | None = Cursor) -> list[dict[str, Any]]:
    """Every workspace with its plan, members and storage used."""
    svc, scope = _ctx(request)
    return [_workspace(w) for w in offset_page(request, response, svc.admin.workspaces(scope), limit or 100, cursor)]


@router.get("/admin/plans", response_model=list[PlanInfo], tags=ADMIN, responses=errors(401, 404))
def list_plans(request: Request) -> list[dict[str, Any]]:
    """The plans configured (MINDDOCS_PLANS__LIMITS) and their limits; null: no limit."""
    svc, scope = _ctx(request)
    return [{"name": name, **limits.model_dump()} for name, limits in svc.admin.plans(scope).items()]


@router.put("/admin/workspaces/{workspace_id}/plan", response_model=UsageInfo, tags=ADMIN,
            responses=errors(401, 404, 422))
def change_plan(request: Request, workspace_id: str, body: PlanChange) -> dict[str, Any]:
    """Put a workspace on another plan (audited as workspace.plan_changed); the answer is its usage."""
    svc, scope = _ctx(request)
    return usage_json(svc.admin.set_plan(scope, workspace_id, body.plan))


# --- queues, failed runs, settings ---------------------------------------------------------------------------


@router.get("/admin/queues", response_model=QueuesInfo, tags=ADMIN, responses=errors(401, 404))
def queues(request: Request) -> dict[str, Any]:
    """Node runs waiting and running per queue, and the broker's message counts."""
    svc, scope = _ctx(request)
    state = svc.admin.queues(scope)
    names = sorted(set(state.node_runs) | set(state.broker))
    return {"broker": state.broker_kind, "runs": state.runs, "queues": [
        {"queue": q, **{s: state.node_runs.get(q, {}).get(s, 0) for s in ("pending", "queued", "running")},
         "broker_waiting": state.broker.get(q, {}).get("waiting"),
         "broker_unfinished": state.broker.get(q, {}).get("unfinished")} for q in names]}


@router.get("/admin/runs/failed", response_model=list[FailedRunInfo], tags=ADMIN, responses=errors(401, 404))
def failed_runs(request: Request, limit: int = Query(50, ge=1, le=500)) -> list[dict[str, Any]]:
    """The latest failed runs of every workspace, newest first."""
    svc, scope = _ctx(request)
    return [_failed(r) for r in svc.admin.failed_runs(scope, limit)]


@router.get("/admin/runs/{run_id}", response_model=RunInfo, tags=ADMIN, responses=errors(401, 404))
def get_run(request: Request, run_id: str) -> dict[str, Any]:
    """Any run of this MindDocs, read-only."""
    svc, scope = _ctx(request)
    return svc.admin.run(scope, run_id).to_json()


@router.get("/admin/settings", response_model=list[SettingInfo], tags=ADMIN, responses=errors(401, 404))
def settings_overview(request: Request) -> list[dict[str, Any]]:
    """The settings in force, with the variable that sets each; secrets are masked."""
    svc, scope = _ctx(request)
    return [row.__dict__ for row in svc.admin.settings(scope)]
