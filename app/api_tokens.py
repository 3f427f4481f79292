"""REST API v1 for API tokens and the OAuth2 token endpoint (docs/api.md, "Authentication").

`POST /oauth/token` is the one endpoint whose errors are not `{code, message, details}`: OAuth2 clients expect
RFC 6749's `{error, error_description}` (section 5.2), so that is what it answers.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import unquote_plus

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from storage.tokens import ApiTokenRow

from .api_models import errors
from .policy import SCOPES, Scope
from .tokens import OAuthError
from .web_auth import client_ip, request_scope

router = APIRouter(prefix="/api/v1", tags=["tokens"])


class TokenCreate(BaseModel):
    name: str = Field(description="Where the token is used, e.g. 'CI pipeline'", max_length=100)
    scopes: list[str] = Field(description=f"Any of {', '.join(SCOPES)}: 'read' reads, 'run' also starts runs, "
                              "'write' also changes graphs, schedules, secrets...", min_length=1)
    expires_days: int | None = Field(None, ge=1, le=3650, description="Stops working after this many days; "
                                     "omitted: does not expire")
    workspace_id: str | None = Field(None, description="Work only in this workspace; omitted: your personal "
                                     "workspace, others chosen with the X-Workspace header")


class TokenInfo(BaseModel, extra="allow"):
    id: str
    name: str
    scopes: list[str]
    workspace_id: str | None
    state: str = Field(description="active, expired or revoked")
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None = Field(description="Updated at most once a minute")
    created_at: datetime


class TokenCreated(TokenInfo):
    token: str = Field(description="The token itself (md_<id>_<secret>): shown this once, keep it safe")


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int = Field(description="Seconds the access token works")
    refresh_token: str | None = Field(None, description="Absent for client_credentials")
    scope: str


class OAuthErrorBody(BaseModel):
    error: str = Field(description="invalid_request, invalid_client, invalid_grant, unsupported_grant_type, "
                       "invalid_scope or slow_down")
    error_description: str


def signed_in(request: Request) -> Scope:
    """The caller's scope, resolved before the body is read: without credentials the answer is 401, not 422."""
    return request_scope(request)


SignedIn = Annotated[Scope, Depends(signed_in)]


def token_json(row: ApiTokenRow) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "scopes": list(row.scopes), "workspace_id": row.workspace_id,
            "state": row.state(), "expires_at": row.expires_at, "revoked_at": row.revoked_at,
            "last_used_at": row.last_used_at, "created_at": row.created_at}


@router.get("/tokens", response_model=list[TokenInfo], responses=errors(401, 403, 422))
def list_tokens(request: Request, response: Response, scope: SignedIn,
                limit: int | None = Query(None, ge=1, le=500, description="Page size (1-500)"),
                cursor: str | None = Query(None, max_length=500, description="The Link header's cursor")
                ) -> list[dict[str, Any]]:
    """Your API tokens (active, expired and revoked), newest first. The tokens themselves are never shown again."""
    from .api import offset_page

    rows = request.app.state.services.tokens.list(scope)
    return [token_json(row) for row in offset_page(request, response, rows, limit or 100, cursor)]


@router.post("/tokens", status_code=201, response_model=TokenCreated, responses=errors(401, 403, 404, 422))
def create_token(request: Request, body: TokenCreate, scope: SignedIn) -> dict[str, Any]:
    """A new personal access token; `token` in the answer is shown this once. Only a signed-in person (not
    another token) can create one."""
    row, plaintext = request.app.state.services.tokens.create(scope, body.name, body.scopes, body.expires_days,
                                                              body.workspace_id)
    return {**token_json(row), "token": plaintext}


@router.delete("/tokens/{token_id}", response_model=TokenInfo, responses=errors(401, 403, 404))
def revoke_token(request: Request, token_id: str, scope: SignedIn) -> dict[str, Any]:
    """Revoke one of your tokens: it stops working at once (it stays listed, as revoked)."""
    return token_json(request.app.state.services.tokens.revoke(scope, token_id))


_OAUTH_FORM = {"requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
    "type": "object", "required": ["grant_type"], "properties": {
        "grant_type": {"type": "string", "enum": ["password", "client_credentials", "refresh_token"]},
        "username": {"type": "string", "description": "password: your email"},
        "password": {"type": "string", "description": "password: your password"},
        "client_id": {"type": "string", "description": "client_credentials: the API token's id"},
        "client_secret": {"type": "string", "description": "client_credentials: the whole API token (md_...)"},
        "refresh_token": {"type": "string", "description": "refresh_token: the last refresh token received"},
        "scope": {"type": "string", "description": "Space-separated: read run write (default: all allowed)"}}}}}}}
_OAUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": OAuthErrorBody, "description": text} for status, text in
    ((400, "RFC 6749 error (invalid_request, invalid_grant, invalid_scope, unsupported_grant_type)"),
     (401, "invalid_client: the API token given as client_secret is not valid"),
     (429, "slow_down: too many attempts; see Retry-After"))}


@router.post("/oauth/token", response_model=TokenResponse, responses=_OAUTH_ERRORS, openapi_extra=_OAUTH_FORM)
async def oauth_token(request: Request) -> JSONResponse:
    """OAuth2 token endpoint (RFC 6749): form-encoded `grant_type` password, client_credentials or
    refresh_token. Errors are `{error, error_description}` as the RFC says, not `{code, message, details}`."""
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    try:
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            raise OAuthError("invalid_request", "Send the fields form-encoded (Content-Type: "
                             "application/x-www-form-urlencoded), as OAuth2 requires.")
        form = {key: value for key, value in (await request.form()).items() if isinstance(value, str)}
        basic = _basic_credentials(request.headers.get("authorization", ""))
        body = await run_in_threadpool(request.app.state.services.tokens.grant, form, ip=client_ip(request),
                                       basic=basic)
    except OAuthError as exc:
        if exc.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="minddocs"'
        if exc.retry_after_s:
            headers["Retry-After"] = str(int(exc.retry_after_s))
        return JSONResponse(exc.to_json(), status_code=exc.status, headers=headers)
    return JSONResponse(body, headers=headers)


def _basic_credentials(header: str) -> tuple[str, str] | None:
    """Client id and secret of an `Authorization: Basic` header (RFC 6749 2.3.1: each form-encoded first)."""
    kind, _, value = header.partition(" ")
    if kind.lower() != "basic" or not value.strip():
        return None
    try:
        client_id, sep, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", "The Authorization header is not valid Basic credentials "
                         "(base64 of client_id:client_secret).", 401) from None
    if not sep:
        raise OAuthError("invalid_client", "Basic credentials must be client_id:client_secret.", 401)
    return unquote_plus(client_id), unquote_plus(secret)
