"""REST API v1: thin routes over the services; errors become `{code, message, details}` in main.py."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, File, Request, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from graph_runtime.formats import graph_json_schema

from .errors import NotFound
from .services import Services

router = APIRouter(prefix="/api/v1")


def services(request: Request) -> Services:
    return request.app.state.services


class RunRequest(BaseModel):
    inputs: dict[str, Any] = Field(default_factory=dict, description="Graph input name -> value or file reference")
    version_id: str | None = Field(None, description="Run this version instead of the latest")


def _graph_json(svc: Services, graph_id: str) -> dict[str, Any]:
    row = svc.graphs.get(graph_id)
    version = svc.graphs.latest(graph_id)
    return {**row.__dict__, "updated_at": row.updated_at.isoformat(), "spec": version.spec,
            "interface": svc.graphs.interface(version.id), "issues": svc.graphs.validate(version.spec)}


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/nodes")
def node_catalogue(request: Request) -> list[dict[str, Any]]:
    return services(request).registry.catalogue()


@router.get("/schema")
def graph_schema() -> dict[str, Any]:
    return graph_json_schema()


@router.post("/graphs/validate")
def validate_graph(request: Request, graph: dict[str, Any] = Body(...)) -> dict[str, Any]:
    issues = services(request).graphs.validate(graph)
    return {"valid": not issues, "issues": issues}


@router.get("/graphs")
def list_graphs(request: Request) -> list[dict[str, Any]]:
    return [{**g.__dict__, "updated_at": g.updated_at.isoformat()} for g in services(request).graphs.list()]


@router.post("/graphs", status_code=201)
def create_graph(request: Request, graph: dict[str, Any] = Body(...)) -> dict[str, Any]:
    svc = services(request)
    version = svc.graphs.save(graph)
    return _graph_json(svc, version.graph_id)


@router.get("/graphs/{graph_id}")
def get_graph(request: Request, graph_id: str) -> dict[str, Any]:
    return _graph_json(services(request), graph_id)


@router.put("/graphs/{graph_id}")
def save_graph_version(request: Request, graph_id: str, graph: dict[str, Any] = Body(...)) -> dict[str, Any]:
    svc = services(request)
    svc.graphs.save(graph, graph_id=graph_id)
    return _graph_json(svc, graph_id)


@router.get("/graphs/{graph_id}/versions")
def graph_versions(request: Request, graph_id: str) -> list[dict[str, Any]]:
    svc = services(request)
    svc.graphs.get(graph_id)
    return [{"id": v.id, "number": v.number, "created_at": v.created_at.isoformat()}
            for v in svc.graphs.repo.versions(graph_id)]


@router.post("/graphs/{graph_id}/runs", status_code=202)
def start_run(request: Request, graph_id: str, body: RunRequest) -> dict[str, Any]:
    svc = services(request)
    version_id = body.version_id or svc.graphs.latest(graph_id).id
    if svc.graphs.version(version_id).graph_id != graph_id:
        raise NotFound(f"Version {version_id} does not belong to graph {graph_id}.")
    run_id = svc.runs.start(version_id, body.inputs)
    return {"run_id": run_id, "url": f"/api/v1/runs/{run_id}"}


@router.get("/runs")
def list_runs(request: Request, limit: int = 50) -> list[dict[str, Any]]:
    return [r.to_json() for r in services(request).runs.list(limit=min(max(limit, 1), 500))]


@router.get("/runs/{run_id}")
def get_run(request: Request, run_id: str) -> dict[str, Any]:
    return services(request).runs.get(run_id).to_json()


@router.post("/runs/{run_id}/cancel")
def cancel_run(request: Request, run_id: str) -> dict[str, Any]:
    svc = services(request)
    cancelled = svc.runs.cancel(run_id)
    return {"cancelled": cancelled, "run": svc.runs.get(run_id).to_json()}


@router.get("/runs/{run_id}/logs")
def run_logs(request: Request, run_id: str) -> list[dict[str, Any]]:
    return services(request).runs.logs(run_id)


@router.post("/artifacts", status_code=201)
def upload_artifact(request: Request, file: UploadFile = File(...)) -> dict[str, Any]:
    ref = services(request).runs.upload(file.file, name=file.filename or "upload", media_type=file.content_type)
    return ref.model_dump()


@router.get("/artifacts/{sha256}")
def download_artifact(request: Request, sha256: str, name: str = "download") -> FileResponse:
    from storage.artifacts import ArtifactMissing, safe_name

    svc = services(request)
    try:
        path = svc.artifacts.path(sha256)
    except ArtifactMissing as exc:
        raise NotFound(str(exc)) from None
    if not path.exists():
        raise NotFound(f"There is no stored file {sha256[:12]}….")
    return FileResponse(path, filename=safe_name(name))
