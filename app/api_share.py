"""REST API v1 for share links (docs/share-links.md), and the frame-ancestors header of the public pages.

Editors: `GET/POST /graphs/{graph_id}/share-links`, `DELETE /share-links/{id}` (signed in, share.read/write).
Anyone holding a link (no account; listed in app/web_auth.py PUBLIC_ROUTES): `GET /public/share/{token}`,
`POST /public/share/{token}/runs`, `GET /public/share/{token}/runs/{run_id}?secret=`,
`GET /public/share/{token}/runs/{run_id}/outputs/{name}?secret=`. A password-protected link takes its
password in the `X-Share-Password` header.

`install(app)` (one line in create_app) adds the routes and `FramePolicy`, a small ASGI middleware: NiceGUI
serves /s/{token} and /embed/{token}, so their Content-Security-Policy cannot be set per route; the middleware
matches those two paths only and adds the header to whatever NiceGUI answers.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.datastructures import MutableHeaders
from starlette.datastructures import UploadFile as FormFile
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .api import _form_request, _json_request
from .api_models import errors
from .errors import InvalidInputs, NotFound, TooLarge, UnsupportedMediaType
from .share_links import FILE_KINDS, ShareLinkService
from .share_models import Upload, frame_ancestors
from .web_auth import client_ip, request_scope

router = APIRouter(prefix="/api/v1")
PASSWORD_HEADER = "X-Share-Password"
_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _share(request: Request) -> ShareLinkService:
    return request.app.state.services.share_links


class ShareLinkCreate(BaseModel):
    name: str = Field("", max_length=200, description="Shown as the form's title; default: the graph's name")
    version_id: str | None = Field(None, description="The graph version to run; default: the latest")
    expires_at: datetime | None = Field(None, description="When the link stops working (ISO 8601); none: never")
    max_runs: int | None = Field(None, ge=1, le=1_000_000, description="How many runs it allows; none: no limit")
    password: str | None = Field(None, max_length=200, description="Visitors must enter it (6+ characters)")
    show_outputs: bool = Field(True, description="Show the results to the visitor; false: only the owner gets them")
    allowed_origins: list[str] = Field(default_factory=list, description="Sites that may embed /embed/{token} in "
                                       "an <iframe>, e.g. https://www.example.com; empty: no site may")


class ShareLinkOut(BaseModel, extra="allow"):
    id: str
    name: str
    graph_version_id: str
    state: str = Field(description="active, revoked, expired or used_up")
    url: str | None = Field(description="The public page; null when the secrets key changed since it was made")
    embed_url: str | None
    embed_html: str | None


class PublicFormOut(BaseModel, extra="allow"):
    title: str
    needs_password: bool = Field(description="Send the password in the X-Share-Password header to get the inputs")
    show_outputs: bool
    max_upload_mb: int
    inputs: list[dict[str, Any]]


class SubmittedOut(BaseModel):
    run_id: str
    secret: str = Field(description="Shown once: it alone lets you follow this run and download its results")
    status_url: str


class SubmissionOut(BaseModel, extra="allow"):
    run_id: str
    state: str
    finished: bool
    progress: dict[str, int]
    delivered_to_owner_only: bool
    error: str | None
    outputs: list[dict[str, Any]] | None


# --- editors -------------------------------------------------------------------------------------------------


@router.get("/graphs/{graph_id}/share-links", response_model=list[ShareLinkOut], tags=["share-links"],
            responses=errors(401, 403, 404))
def list_share_links(request: Request, graph_id: str) -> list[dict[str, Any]]:
    """The share links of every version of a graph, newest first, with their addresses."""
    return [view.to_json() for view in _share(request).list(request_scope(request), graph_id)]


@router.post("/graphs/{graph_id}/share-links", status_code=201, response_model=ShareLinkOut, tags=["share-links"],
             responses=errors(401, 403, 404, 422))
def create_share_link(request: Request, graph_id: str, body: ShareLinkCreate) -> dict[str, Any]:
    """A link that lets people without an account run this graph version through a form."""
    view = _share(request).create(request_scope(request), graph_id, **body.model_dump())
    return view.to_json()


@router.delete("/share-links/{link_id}", status_code=204, tags=["share-links"], responses=errors(401, 403, 404))
def revoke_share_link(request: Request, link_id: str) -> None:
    """Turn a link off at once: its page, form and results answer 410 from now on."""
    _share(request).revoke(request_scope(request), link_id)


# --- anyone holding a link -----------------------------------------------------------------------------------


@router.get("/public/share/{token}", response_model=PublicFormOut, tags=["share-links"],
            responses=errors(401, 404, 410, 429))
def public_form(request: Request, response: Response, token: str,
                password: str | None = Header(None, alias=PASSWORD_HEADER)) -> dict[str, Any]:
    """The form of a link: its title and inputs (with the password, when the link has one)."""
    response.headers.update(_NO_STORE)
    return _share(request).form(token, password=password, ip=client_ip(request)).to_json()


@router.post("/public/share/{token}/runs", status_code=202, response_model=SubmittedOut, tags=["share-links"],
             responses=errors(401, 404, 410, 413, 415, 422, 429))
async def public_submit(request: Request, response: Response, token: str,
                        password: str | None = Header(None, alias=PASSWORD_HEADER)) -> dict[str, Any]:
    """Run the link's graph: a JSON object `{"inputs": {...}}` or a multipart form (text parts and file parts,
    named like the inputs). Files only as file parts. Keep the answer's `secret`: it alone shows the results."""
    share, ip = _share(request), client_ip(request)
    row = await run_in_threadpool(share.admit, token, password=password, ip=ip)  # before reading any body
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        inputs = await run_in_threadpool(share.inputs, row)
        files = max(1, sum(d["kind"] in FILE_KINDS for d in inputs))
        most = share.settings.storage.max_upload_mb * 1024 * 1024 * files + 1024 * 1024
        if int(request.headers.get("content-length") or 0) > most:
            raise TooLarge(f"The form is larger than this link accepts ({share.settings.storage.max_upload_mb} MB "
                           "per file); send smaller files.")
        fields, parts, form = await _form_request(request)
        try:
            uploads = [Upload(name, part.file, part.filename or name, part.content_type)
                       for name, part in parts if isinstance(part, FormFile)]
            submitted = await run_in_threadpool(share.start, row, text_fields=fields, uploads=uploads, ip=ip)
        finally:
            await form.close()
    elif not media_type or media_type == "application/json" or media_type.endswith("+json"):
        body = await _json_request(request)
        if body.version_id or body.force or body.no_cache:
            raise InvalidInputs("A share link runs the version its owner chose; send only `inputs`.",
                                details={"body": "only 'inputs' is accepted"})
        submitted = await run_in_threadpool(share.start, row, values=body.inputs, ip=ip)
    else:
        raise UnsupportedMediaType(f"Send the form as JSON (application/json) or multipart/form-data, not "
                                   f"{media_type[:80]}.")
    response.headers.update(_NO_STORE)
    return {"run_id": submitted.run_id, "secret": submitted.secret,
            "status_url": f"/api/v1/public/share/{token}/runs/{submitted.run_id}?secret={submitted.secret}"}


