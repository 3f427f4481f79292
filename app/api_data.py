"""REST API v1 for analytics (docs/analytics.md) and the person's own data: export it, delete it (docs/data.md).
Thin routes: app/analytics.py and app/lifecycle.py check every permission."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from .api_models import errors
from .policy import Scope
from .services import Services
from .web_auth import clear_session_cookie, request_scope


def _signed_in_first(request: Request) -> None:
    """A signed-in caller, checked before the body is read: an anonymous request is a 401, whatever it sends."""
    request_scope(request)


router = APIRouter(prefix="/api/v1", dependencies=[Depends(_signed_in_first)])
ANALYTICS, ACCOUNTS = ["analytics"], ["accounts"]


def _signed_in(request: Request) -> tuple[Services, Scope]:
    return request.app.state.services, request_scope(request)


class Figures(BaseModel, extra="allow"):
    runs: int
    succeeded: int
    failed: int
    cancelled: int
    documents: int = Field(description="Files given as inputs to succeeded runs")
    hours_saved: float = Field(description="Succeeded runs × minutes saved per run ÷ 60")
    success_rate: float | None = Field(description="succeeded ÷ (succeeded + failed); null without finished runs")
    median_duration_s: float | None = Field(description="Median seconds of the succeeded runs")


class DayFigures(Figures):
    day: str = Field(description="YYYY-MM-DD (UTC)")


class GraphFigures(Figures):
    graph_id: str
    name: str
    minutes_per_run: float | None
    hours_saved_per_month: float


class TotalFigures(Figures):
    hours_saved_per_month: float = Field(description="The window's hours saved, brought to 30 days")


class NodeUse(BaseModel):
    node_type: str
    count: int


class AnalyticsReport(BaseModel, extra="allow"):
    workspace_id: str
    graph_id: str | None
    days: int
    since: str
    total: TotalFigures
    per_day: list[DayFigures]
    graphs: list[GraphFigures]
    top_nodes: list[NodeUse]


class TimeSaved(BaseModel):
    minutes_per_run: float | None = Field(description="Minutes of manual work one successful run saves; null: "
                                          "not estimated", ge=0)


class DeleteMe(BaseModel):
    password: str | None = Field(None, max_length=1000, description="Your current password")
    confirm: str | None = Field(None, max_length=320, description="For an account without a password (single "
                                "sign-on): your email address")


@router.get("/analytics", response_model=AnalyticsReport, tags=ANALYTICS, responses={
    **errors(401, 403, 404, 422), 200: {"content": {"text/csv": {}}, "description": "The figures (JSON or CSV)"}})
def analytics(request: Request, graph_id: str | None = Query(None, max_length=64, description="One graph's figures"),
              days: int = Query(30, ge=1, le=366, description="The last this many days, today included"),
              format: Literal["json", "csv"] = Query("json", description="csv: one row per day and graph")) -> Any:
    """Runs per day, success rate, median duration, most used node types, documents processed and time saved,
    of the current workspace (X-Workspace) or one of its graphs."""
    svc, scope = _signed_in(request)
    report = svc.analytics.report(scope, days=days, graph_id=graph_id)
    if format == "csv":
        name = f"minddocs-analytics-{report.since.date().isoformat()}-{days}d.csv"
        return Response(report.to_csv(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return report.to_json()


@router.get("/graphs/{graph_id}/time-saved", response_model=TimeSaved, tags=ANALYTICS,
            responses=errors(401, 403, 404))
def get_time_saved(request: Request, graph_id: str) -> dict[str, Any]:
    """Minutes of manual work one successful run of the graph saves (the ROI estimate)."""
    svc, scope = _signed_in(request)
    return {"minutes_per_run": svc.analytics.minutes_per_run(scope, graph_id)}


@router.put("/graphs/{graph_id}/time-saved", response_model=TimeSaved, tags=ANALYTICS,
            responses=errors(401, 403, 404, 422))
def set_time_saved(request: Request, graph_id: str, body: TimeSaved) -> dict[str, Any]:
    """Set the minutes one successful run saves (owners and editors); null forgets the estimate."""
    svc, scope = _signed_in(request)
    return {"minutes_per_run": svc.analytics.set_minutes_per_run(scope, graph_id, body.minutes_per_run)}


@router.get("/me/export", tags=ACCOUNTS, responses={**errors(401), 200: {
    "content": {"application/zip": {}}, "description": "A ZIP of your data (docs/data.md)"}})
def export_me(request: Request) -> StreamingResponse:
    """Everything MindDocs keeps about you, as a ZIP: account, workspaces, graphs, runs with their output files,
    audit events. Streamed as it is written."""
    svc, scope = _signed_in(request)
    chunks = svc.lifecycle.export_user(scope)
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    return StreamingResponse(chunks, media_type="application/zip",
                             headers={"Content-Disposition": f'attachment; filename="minddocs-data-{stamp}.zip"'})


@router.delete("/me", status_code=204, tags=ACCOUNTS, responses=errors(401, 409, 422))
def delete_me(request: Request, body: DeleteMe) -> Response:
    """Delete your account and your data: your personal workspace with everything in it, your memberships,
    sessions and tokens. Refused (409) while you are the last owner of a team workspace."""
    svc, scope = _signed_in(request)
    svc.lifecycle.delete_user(scope, password=body.password, confirm=body.confirm)
    response = Response(status_code=204)
    clear_session_cookie(response, svc.settings)
    return response
