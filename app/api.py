"""REST API v1: thin routes over the services; errors become `{code, message, details}` in main.py.

Conventions for every endpoint (docs/api.md says the same for users):
- Errors: raise an `AppError` (app/errors.py); the body is `{code, message, details}` (`api_models.ErrorBody`).
  List the error statuses in `responses=errors(404, 409, ...)` so the OpenAPI schema shows them.
- Lists: the body stays a plain JSON array; `?limit=` (1-500) and `?cursor=` page through it, and a
  `Link: <...>; rel="next"` header carries the next page's URL (absent on the last page). Use `paginate()`.
- Bodies: declare `response_model=` with a pydantic model from app/api_models.py (extra fields allowed).
- Tags: the first path segment (graphs, runs, artifacts, secrets, ...) unless a route names its own.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, File, Header, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import UploadFile as FormFile

from graph_runtime.formats import graph_json_schema
from nodes.ports import FileRef

from .api_models import (
    CancelResult,
    GraphDetail,
    GraphSummary,
    Health,
    LogEntry,
    RunInfo,
    RunStarted,
    ValidationResult,
    VersionInfo,
    errors,
)
from .errors import InvalidInputs, InvalidRequest, NotFound, UnsupportedMediaType
from .services import WorkspaceServices
from .web_auth import PUBLIC_ROUTES, request_scope


def _signed_in(request: Request) -> None:
    """Before anything else (even before the request is validated): who is asking. Public routes pass."""
    route = request.scope.get("route")
    if (request.method, getattr(route, "path", "")) not in PUBLIC_ROUTES:
        request_scope(request)


router = APIRouter(prefix="/api/v1", dependencies=[Depends(_signed_in)])

DESCRIPTION = """Document automation graphs: build, validate and run them.

* **Errors** are always `{code, message, details}`: `code` is stable, `message` says what is wrong and how
  to fix it.
* **Lists** are JSON arrays. `?limit=` (1-500) sets the page size; when there are more items, the
  `Link` header holds the next page's URL (`rel="next"`); pass its `cursor` back unchanged.
* **Saving a graph** (`PUT /graphs/{id}`): send `If-Match` with the `ETag` of `GET /graphs/{id}` (the
  version number you edited); when someone saved a newer version since, the answer is 409
  `version_conflict` instead of overwriting their work. Without `If-Match` the save is accepted.
* **Runs** start with JSON inputs or a multipart form (one part per input; files as file parts).
"""

TAGS = [
    {"name": "graphs", "description": "Graphs and their versions: create, save (with If-Match), validate."},
    {"name": "runs", "description": "Start runs, follow them, cancel, rerun or resume them, download outputs."},
    {"name": "artifacts", "description": "Stored files: upload one to use as an input, download one by hash."},
    {"name": "catalogue", "description": "Node types, the graph JSON Schema and the health check."},
    {"name": "schedules", "description": "Run graphs on a timetable (cron) or for each file dropped in a folder."},
]

RunState = Literal["pending", "running", "succeeded", "failed", "cancelled"]
Limit = Query(None, ge=1, le=500, description="Page size (1-500); the Link header gives the next page")
Cursor = Query(None, max_length=500, description="Where the page starts: the cursor of the previous "
               "page's Link header, unchanged")


def services(request: Request) -> WorkspaceServices:
    """The services as the signed-in caller may use them (app/web_auth.py): NotSignedIn (401) otherwise.
    Every route that reaches a service goes through here; public routes are listed in web_auth.PUBLIC_ROUTES."""
    return request.app.state.services.scoped(request_scope(request))


# --- conventions: pagination, ETags ------------------------------------------------------------------------


def encode_cursor(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, keys: Sequence[str]) -> dict[str, Any]:
    """The data of a cursor made by `encode_cursor`; InvalidRequest when it was not (or was changed)."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(data, dict) and set(data) == set(keys):
            return data
    except ValueError:
        pass
    raise InvalidRequest("The cursor is not one this endpoint gave; pass the cursor of the Link header's next URL "
                         "unchanged, or leave it out to start from the first page.", code="invalid_cursor",
                         details={"field": "cursor"})


def paginate(request: Request, response: Response, items: list[Any], limit: int,
             next_cursor: Callable[[], str]) -> list[Any]:
    """The first `limit` of `items` (fetch limit + 1 to know whether more follow); sets `Link: rel="next"`."""
    if len(items) > limit:
        items = items[:limit]
        url = request.url.include_query_params(limit=limit, cursor=next_cursor())
        response.headers["Link"] = f'<{url}>; rel="next"'
    return items


