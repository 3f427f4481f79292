"""REST API v1 for schedules and watched folders; included by app/api.py. See docs/schedules.md."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from .api_models import errors
from .services import WorkspaceServices

router = APIRouter(tags=["schedules"])  # mounted under /api/v1 by app/api.py


def _svc(request: Request) -> WorkspaceServices:
    from .api import services  # app/api.py includes this router at its end

    return services(request)  # the signed-in caller's view


class ScheduleCreate(BaseModel):
    name: str = Field(description="What people see, e.g. 'Informe diario'")
    graph_id: str = Field(description="The graph to run")
    graph_version_id: str | None = Field(None, description="Pin this version; omitted: each fire runs the "
                                         "graph's latest version")
    inputs: dict[str, Any] = Field(default_factory=dict, description="Input values given to every run")
    cron: str = Field("", description="minute hour day-of-month month day-of-week, e.g. '0 8 * * 1-5' (weekdays "
                      "at 8:00); empty for a watched folder")
    timezone: str = Field("UTC", description="IANA time zone of the cron times, e.g. 'Europe/Madrid'")
    start_at: datetime | None = Field(None, description="No tick before this (without an offset: in `timezone`)")
    end_at: datetime | None = Field(None, description="No tick after this (without an offset: in `timezone`)")
    paused: bool = False
    misfire: Literal["skip", "catch_up_one"] = Field("skip", description="Ticks missed while no scheduler ran: "
                                                     "'skip' them, or 'catch_up_one' (one run for all of them)")
    watch_dir: str | None = Field(None, description="A folder (inside MINDDOCS_SCHEDULER__WATCH_ROOTS; relative: "
                                  "inside the first root) whose new files start one run each")
    watch_input: str | None = Field(None, description="The graph's file input that receives each file")


class ScheduleUpdate(BaseModel):
    """The fields to change; those left out stay as they are."""

    name: str | None = None
    graph_id: str | None = None
    graph_version_id: str | None = None
    inputs: dict[str, Any] | None = None
    cron: str | None = None
    timezone: str | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    paused: bool | None = None
    misfire: Literal["skip", "catch_up_one"] | None = None
    watch_dir: str | None = None
    watch_input: str | None = None


class ScheduleInfo(BaseModel, extra="allow"):
    id: str
    name: str
    graph_id: str
    graph_version_id: str | None
    inputs: dict[str, Any]
    cron: str
    timezone: str
    start_at: str | None
    end_at: str | None
    paused: bool
    misfire: str
    watch_dir: str | None
    watch_input: str | None
    state: str = Field(description="active, paused, watching (a folder) or ended (no tick left)")
    next_fire_at: str | None
    last_run_id: str | None
    last_fire_at: str | None
    last_error: str | None = Field(description="Why the last fire could not start its run; null when it did")


class FireInfo(BaseModel):
    id: int
    fire_at: str
    kind: str = Field(description="cron, manual (run now) or file (watched folder)")
    key: str = Field(description="The file name for a watched folder's fire")
    run_id: str | None
    error: str | None
    created_at: str


class Preview(BaseModel):
    cron: str
    timezone: str
    description: str
    times: list[str]


@router.get("/schedules", response_model=list[ScheduleInfo], responses=errors(422))
def list_schedules(request: Request, response: Response,
                   limit: int | None = Query(None, ge=1, le=500, description="Page size (1-500)"),
                   cursor: str | None = Query(None, max_length=500, description="The Link header's cursor")
                   ) -> list[dict[str, Any]]:
    """The schedules and watched folders, by name."""
    from .api import offset_page

    svc = _svc(request)
    page = offset_page(request, response, svc.schedules.list(), limit or 100, cursor)
    return [svc.schedules.to_json(row) for row in page]


@router.post("/schedules", status_code=201, response_model=ScheduleInfo, responses=errors(404, 422))
def create_schedule(request: Request, body: ScheduleCreate) -> dict[str, Any]:
    """A new schedule: a cron timetable, or a watched folder (`watch_dir` and `watch_input`, no `cron`)."""
    svc = _svc(request)
    return svc.schedules.to_json(svc.schedules.create(body.model_dump()))


@router.get("/schedules/preview", response_model=Preview, responses=errors(422))
def preview(request: Request, cron: str = Query(..., max_length=200), timezone: str = Query("UTC", max_length=64),
            count: int = Query(5, ge=1, le=50), lang: Literal["en", "es"] = "en") -> dict[str, Any]:
    """A timetable in words and its next fire times, before saving it."""
    from .cron import describe, parse_cron

    cron = parse_cron(cron)
    times = _svc(request).schedules.preview(cron, timezone, count)
    return {"cron": cron, "timezone": timezone, "description": describe(cron, lang),
            "times": [t.isoformat() for t in times]}


@router.get("/schedules/{schedule_id}", response_model=ScheduleInfo, responses=errors(404))
def get_schedule(request: Request, schedule_id: str) -> dict[str, Any]:
    svc = _svc(request)
    return svc.schedules.to_json(svc.schedules.get(schedule_id))


@router.patch("/schedules/{schedule_id}", response_model=ScheduleInfo, responses=errors(404, 422))
def update_schedule(request: Request, schedule_id: str, body: ScheduleUpdate) -> dict[str, Any]:
    """Change the fields given. A changed timetable counts from now: ticks already past are not caught up."""
    svc = _svc(request)
    return svc.schedules.to_json(svc.schedules.update(schedule_id, body.model_dump(exclude_unset=True)))


@router.delete("/schedules/{schedule_id}", status_code=204, responses=errors(404))
def delete_schedule(request: Request, schedule_id: str) -> None:
    """Delete the schedule and its fire history; the runs it started stay."""
    _svc(request).schedules.delete(schedule_id)


@router.post("/schedules/{schedule_id}/pause", response_model=ScheduleInfo, responses=errors(404))
def pause_schedule(request: Request, schedule_id: str) -> dict[str, Any]:
    svc = _svc(request)
    return svc.schedules.to_json(svc.schedules.pause(schedule_id))


@router.post("/schedules/{schedule_id}/resume", response_model=ScheduleInfo, responses=errors(404))
def resume_schedule(request: Request, schedule_id: str) -> dict[str, Any]:
    """Fire again from now on; ticks that passed while paused are not caught up."""
    svc = _svc(request)
    return svc.schedules.to_json(svc.schedules.resume(schedule_id))


@router.post("/schedules/{schedule_id}/run", status_code=202, responses=errors(404, 422))
def run_schedule_now(request: Request, schedule_id: str) -> dict[str, Any]:
    """Start one run now with the schedule's inputs, besides its timetable."""
    run_id = _svc(request).schedules.run_now(schedule_id)
    return {"run_id": run_id, "url": f"/api/v1/runs/{run_id}"}


@router.get("/schedules/{schedule_id}/next", response_model=list[str], responses=errors(404))
def next_fires(request: Request, schedule_id: str, count: int = Query(5, ge=1, le=50)) -> list[str]:
    """The next fire times (UTC, ISO 8601); empty when paused, ended or a watched folder."""
    return [t.isoformat() for t in _svc(request).schedules.next_fires(schedule_id, count)]


@router.get("/schedules/{schedule_id}/fires", response_model=list[FireInfo], responses=errors(404))
def schedule_fires(request: Request, schedule_id: str, limit: int = Query(20, ge=1, le=500)) -> list[dict[str, Any]]:
    """The latest fires, newest first: which run each started, or why it could not."""
    return [f.to_json() for f in _svc(request).schedules.fires(schedule_id, limit)]