@router.get("/public/share/{token}/runs/{run_id}", response_model=SubmissionOut, tags=["share-links"],
            responses=errors(404, 410))
def public_run(request: Request, response: Response, token: str, run_id: str,
               secret: str = Query(..., max_length=200, description="The secret the submission answered with")
               ) -> dict[str, Any]:
    """Your submission: state, progress and (when the link shows them) the outputs, with download addresses."""
    response.headers.update(_NO_STORE)
    data = _share(request).status(token, run_id, secret).to_json()
    for output in data["outputs"] or []:
        for item in ([output.get("file")] if output["kind"] == "file" else output.get("files", [])):
            index = "" if item["index"] is None else f"&index={item['index']}"
            item["url"] = f"/api/v1/public/share/{token}/runs/{run_id}/outputs/{output['name']}?secret={secret}{index}"
    return data


@router.get("/public/share/{token}/runs/{run_id}/outputs/{name}", tags=["share-links"], response_model=None,
            responses={200: {"description": "A file output as the file itself; any other output as JSON"},
                       **errors(403, 404, 410)})
def public_output(request: Request, token: str, run_id: str, name: str,
                  secret: str = Query(..., max_length=200), index: int | None = Query(None, ge=0)) -> Response:
    """One output of your finished submission (403 when the link sends results to its owner only)."""
    from storage.artifacts import ArtifactMissing, safe_name

    share = _share(request)
    value = share.output(token, run_id, secret, name)
    if index is not None:
        if not isinstance(value, list) or index >= len(value):
            raise NotFound(f"Output '{name[:100]}' has no file number {index}.")
        value = value[index]
    if isinstance(value, dict) and isinstance(value.get("artifact"), str):
        try:
            ref, path = share.file_path(value)
        except ArtifactMissing as exc:
            raise NotFound(str(exc)) from None
        if not path.exists():
            raise NotFound(f"The stored file of output '{name[:100]}' is missing.")
        return FileResponse(path, filename=safe_name(ref.name), media_type=ref.media_type, headers=_NO_STORE)
    return JSONResponse(value, headers=_NO_STORE)


# --- the public pages' frame-ancestors -----------------------------------------------------------------------

_PAGE = re.compile(r"^/(s|embed)/([^/]{1,200})/?$")


class FramePolicy:
    """Adds Content-Security-Policy `frame-ancestors` to /s/{token} ('self') and /embed/{token} (the link's
    allowed origins, 'none' when it has none or the link does not work), and keeps the token out of Referer."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _PAGE.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None:
            await self.app(scope, receive, send)
            return
        kind, token = match.groups()
        if kind == "s":
            policy = "frame-ancestors 'self'"
        else:
            share: ShareLinkService = scope["app"].state.services.share_links
            policy = frame_ancestors(await run_in_threadpool(share.embed_origins, token))

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = policy
                headers.update(_NO_STORE)
                if kind == "s":
                    headers["X-Frame-Options"] = "SAMEORIGIN"
            await send(message)

        await self.app(scope, receive, send_with_policy)


def install(app: FastAPI) -> None:
    """The share-link API routes and the public pages' frame policy (one line in create_app)."""
    app.include_router(router)
    app.add_middleware(FramePolicy)