def offset_page(request: Request, response: Response, rows: list[Any], limit: int, cursor: str | None
                ) -> list[Any]:
    start = 0
    if cursor:
        start = decode_cursor(cursor, ["offset"])["offset"]
        if not isinstance(start, int) or start < 0:
            decode_cursor("", ["offset"])  # raises invalid_cursor
    return paginate(request, response, rows[start:start + limit + 1], limit,
                    lambda: encode_cursor({"offset": start + limit}))


def etag(version_number: int) -> str:
    return f'"{version_number}"'


def expected_version(if_match: str | None) -> int | None:
    """The version number in an If-Match header; None when absent or `*` (no check)."""
    if if_match is None or if_match.strip() == "*":
        return None
    tag = if_match.split(",")[0].strip().removeprefix("W/").strip('"')
    if not re.fullmatch(r"[0-9]{1,9}", tag):
        raise InvalidRequest(f"If-Match must be the ETag of GET /api/v1/graphs/{{id}} (a version number in quotes, "
                             f"e.g. \"3\"), not {if_match[:40]!r}.", code="invalid_if_match",
                             details={"field": "If-Match"})
    return int(tag)


# --- request bodies ------------------------------------------------------------------------------------------


class RunRequest(BaseModel):
    inputs: dict[str, Any] = Field(default_factory=dict, description="Graph input name -> value or file reference")
    version_id: str | None = Field(None, description="Run this version instead of the latest")
    no_cache: bool = Field(False, description="Execute every node, even when an earlier result could be reused")
    force: list[str] = Field(default_factory=list, description="Node ids executed even when a result could be reused")


class ResumeRequest(BaseModel):
    version_id: str | None = Field(None, description="Version to run (default: the latest version of the graph)")
    inputs: dict[str, Any] | None = Field(None, description="New input values (default: the run's own)")


def _graph_json(svc: WorkspaceServices, graph_id: str, response: Response | None = None) -> dict[str, Any]:
    row = svc.graphs.get(graph_id)
    version = svc.graphs.latest(graph_id)
    if response is not None:
        response.headers["ETag"] = etag(version.number)
    return {**row.__dict__, "updated_at": row.updated_at.isoformat(), "spec": version.spec,
            "interface": svc.graphs.interface(version.id), "issues": svc.graphs.validate(version.spec)}


# --- catalogue -----------------------------------------------------------------------------------------------


@router.get("/health", response_model=Health, tags=["catalogue"])
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/nodes", tags=["catalogue"])
def node_catalogue(request: Request,
                   lang: str | None = Query(None, pattern=r"^[a-z]{2}$",
                                            description="Texts in this language where translated, e.g. es")
                   ) -> list[dict[str, Any]]:
    """Every installed node type: ports, settings (as JSON Schema), queue and documentation."""
    return services(request).registry.catalogue(lang)


@router.get("/schema", tags=["catalogue"])
def graph_schema() -> dict[str, Any]:
    """The JSON Schema of the graph format."""
    return graph_json_schema()


# --- graphs --------------------------------------------------------------------------------------------------


