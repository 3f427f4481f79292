"""REST API v1 for webhooks (outbound and inbound) and notifications; included by app/api.py.

Inbound: `POST /api/v1/hooks/{token}` starts a run of the hook's graph from a signed request — a JSON
object of inputs, or a multipart form with files — and with `?wait=N` answers with the outputs when the
run ends within N seconds. See docs/webhooks.md.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile as FormFile

from .api_models import errors
from .errors import InvalidInputs, TooLarge, UnsupportedMediaType
from .services import WorkspaceServices
from .webhooks import EVENTS, MAX_WAIT_S, SIGNATURE_HEADER, InboundService, Upload, parse_json_fields

router = APIRouter()  # mounted under /api/v1 by app/api.py


def _svc(request: Request) -> WorkspaceServices:
    from .api import services  # app/api.py includes this router at its end

    return services(request)  # the signed-in caller's view


class WebhookCreate(BaseModel):
    url: str = Field(description="Where to POST: an https:// (or http://) address on the public internet, or a "
                     "host the administrator allowed (MINDDOCS_NETWORK__ALLOWED_HOSTS)")
    events: list[str] = Field(list(EVENTS), description=f"Which run endings to send: {', '.join(EVENTS)}")
    description: str = Field("", max_length=500)


class WebhookUpdate(BaseModel):
    url: str | None = None
    events: list[str] | None = None
    description: str | None = Field(None, max_length=500)
    active: bool | None = None


class MarkRead(BaseModel):
    ids: list[int] | None = Field(None, description="Notifications to mark read; omitted: all of them")


def _with_secret(row: Any, secret: str) -> dict[str, Any]:
    return {**row.to_json(), "secret": secret}


# --- outbound webhooks ---------------------------------------------------------------------------------------


@router.get("/graphs/{graph_id}/webhooks", tags=["webhooks"], responses=errors(404))
def list_webhooks(request: Request, graph_id: str) -> list[dict[str, Any]]:
    return [row.to_json() for row in _svc(request).hooks.webhooks.list(graph_id)]


@router.post("/graphs/{graph_id}/webhooks", status_code=201, tags=["webhooks"], responses=errors(404, 409, 422))
def create_webhook(request: Request, graph_id: str, body: WebhookCreate) -> dict[str, Any]:
    """Add a webhook; the answer holds its signing `secret`, shown this once (rotate it to get a new one)."""
    created = _svc(request).hooks.webhooks.create(graph_id, body.url, body.events, body.description)
    return _with_secret(created.row, created.secret)


@router.get("/webhooks/{webhook_id}", tags=["webhooks"], responses=errors(404))
def get_webhook(request: Request, webhook_id: str) -> dict[str, Any]:
    return _svc(request).hooks.webhooks.get(webhook_id).to_json()


@router.patch("/webhooks/{webhook_id}", tags=["webhooks"], responses=errors(404, 422))
def update_webhook(request: Request, webhook_id: str, body: WebhookUpdate) -> dict[str, Any]:
    return _svc(request).hooks.webhooks.update(webhook_id, url=body.url, events=body.events,
                                               description=body.description, active=body.active).to_json()


@router.delete("/webhooks/{webhook_id}", status_code=204, tags=["webhooks"], responses=errors(404))
def delete_webhook(request: Request, webhook_id: str) -> None:
    _svc(request).hooks.webhooks.delete(webhook_id)


@router.post("/webhooks/{webhook_id}/secret", tags=["webhooks"], responses=errors(404))
def rotate_webhook_secret(request: Request, webhook_id: str) -> dict[str, Any]:
    """A new signing secret (the old one stops working now); shown this once."""
    created = _svc(request).hooks.webhooks.rotate_secret(webhook_id)
    return _with_secret(created.row, created.secret)


@router.get("/webhooks/{webhook_id}/deliveries", tags=["webhooks"], responses=errors(404, 422))
def webhook_deliveries(request: Request, webhook_id: str,
                       limit: int = Query(50, ge=1, le=500)) -> list[dict[str, Any]]:
    """The latest deliveries, newest first: state (pending, delivered, failed), attempts, last answer."""
    return [row.to_json() for row in _svc(request).hooks.webhooks.deliveries(webhook_id, limit)]


@router.post("/deliveries/{delivery_id}/redeliver", status_code=202, tags=["webhooks"], responses=errors(404))
def redeliver(request: Request, delivery_id: str) -> dict[str, Any]:
    """Send a delivery's message again, as a new delivery (the old one stays in the history)."""
    hooks = _svc(request).hooks
    row = hooks.webhooks.redeliver(delivery_id)
    hooks.deliverer.wake()
    return row.to_json()


# --- inbound hooks -------------------------------------------------------------------------------------------


def _inbound_json(row: Any, secret: str | None = None) -> dict[str, Any]:
    data = {"graph_id": row.graph_id, "token": row.token, "url": InboundService.path(row.token),
            "created_at": row.created_at.isoformat()}
    return {**data, "secret": secret} if secret else data


