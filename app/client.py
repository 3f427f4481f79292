"""A small typed client of the MindDocs REST API v1 (httpx).

    from app.client import MindDocsClient

    with MindDocsClient("http://localhost:8080", token=None) as md:
        graph = md.create_graph(json.load(open("contract.json")))
        run_id = md.start_run(graph["id"], inputs={"client_name": "Marta"}, files={"doc": Path("in.pdf")})
        run = md.wait(run_id, on_progress=lambda run: print(run["state"]))
        md.download_output(run_id, "contract", Path("out/contract.docx"))

Every error answer becomes `ApiError` with the server's `code`, `message` and `details`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Self, TypedDict

import httpx

FINISHED = ("succeeded", "failed", "cancelled")

#: A file to send: a path, or (file name, bytes or an open binary file[, media type]).
FileSpec = Path | tuple[str, bytes | IO[bytes]] | tuple[str, bytes | IO[bytes], str]


class ApiError(Exception):
    """An error answer of the API (or no answer at all: code 'unreachable', status 0)."""

    def __init__(self, status: int, code: str, message: str, details: Any = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class FileRef(TypedDict):
    artifact: str
    name: str
    media_type: str
    size: int


class GraphSummary(TypedDict):
    id: str
    name: str
    description: str
    tags: list[str]
    source: str
    owner_id: str
    latest_version_id: str | None
    latest_version: int
    updated_at: str


class Graph(GraphSummary):
    spec: dict[str, Any]
    interface: dict[str, Any]
    issues: list[dict[str, Any]]


class NodeRun(TypedDict):
    node_id: str
    node_type: str
    state: str
    attempts: int
    duration_ms: float | None
    error_code: str | None
    error_message: str | None


class Run(TypedDict):
    id: str
    graph_version_id: str
    state: str
    inputs: dict[str, Any]
    outputs: dict[str, Any] | None
    error_code: str | None
    error_message: str | None
    created_at: str
    finished_at: str | None
    nodes: list[NodeRun]


def is_file_ref(value: Any) -> bool:
    return isinstance(value, dict) and {"artifact", "name", "size"} <= set(value)


class MindDocsClient:
    """The REST API of one MindDocs server. `token`: sent as `Authorization: Bearer <token>` when given."""

    def __init__(self, base_url: str, *, token: str | None = None, timeout_s: float = 60.0,
                 transport: httpx.BaseTransport | None = None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url + "/api/v1", headers=headers, timeout=timeout_s,
                                 transport=transport)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing -------------------------------------------------------------------------------------------
    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            raise ApiError(0, "unreachable", f"Cannot reach the MindDocs server at {self.base_url}: {exc}. Check "
                           "the address and that the server is running.") from None
        if response.is_error:
            raise _error(response)
        return response

    def _json(self, method: str, url: str, **kwargs: Any) -> Any:
        return self._send(method, url, **kwargs).json()

    def _pages(self, url: str, params: dict[str, Any]) -> Iterator[Any]:
        """Every item of a list endpoint, following its `Link: rel="next"` pages."""
        response = self._send("GET", url, params={k: v for k, v in params.items() if v is not None})
        while True:
            yield from response.json()
            following = response.links.get("next", {}).get("url")
            if not following:
                return
            response = self._send("GET", following)

    # --- graphs ---------------------------------------------------------------------------------------------
    def list_graphs(self, *, search: str | None = None, tag: str | None = None, source: str | None = None
                    ) -> list[GraphSummary]:
        return list(self._pages("/graphs", {"search": search, "tag": tag, "source": source, "limit": 200}))

    def get_graph(self, graph_id: str) -> Graph:
        return self._json("GET", f"/graphs/{graph_id}")

    def create_graph(self, spec: Mapping[str, Any], *, source: str = "api") -> Graph:
        return self._json("POST", "/graphs", json=dict(spec), params={"source": source})

    def save_graph(self, graph_id: str, spec: Mapping[str, Any], *, expected_version: int | None = None) -> Graph:
        """A new version; with `expected_version` (the `latest_version` you edited), ApiError 409
        'version_conflict' when someone saved a newer one since."""
        headers = {"If-Match": f'"{expected_version}"'} if expected_version is not None else {}
        return self._json("PUT", f"/graphs/{graph_id}", json=dict(spec), headers=headers)

    def validate(self, spec: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every problem of a graph; empty when it can run."""
        return self._json("POST", "/graphs/validate", json=dict(spec))["issues"]

    def versions(self, graph_id: str) -> list[dict[str, Any]]:
        return list(self._pages(f"/graphs/{graph_id}/versions", {"limit": 500}))

    # --- runs -----------------------------------------------------------------------------------------------
    def start_run(self, graph_id: str, inputs: Mapping[str, Any] | None = None, *,
                  files: Mapping[str, FileSpec] | None = None, version_id: str | None = None,
                  no_cache: bool = False) -> str:
        """Start a run; returns its id. `files`: input name -> file, sent in the same request (multipart;
        the other inputs then go as text: numbers, true/false and JSON are read by their input's kind)."""
        if not files:
            body = {"inputs": dict(inputs or {}), "version_id": version_id, "no_cache": no_cache}
            return self._json("POST", f"/graphs/{graph_id}/runs", json=body)["run_id"]
        params: dict[str, Any] = {"no_cache": no_cache}
        if version_id:
            params["version_id"] = version_id
        data = {name: _as_text(value) for name, value in (inputs or {}).items()}
        opened: list[IO[bytes]] = []
        try:
            parts = {name: _file_part(spec, opened) for name, spec in files.items()}
            return self._json("POST", f"/graphs/{graph_id}/runs", data=data, files=parts, params=params)["run_id"]
        finally:
            for f in opened:
                f.close()

    def get_run(self, run_id: str) -> Run:
        return self._json("GET", f"/runs/{run_id}")

    def list_runs(self, *, graph_id: str | None = None, state: str | None = None, limit: int | None = None
                  ) -> list[Run]:
        """Runs, newest first (every page, or the first `limit`)."""
        runs: list[Run] = []
        for run in self._pages("/runs", {"graph_id": graph_id, "state": state, "limit": min(limit or 500, 500)}):
            runs.append(run)
            if limit is not None and len(runs) >= limit:
                break
        return runs

    def wait(self, run_id: str, *, timeout_s: float = 3600, poll_s: float = 0.5,
             on_progress: Callable[[Run], None] | None = None) -> Run:
        """Poll until the run finishes; `on_progress` sees the run each time. ApiError 'timeout' past
        `timeout_s` (the run goes on: cancel it if you want it stopped)."""
        deadline = time.monotonic() + timeout_s
        while True:
            run = self.get_run(run_id)
            if on_progress is not None:
                on_progress(run)
            if run["state"] in FINISHED:
                return run
            if time.monotonic() >= deadline:
                raise ApiError(0, "timeout", f"Run {run_id} did not finish within {timeout_s:g} s; it is still "
                               f"{run['state']}.", details={"state": run["state"]})
            time.sleep(poll_s)

    def cancel(self, run_id: str) -> bool:
        return self._json("POST", f"/runs/{run_id}/cancel")["cancelled"]

    def rerun(self, run_id: str) -> str:
        return self._json("POST", f"/runs/{run_id}/rerun")["run_id"]

    def resume(self, run_id: str, *, version_id: str | None = None, inputs: Mapping[str, Any] | None = None) -> str:
        body = {"version_id": version_id, "inputs": dict(inputs) if inputs is not None else None}
        return self._json("POST", f"/runs/{run_id}/resume", json=body)["run_id"]

    def logs(self, run_id: str) -> list[dict[str, Any]]:
        return self._json("GET", f"/runs/{run_id}/logs")

    def output(self, run_id: str, name: str) -> Any:
        """An output's value as JSON (a file output is its FileRef: use `download_output` for the bytes)."""
        run = self.get_run(run_id)
        if run["state"] not in FINISHED or name not in (run["outputs"] or {}):
            return self._json("GET", f"/runs/{run_id}/outputs/{name}")  # the server's error says why
        return run["outputs"][name]  # type: ignore[index]

    def download_output(self, run_id: str, name: str, target: Path) -> Path:
        """Write an output to `target`: a file output's bytes, any other output as JSON text."""
        return self._download(f"/runs/{run_id}/outputs/{name}", target)

    # --- files ----------------------------------------------------------------------------------------------
    def upload(self, path: Path, *, media_type: str | None = None) -> FileRef:
        with path.open("rb") as f:
            part = (path.name, f, media_type) if media_type else (path.name, f)
            return self._json("POST", "/artifacts", files={"file": part})

    def download(self, ref: Mapping[str, Any], target: Path) -> Path:
        """Write a stored file (a FileRef from outputs or inputs) to `target`."""
        return self._download(f"/artifacts/{ref['artifact']}", target, params={"name": ref["name"]})

    def _download(self, url: str, target: Path, **kwargs: Any) -> Path:
        try:
            with self.http.stream("GET", url, **kwargs) as response:
                if response.is_error:
                    response.read()
                    raise _error(response)
                target.parent.mkdir(parents=True, exist_ok=True)
                with target.open("wb") as f:
                    for chunk in response.iter_bytes():
                        f.write(chunk)
        except httpx.TransportError as exc:
            raise ApiError(0, "unreachable", f"Cannot reach the MindDocs server at {self.base_url}: {exc}.") from None
        return target


def _error(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("code"), str) and isinstance(body.get("message"), str):
        return ApiError(response.status_code, body["code"], body["message"], body.get("details"))
    return ApiError(response.status_code, f"http_{response.status_code}",
                    f"The server answered {response.status_code} {response.reason_phrase} to "
                    f"{response.request.method} {response.request.url.path}: {response.text[:200]}")


def _as_text(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value)


def _file_part(spec: FileSpec, opened: list[IO[bytes]]) -> tuple[Any, ...]:
    if isinstance(spec, Path):
        f = spec.open("rb")
        opened.append(f)
        return (spec.name, f)
    return tuple(spec)