@router.post("/graphs/validate", response_model=ValidationResult, tags=["graphs"], responses=errors(422))
def validate_graph(request: Request, graph: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """Every problem of a graph (not saved), each with a code, a node, a port and a sentence."""
    issues = services(request).graphs.validate(graph)
    return {"valid": not issues, "issues": issues}


@router.get("/graphs", response_model=list[GraphSummary], tags=["graphs"], responses=errors(422))
def list_graphs(request: Request, response: Response, limit: int | None = Limit, cursor: str | None = Cursor,
                search: str | None = Query(None, max_length=200, description="Text in the name or description"),
                tag: str | None = Query(None, max_length=100, description="Only graphs with this tag"),
                source: str | None = Query(None, max_length=40, description="Only graphs from this source "
                                           "(editor, import, cli, sample, api)")) -> list[dict[str, Any]]:
    """The graphs, most recently changed first."""
    rows = services(request).graphs.list(search=search, tag=tag, source=source)
    page = offset_page(request, response, rows, limit or 100, cursor)
    return [{**g.__dict__, "updated_at": g.updated_at.isoformat()} for g in page]


@router.post("/graphs", status_code=201, response_model=GraphDetail, tags=["graphs"], responses=errors(422))
def create_graph(request: Request, response: Response, graph: dict[str, Any] = Body(...),
                 source: Literal["editor", "api", "cli", "import"] = Query(
                     "editor", description="Where the graph comes from; the CLI's remote mode says 'cli'")
                 ) -> dict[str, Any]:
    """Save a new graph (version 1). Graphs with problems are saved too; `issues` lists them."""
    svc = services(request)
    version = svc.graphs.save(graph, source_kind=source)
    return _graph_json(svc, version.graph_id, response)


@router.get("/graphs/{graph_id}", response_model=GraphDetail, tags=["graphs"], responses=errors(404))
def get_graph(request: Request, response: Response, graph_id: str) -> dict[str, Any]:
    """The newest version of a graph; the ETag header is its version number (send it back in If-Match)."""
    return _graph_json(services(request), graph_id, response)


@router.put("/graphs/{graph_id}", response_model=GraphDetail, tags=["graphs"], responses=errors(404, 409, 422))
def save_graph_version(request: Request, response: Response, graph_id: str, graph: dict[str, Any] = Body(...),
                       if_match: str | None = Header(None, description="The ETag of the version you edited; "
                                                     "409 when a newer version exists. Leave it out to save "
                                                     "without the check")) -> dict[str, Any]:
    """Save a new version (none when the graph is unchanged)."""
    svc = services(request)
    svc.graphs.save(graph, graph_id=graph_id, expected_version=expected_version(if_match))
    return _graph_json(svc, graph_id, response)


@router.get("/graphs/{graph_id}/versions", response_model=list[VersionInfo], tags=["graphs"],
            responses=errors(404, 422))
def graph_versions(request: Request, response: Response, graph_id: str, limit: int | None = Limit,
                   cursor: str | None = Cursor) -> list[dict[str, Any]]:
    """The saved versions, oldest first."""
    svc = services(request)
    svc.graphs.get(graph_id)
    rows = offset_page(request, response, svc.graphs.repo.versions(graph_id), limit or 100, cursor)
    return [{"id": v.id, "number": v.number, "created_at": v.created_at.isoformat()} for v in rows]


# --- runs ----------------------------------------------------------------------------------------------------

_RUN_BODY = {"requestBody": {"required": False, "content": {
    "application/json": {"schema": RunRequest.model_json_schema()},
    "multipart/form-data": {"schema": {
        "type": "object", "description": "One part per graph input: a text value (numbers and true/false as "
        "text, 'json' inputs as JSON) or a file. Options go in the query string.",
        "additionalProperties": {"type": "string", "format": "binary"}}},
}}}


async def _form_request(request: Request) -> tuple[dict[str, str], list[tuple[str, FormFile]], Any]:
    """Text parts and file parts of a multipart body (each input once)."""
    form = await request.form(max_files=100, max_fields=500)
    fields: dict[str, str] = {}
    files: list[tuple[str, FormFile]] = []
    seen: set[str] = set()
    for name, value in form.multi_items():
        if name in seen:
            await form.close()
            raise InvalidInputs(f"Input '{name[:100]}' is given twice; send each input once.",
                                details={name[:100]: "is given twice"})
        seen.add(name)
        if isinstance(value, FormFile):
            files.append((name, value))
        else:
            fields[name] = value
    return fields, files, form


async def _json_request(request: Request) -> RunRequest:
    raw = await request.body()
    try:
        data = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as exc:
        raise RequestValidationError([{"loc": ("body",), "msg": f"The body is not valid JSON: {exc.msg} at "
                                       f"character {exc.pos}.", "type": "json_invalid"}]) from None
    except UnicodeDecodeError:
        raise RequestValidationError([{"loc": ("body",), "msg": "The body is not JSON text (UTF-8).",
                                       "type": "json_invalid"}]) from None
    try:
        return RunRequest.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None


@router.post("/graphs/{graph_id}/runs", status_code=202, response_model=RunStarted, tags=["runs"],
             responses=errors(402, 404, 413, 415, 422), openapi_extra=_RUN_BODY)
async def start_run(request: Request, graph_id: str,
                    version_id: str | None = Query(None, description="Multipart: run this version, not the latest"),
                    no_cache: bool = Query(False, description="Multipart: execute every node"),
                    force: list[str] = Query([], description="Multipart: node ids always executed")
                    ) -> dict[str, Any]:
    """Start a run with JSON (`{"inputs": {...}}`) or a multipart form: one part per input, files as file parts.
    The run goes on in the background: follow it at `url`."""
    svc = services(request)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        fields, files, form = await _form_request(request)
        try:
            body = RunRequest(version_id=version_id, no_cache=no_cache, force=force)
            return await run_in_threadpool(_start, svc, graph_id, body, fields, files)
        finally:
            await form.close()
    if media_type and media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(f"A run starts with a JSON body (application/json) or a form "
                                   f"(multipart/form-data), not {media_type[:80]}.")
    body = await _json_request(request)
    body.version_id = body.version_id or version_id
    body.no_cache = body.no_cache or no_cache
    body.force = body.force or force
    return await run_in_threadpool(_start, svc, graph_id, body, {}, [])


def _start(svc: WorkspaceServices, graph_id: str, body: RunRequest, fields: dict[str, str],
           files: list[tuple[str, FormFile]]) -> dict[str, Any]:
    version_id = body.version_id or svc.graphs.latest(graph_id).id
    if svc.graphs.version(version_id).graph_id != graph_id:
        raise NotFound(f"Version {version_id} does not belong to graph {graph_id}.")
    inputs = {**body.inputs, **svc.runs.text_inputs(version_id, fields)}
    for name, upload in files:
        inputs[name] = svc.runs.upload(upload.file, name=upload.filename or name,
                                       media_type=upload.content_type).model_dump()
    run_id = svc.runs.start(version_id, inputs, no_cache=body.no_cache, force=body.force)
    return {"run_id": run_id, "url": f"/api/v1/runs/{run_id}"}


@router.get("/runs", response_model=list[RunInfo], tags=["runs"], responses=errors(404, 422))
def list_runs(request: Request, response: Response, limit: int | None = Limit, cursor: str | None = Cursor,
              graph_id: str | None = Query(None, max_length=64, description="Only runs of this graph"),
              state: RunState | None = Query(None, description="Only runs in this state")) -> list[dict[str, Any]]:
    """Runs, newest first, without their node runs (GET /runs/{id} has them)."""
    limit = limit or 50
    after = None
    if cursor:
        data = decode_cursor(cursor, ["created_at", "id"])
        try:
            after = (datetime.fromisoformat(data["created_at"]), str(data["id"]))
        except (TypeError, ValueError):
            decode_cursor("", ["created_at", "id"])  # raises invalid_cursor
    rows = services(request).runs.list(limit=limit + 1, graph_id=graph_id, state=state, after=after)
    last = rows[limit - 1] if len(rows) > limit else None
    page = paginate(request, response, rows, limit,
                    lambda: encode_cursor({"created_at": last.created_at.isoformat(), "id": last.id}))
    return [r.to_json() for r in page]


@router.get("/runs/{run_id}", response_model=RunInfo, tags=["runs"], responses=errors(404))
def get_run(request: Request, run_id: str) -> dict[str, Any]:
    """A run with its state, outputs (once finished) and node runs."""
    return services(request).runs.get(run_id).to_json()


@router.get("/runs/{run_id}/outputs/{name}", tags=["runs"], response_model=None, responses={
    200: {"description": "A file output as the file itself (its own media type); any other output as JSON",
          "content": {"application/json": {"schema": {}},
                      "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
    **errors(404, 409)})
def run_output(request: Request, run_id: str, name: str) -> Response:
    """One output of a finished run: a file is streamed (download), anything else is returned as JSON."""
    from storage.artifacts import ArtifactMissing, safe_name

    svc = services(request)
    value = svc.runs.output(run_id, name)
    if isinstance(value, dict) and set(value) >= {"artifact", "name", "size"}:
        ref = FileRef.model_validate(value)
        try:
            path = svc.artifacts.path(ref)
        except ArtifactMissing as exc:
            raise NotFound(str(exc)) from None
        if not path.exists():
            raise NotFound(f"The stored file of output '{name}' ({ref.artifact[:12]}…) is missing.")
        return FileResponse(path, filename=safe_name(ref.name), media_type=ref.media_type)
    return JSONResponse(value)


@router.post("/runs/{run_id}/cancel", response_model=CancelResult, tags=["runs"], responses=errors(404))
def cancel_run(request: Request, run_id: str) -> dict[str, Any]:
    """Stop a run: nodes not started yet will not start. `cancelled` is false when it had already finished."""
    svc = services(request)
    cancelled = svc.runs.cancel(run_id)
    return {"cancelled": cancelled, "run": svc.runs.get(run_id).to_json()}


@router.post("/runs/{run_id}/rerun", status_code=202, response_model=RunStarted, tags=["runs"],
             responses=errors(402, 404, 422))
def rerun(request: Request, run_id: str) -> dict[str, Any]:
    """Run the same graph version again with the same inputs; every node executes again."""
    new_id = services(request).runs.rerun(run_id)
    return {"run_id": new_id, "url": f"/api/v1/runs/{new_id}"}


@router.post("/runs/{run_id}/resume", status_code=202, response_model=RunStarted, tags=["runs"],
             responses=errors(402, 404, 422))
def resume(request: Request, run_id: str, body: ResumeRequest | None = None) -> dict[str, Any]:
    """A new run that reuses the unchanged node results of this one: for a failed run after a fix."""
    body = body or ResumeRequest()
    new_id = services(request).runs.resume(run_id, version_id=body.version_id, inputs=body.inputs)
    return {"run_id": new_id, "url": f"/api/v1/runs/{new_id}"}


@router.get("/runs/{run_id}/logs", response_model=list[LogEntry], tags=["runs"], responses=errors(404))
def run_logs(request: Request, run_id: str) -> list[dict[str, Any]]:
    """The run's log lines, oldest first."""
    return services(request).runs.logs(run_id)


# --- artifacts -----------------------------------------------------------------------------------------------


@router.post("/artifacts", status_code=201, response_model=FileRef, tags=["artifacts"], responses=errors(402, 413, 422))
def upload_artifact(request: Request, file: UploadFile = File(...)) -> dict[str, Any]:
    """Store a file; the answer is the reference to give as a file input's value."""
    ref = services(request).runs.upload(file.file, name=file.filename or "upload", media_type=file.content_type)
    return ref.model_dump()


@router.get("/artifacts/{sha256}", tags=["artifacts"], response_model=None, responses={
    200: {"description": "The file", "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                          "format": "binary"}}}},
    **errors(404)})
def download_artifact(request: Request, sha256: str, name: str = "download") -> FileResponse:
    """A stored file by its sha256, saved under `name`."""
    from storage.artifacts import ArtifactMissing, safe_name

    svc = services(request)
    if not svc.artifacts.granted(svc.scope.workspace_id, sha256):
        raise NotFound(f"There is no stored file {sha256[:12]}… in this workspace.")
    svc.scope.require("artifact.read", what="file")
    try:
        path = svc.artifacts.path(sha256)
    except ArtifactMissing as exc:
        raise NotFound(str(exc)) from None
    if not path.exists():
        raise NotFound(f"There is no stored file {sha256[:12]}….")
    return FileResponse(path, filename=safe_name(name))


class SecretCreate(BaseModel):
    name: str = Field(description="1-100 letters, digits, '_', '.' or '-', e.g. openai_key")
    value: str = Field(description="The key or password; stored encrypted and never returned")
    description: str = ""


class SecretUpdate(BaseModel):
    value: str = Field(description="The new value; stored encrypted and never returned")
    description: str | None = Field(None, description="A new description; omitted: unchanged")


@router.get("/secrets")
def list_secrets(request: Request) -> list[dict[str, Any]]:
    """Names, descriptions and dates of the stored secrets; never their values."""
    return [row.to_json() for row in services(request).secrets.list()]


@router.post("/secrets", status_code=201)
def create_secret(request: Request, body: SecretCreate) -> dict[str, Any]:
    return services(request).secrets.create(body.name, body.value, body.description).to_json()


@router.put("/secrets/{name}")
def replace_secret(request: Request, name: str, body: SecretUpdate) -> dict[str, Any]:
    return services(request).secrets.replace(name, body.value, body.description).to_json()


@router.delete("/secrets/{name}", status_code=204)
def delete_secret(request: Request, name: str) -> None:
    services(request).secrets.delete(name)


# --- webhooks, inbound hooks and notifications (routes in app/api_hooks.py) ----------------------------------

from .api_hooks import router as _hooks_router

router.include_router(_hooks_router)


# --- schedules and watched folders (routes in app/api_schedules.py) ------------------------------------------

from .api_schedules import router as _schedules_router

router.include_router(_schedules_router)
