"""Request and response bodies of the admin area and the usage endpoint (app/api_admin.py)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class MeterInfo(_Open):
    used: float = Field(description="What the workspace uses now (runs this month, MB stored, members)")
    limit: int | None = Field(description="What its plan allows; null: no limit")


class UsageInfo(_Open):
    workspace_id: str
    plan: str
    month_start: datetime = Field(description="Runs are counted from this moment (the 1st of the month, UTC)")
    runs: MeterInfo = Field(description="Runs started this month")
    storage_mb: MeterInfo = Field(description="Files the workspace holds, in MB")
    members: MeterInfo = Field(description="Members and invitations that still work")
    max_file_mb: int | None = Field(description="Largest file accepted; null: no limit but the server's")
    heavy_nodes: bool = Field(description="Whether image and audio node types (the 'media' queue) may run")


class PlanInfo(_Open):
    name: str
    runs_per_month: int | None
    storage_mb: int | None
    max_file_mb: int | None
    heavy_nodes: bool
    members: int | None


class PlanChange(BaseModel):
    plan: str = Field(..., min_length=1, max_length=40, description="One of GET /admin/plans")


class AdminUserInfo(_Open):
    id: str
    email: str
    name: str
    is_admin: bool
    is_active: bool
    has_password: bool
    last_login_at: datetime | None
    created_at: datetime


class AdminUserCreate(BaseModel):
    email: str = Field(..., min_length=3, max_length=320)
    name: str = Field("", max_length=200)
    is_admin: bool = False
    locale: str = Field("es", pattern="^(es|en)$")


class AdminUserCreated(_Open):
    user: AdminUserInfo
    link: str = Field(description="Single-use link with which the person chooses a password; pass it on privately")


class AdminUserUpdate(BaseModel):
    is_active: bool | None = Field(None, description="False: disable the account (its sessions and tokens end)")
    is_admin: bool | None = Field(None, description="Make the account an administrator of this MindDocs, or not")


class ResetLink(_Open):
    link: str = Field(description="Single-use password-reset link; pass it on privately")


class AdminWorkspaceInfo(_Open):
    id: str
    name: str
    personal: bool
    plan: str
    members: int
    storage_mb: float
    created_at: datetime


class QueueInfo(_Open):
    queue: str
    pending: int = Field(description="Node runs waiting for the nodes before them")
    queued: int = Field(description="Node runs sent to the queue, waiting for a worker")
    running: int
    broker_waiting: int | None = Field(description="Messages in the broker not yet fetched by a worker")
    broker_unfinished: int | None = Field(description="Messages in the broker not yet done (waiting, delayed, running)")


class QueuesInfo(_Open):
    broker: str = Field(description="'redis' (separate workers) or 'embedded' (the server's own worker)")
    queues: list[QueueInfo]
    runs: dict[str, int] = Field(description="Runs of the whole instance per state")


class FailedRunInfo(_Open):
    id: str
    workspace_id: str
    workspace_name: str
    graph_name: str
    owner_id: str
    error_code: str | None
    error_message: str | None
    created_at: datetime
    finished_at: datetime | None


class SettingInfo(_Open):
    key: str
    env: str = Field(description="The environment variable that sets it")
    value: str = Field(description="The value in force; secrets are masked")
    secret: bool
