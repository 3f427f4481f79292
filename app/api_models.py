"""Response bodies of REST API v1, so that the OpenAPI schema describes what the endpoints really return.

Models allow extra fields: a field added to a row later still reaches clients (and the schema says so).
Times are ISO 8601 strings, as the rows' `to_json` writes them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorBody(BaseModel):
    """Every error: a machine-readable code, a sentence for people, and details (a list, an object or null)."""

    code: str = Field(description="Stable machine-readable kind, e.g. not_found, invalid_graph, version_conflict")
    message: str = Field(description="What is wrong and how to fix it, in one or two sentences")
    details: Any = Field(None, description="Per-field or per-node problems; shape depends on the code")


class Issue(_Open):
    code: str
    message: str
    node_id: str | None = None
    port: str | None = None


class InputDecl(_Open):
    name: str
    kind: str
    default: Any = None
    label: str
    help: str = ""
    required: bool
    node_id: str


class Interface(BaseModel):
    inputs: list[InputDecl]
    outputs: list[str]


class GraphSummary(_Open):
    id: str
    name: str
    description: str
    tags: list[str]
    source: str = Field(description="Where the graph came from: editor, import, cli, sample, api")
    owner_id: str
    latest_version_id: str | None
    latest_version: int = Field(description="Number of the newest version; also the ETag of GET /graphs/{id}")
    updated_at: str


class GraphDetail(GraphSummary):
    spec: dict[str, Any] = Field(description="The graph JSON of the newest version (see GET /schema)")
    interface: Interface
    issues: list[Issue] = Field(description="Problems that stop the graph from running; empty when it can run")


class ValidationResult(BaseModel):
    valid: bool
    issues: list[Issue]


class VersionInfo(_Open):
    id: str
    number: int
    created_at: str


class NodeRunInfo(_Open):
    node_id: str
    node_type: str
    state: str
    attempts: int
    queued_at: str | None
    started_at: str | None
    finished_at: str | None
    duration_ms: float | None
    error_code: str | None
    error_message: str | None
    item: int | None = None
    reused: str | None = None


class RunInfo(_Open):
    id: str
    graph_version_id: str
    owner_id: str
    state: str = Field(description="pending, running, succeeded, failed or cancelled")
    inputs: dict[str, Any]
    outputs: dict[str, Any] | None = Field(description="Output name -> value; a file is {artifact, name, "
                                           "media_type, size}. Null until the run has finished")
    error_code: str | None
    error_message: str | None
    executor: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    nodes: list[NodeRunInfo] = Field(description="Node runs; empty in lists (GET /runs)")
    options: dict[str, Any] = Field(default_factory=dict)


class RunStarted(BaseModel):
    run_id: str
    url: str = Field(description="Where to follow the run")


class CancelResult(BaseModel):
    cancelled: bool = Field(description="False when the run had already finished")
    run: RunInfo


class LogEntry(_Open):
    at: str
    node_id: str | None
    level: str
    message: str


class Health(BaseModel):
    status: str


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, all with the ErrorBody shape."""
    text = {400: "Bad request", 402: "A limit of the workspace's plan is reached", 404: "Not found", 409: "Conflict",
            413: "Too large", 415: "Unsupported media type", 422: "Invalid request or data", 428: "Precondition required"}
    return {status: {"model": ErrorBody, "description": text.get(status, "Error")} for status in statuses}