@router.get("/graphs/{graph_id}/hook", tags=["webhooks"], responses=errors(404))
def get_inbound_hook(request: Request, graph_id: str) -> dict[str, Any]:
    from .errors import NotFound

    row = _svc(request).hooks.inbound.get(graph_id)
    if row is None:
        raise NotFound("This graph has no inbound webhook; create one with POST /api/v1/graphs/{id}/hook.")
    return _inbound_json(row)


@router.post("/graphs/{graph_id}/hook", tags=["webhooks"], responses=errors(404))
def rotate_inbound_hook(request: Request, graph_id: str) -> dict[str, Any]:
    """Create the graph's inbound webhook, or give it a new address and secret (the old ones stop working).
    The secret is shown this once."""
    created = _svc(request).hooks.inbound.rotate(graph_id)
    return _inbound_json(created.row, created.secret)


@router.delete("/graphs/{graph_id}/hook", status_code=204, tags=["webhooks"], responses=errors(404))
def delete_inbound_hook(request: Request, graph_id: str) -> None:
    _svc(request).hooks.inbound.delete(graph_id)


async def _read_body(request: Request, limit: int) -> bytes:
    too_large = TooLarge(f"The request is larger than {limit // (1024 * 1024)} MB; send smaller files, or ask the "
                         "administrator to raise MINDDOCS_STORAGE__MAX_UPLOAD_MB.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


@router.post("/hooks/{token}", status_code=202, tags=["webhooks"], responses={
    **errors(401, 404, 413, 415, 422), 200: {"description": "The run ended within `wait` seconds: its state and outputs"}})
async def inbound_hook(request: Request, response: Response, token: str,
                       wait: int = Query(0, ge=0, le=MAX_WAIT_S, description="Seconds to wait for the run to end "
                                         "(at most 60); 0: answer at once")) -> dict[str, Any]:
    """Start a run from a signed request (header X-MindDocs-Signature: t=<unix>,v1=<HMAC-SHA256 of "t.body">).
    Body: a JSON object of input values, or a multipart form (text parts and file parts), named like the
    graph's inputs; other names are ignored and listed in `ignored`."""
    svc = request.app.state.services  # no account: the signature is the credential (public route)
    inbound = svc.hooks.inbound
    body = await _read_body(request, svc.settings.storage.max_upload_mb * 1024 * 1024)
    hook = await run_in_threadpool(inbound.authenticate, token, body, request.headers.get(SIGNATURE_HEADER))
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        form = await Request(request.scope, receive).form(max_files=100, max_fields=500)
        try:
            fields: dict[str, Any] = {}
            uploads: list[Upload] = []
            for name, value in form.multi_items():
                if name in fields or any(u.field == name for u in uploads):
                    raise InvalidInputs(f"Input '{name[:100]}' is given twice; send each input once.",
                                        details={name[:100]: "is given twice"})
                if isinstance(value, FormFile):
                    uploads.append(Upload(name, value.filename or name, value.content_type, value.file))
                else:
                    fields[name] = value
            run_id, ignored = await run_in_threadpool(lambda: inbound.start(hook, fields, uploads, as_text=True))
        finally:
            await form.close()
    elif not media_type or media_type == "application/json" or media_type.endswith("+json"):
        run_id, ignored = await run_in_threadpool(inbound.start, hook, parse_json_fields(body), [])
    else:
        raise UnsupportedMediaType(f"A hook takes a JSON body (application/json) or a form (multipart/form-data), "
                                   f"not {media_type[:80]}.")
    result: dict[str, Any] = {"run_id": run_id, "url": f"/api/v1/runs/{run_id}", "state": "running",
                              "ignored": ignored}
    response.status_code = 202
    if wait:
        run = await run_in_threadpool(svc.runs.wait, run_id, wait)
        result["state"] = run.state
        if run.finished:
            response.status_code = 200
            result["outputs"] = run.outputs
            if run.state != "succeeded":
                result["error"] = {"code": run.error_code, "message": run.error_message}
    return result


# --- notifications -------------------------------------------------------------------------------------------


@router.get("/notifications", tags=["notifications"], responses=errors(422))
def list_notifications(request: Request, unread: bool = Query(False, description="Only the unread ones"),
                       limit: int = Query(50, ge=1, le=500)) -> list[dict[str, Any]]:
    """Runs that finished or failed, newest first."""
    return [n.to_json() for n in _svc(request).hooks.notifications.list(unread_only=unread, limit=limit)]


@router.post("/notifications/read", tags=["notifications"], responses=errors(422))
def mark_notifications_read(request: Request, body: MarkRead | None = None) -> dict[str, Any]:
    notifications = _svc(request).hooks.notifications
    marked = notifications.mark_read(body.ids if body else None)
    return {"marked": marked, "unread": notifications.unread()}
