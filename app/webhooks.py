"""Webhooks: outbound (MindDocs tells an address that a run ended) and inbound (an address starts a run).

Both directions sign the raw body the same way (docs/webhooks.md):

    X-MindDocs-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the shared secret>

Signing secrets live in the secrets vault (`webhook.<id>` for outbound, `hook.<graph id>` for inbound);
they are shown once, when created or rotated.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from nodes.base import NodeError, TransientNodeError
from nodes.net import NetworkPolicy, checked_address, parse_url
from storage.webhooks import DeliveryRow, InboundRow, WebhookRepository, WebhookRow

from .errors import AppError, InvalidInputs, InvalidWebhook, NotFound, Unauthorized

if TYPE_CHECKING:  # services.py builds these services from ours: no import at run time
    from .graphs import GraphService
    from .runs import RunService
    from .secrets import SecretReader, SecretService

SIGNATURE_HEADER = "X-MindDocs-Signature"
EVENTS = ("run.succeeded", "run.failed")
#: A signed inbound request is accepted this long after (and before) its timestamp.
TOLERANCE_S = 300
MAX_WAIT_S = 60


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The signature header value for `body`, signed now (or at `timestamp`)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, body: bytes, header: str | None, *, now: float | None = None,
           tolerance_s: int = TOLERANCE_S) -> str:
    """The matching `v1` signature of a signed request; Unauthorized with the reason otherwise."""
    if not header:
        raise Unauthorized(f"The request has no {SIGNATURE_HEADER} header; sign the body with the hook's secret "
                           "(see docs/webhooks.md).", code="signature_missing")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        raise Unauthorized(f"The {SIGNATURE_HEADER} header has no timestamp; write it as t=<unix seconds>,"
                           "v1=<hex signature>.", code="signature_malformed") from None
    if not parts.get("v1"):
        raise Unauthorized(f"The {SIGNATURE_HEADER} header has no v1 signature; write it as t=<unix seconds>,"
                           "v1=<hex signature>.", code="signature_malformed")
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance_s:
        raise Unauthorized(f"The signature's timestamp is {abs(now - timestamp):.0f} s away from this server's "
                           f"clock (at most {tolerance_s} s allowed); sign each request when sending it, and "
                           "check the sender's clock.", code="signature_expired")
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    for candidate in parts["v1"]:
        if hmac.compare_digest(candidate.strip().lower(), expected):
            return expected
    raise Unauthorized("The signature does not match the body; sign exactly the bytes sent, with the hook's "
                       "current secret (rotating the hook changes it).", code="signature_mismatch")


def check_url(policy: NetworkPolicy, url: str) -> str:
    """The URL if MindDocs may POST to it (http(s), resolvable, not private unless allowed)."""
    try:
        parsed = parse_url(url)
        checked_address(policy, parsed)
    except NodeError as exc:
        raise InvalidWebhook(exc.message, code=exc.code or "invalid_webhook", details={"field": "url"}) from None
    except TransientNodeError as exc:  # the name server did not answer
        raise InvalidWebhook(f"The address cannot be checked now ({exc}); try again in a moment.",
                             details={"field": "url"}) from None
    return str(parsed)


@dataclass(frozen=True)
class Created:
    """A webhook or inbound hook with its signing secret: the only time the secret is shown."""

    row: Any
    secret: str


class WebhookService:
    """Outbound webhooks of the caller's graphs: CRUD, deliveries, redelivery."""

    def __init__(self, repo: WebhookRepository, graphs: GraphService, secrets: SecretService,
                 policy: NetworkPolicy):
        self.repo = repo
        self.graphs = graphs  # ownership checks
        self.secrets = secrets  # the vault
        self.policy = policy

    @staticmethod
    def _events(events: list[str]) -> list[str]:
        unknown = [e for e in events if e not in EVENTS]
        if unknown or not events:
            raise InvalidWebhook(f"Choose the events to send among {', '.join(EVENTS)}"
                                 + (f"; {', '.join(repr(e) for e in unknown)} is not one of them." if unknown else "."),
                                 details={"field": "events"})
        return sorted(set(events))

    def create(self, graph_id: str, url: str, events: list[str] | None = None, description: str = "") -> Created:
        self.graphs.get(graph_id, "webhook.write")
        events = self._events(list(EVENTS) if events is None else events)
        url = check_url(self.policy, url)
        webhook_id = uuid.uuid4().hex
        secret = random.token_urlsafe(32)
        name = f"webhook.{webhook_id}"
        self.secrets.create(name, secret, f"Signing secret of a webhook of graph {graph_id[:8]}")
        return Created(self.repo.create(webhook_id=webhook_id, graph_id=graph_id, url=url, events=events,
                                        secret_name=name, description=description[:500]), secret)

    def get(self, webhook_id: str, permission: str = "webhook.read") -> WebhookRow:
        row = self.repo.get(webhook_id)
        if row is None:
            raise NotFound(f"There is no webhook with id {webhook_id}.")
        try:
            self.graphs.get(row.graph_id, permission)
        except NotFound:
            raise NotFound(f"There is no webhook with id {webhook_id}.") from None
        return row

    def list(self, graph_id: str) -> list[WebhookRow]:
        self.graphs.get(graph_id, "webhook.read")
        return self.repo.list(graph_id)

    def update(self, webhook_id: str, *, url: str | None = None, events: list[str] | None = None,
               description: str | None = None, active: bool | None = None) -> WebhookRow:
        self.get(webhook_id, "webhook.write")
        values: dict[str, Any] = {}
        if url is not None:
            values["url"] = check_url(self.policy, url)
        if events is not None:
            values["events"] = self._events(events)
        if description is not None:
            values["description"] = description[:500]
        if active is not None:
            values["active"] = active
        return self.repo.update(webhook_id, **values)  # type: ignore[return-value]

    def rotate_secret(self, webhook_id: str) -> Created:
        row = self.get(webhook_id, "webhook.write")
        secret = random.token_urlsafe(32)
        try:
            self.secrets.replace(row.secret_name, secret)
        except NotFound:
            self.secrets.create(row.secret_name, secret, f"Signing secret of a webhook of graph {row.graph_id[:8]}")
        return Created(row, secret)

    def delete(self, webhook_id: str) -> None:
        row = self.get(webhook_id, "webhook.write")
        self.repo.delete(webhook_id)
        try:
            self.secrets.delete(row.secret_name)
        except NotFound:
            pass

    def deliveries(self, webhook_id: str, limit: int = 50) -> list[DeliveryRow]:
        self.get(webhook_id)
        return self.repo.deliveries(webhook_id=webhook_id, limit=limit)

    def redeliver(self, delivery_id: str) -> DeliveryRow:
        old = self.repo.get_delivery(delivery_id)
        if old is None or old.webhook_id is None:
            raise NotFound(f"There is no webhook delivery with id {delivery_id}.")
        self.get(old.webhook_id, "webhook.write")
        return self.repo.redeliver(delivery_id)  # type: ignore[return-value]


@dataclass(frozen=True)
class Upload:
    """A file part of an inbound multipart request."""

    field: str
    filename: str
    media_type: str | None
    stream: IO[bytes]


class InboundService:
    """Inbound hooks: each graph may have one address that starts its runs, for signed requests only."""

    def __init__(self, repo: WebhookRepository, graphs: GraphService, runs: RunService, secrets: SecretService,
                 reader: SecretReader, acting_as: Callable[[str, str], Any]):
        self.repo = repo
        self.graphs = graphs
        self.runs = runs
        self.secrets = secrets
        self.reader = reader  # reveals the signing secret of any hook: requests come without an account
        self.acting_as = acting_as  # (user id, workspace id) -> services: runs start as the graph's owner

    @staticmethod
    def path(token: str) -> str:
        return f"/api/v1/hooks/{token}"

    def get(self, graph_id: str) -> InboundRow | None:
        self.graphs.get(graph_id, "webhook.read")
        return self.repo.inbound(graph_id=graph_id)

    def rotate(self, graph_id: str) -> Created:
        """Create the graph's inbound hook, or replace its address and secret (the old ones stop working)."""
        self.graphs.get(graph_id, "webhook.write")
        name, secret = f"hook.{graph_id}", random.token_urlsafe(32)
        try:
            self.secrets.replace(name, secret)
        except NotFound:
            self.secrets.create(name, secret, "Signing secret of the inbound webhook of a graph")
        return Created(self.repo.set_inbound(graph_id, random.token_urlsafe(24), name), secret)

    def delete(self, graph_id: str) -> None:
        self.graphs.get(graph_id, "webhook.write")
        if not self.repo.delete_inbound(graph_id):
            raise NotFound("This graph has no inbound webhook.")
        try:
            self.secrets.delete(f"hook.{graph_id}")
        except NotFound:
            pass

    def authenticate(self, token: str, body: bytes, signature: str | None) -> InboundRow:
        """The hook a signed request is for: right token, right signature, fresh timestamp, never seen before."""
        hook = self.repo.inbound(token=token)
        if hook is None:
            raise NotFound("There is no webhook at this address; the graph's hook may have been rotated or removed.")
        try:
            secret = self.reader.reveal(hook.workspace_id, hook.secret_name)
        except AppError:
            raise Unauthorized("This hook's secret cannot be read; rotate the hook on the graph's webhooks page.",
                               code="secret_unreadable") from None
        signature_hex = verify(secret, body, signature)
        if not self.repo.remember_signature(signature_hex, keep_s=2 * TOLERANCE_S + 60):
            raise Unauthorized("This request was already received (same signature): replayed requests are refused. "
                               "Sign every request anew, with the current time.", code="signature_replayed")
        return hook

    def start(self, hook: InboundRow, fields: dict[str, Any], files: list[Upload], *, as_text: bool = False
              ) -> tuple[str, list[str]]:
        """Start a run of the graph's latest version from the request's fields (JSON values, or form text with
        `as_text`) and files. Fields that are not inputs of the graph are ignored: (run id, ignored names).
        The run is the graph owner's, in the graph's workspace."""
        owner = self.acting_as(hook.owner_id, hook.workspace_id)
        graphs, runs = owner.graphs, owner.runs
        version = graphs.latest(hook.graph_id)
        declared = {d["name"] for d in graphs.interface(version.id)["inputs"]}
        ignored = sorted(k for k in [*fields, *(f.field for f in files)] if k not in declared)
        inputs = {name: value for name, value in fields.items() if name in declared}
        if as_text:
            inputs = runs.text_inputs(version.id, inputs)
        for upload in files:
            if upload.field in declared:
                ref = runs.upload(upload.stream, name=upload.filename or upload.field, media_type=upload.media_type)
                inputs[upload.field] = ref.model_dump()
        return runs.start(version.id, inputs), ignored


def parse_json_fields(body: bytes) -> dict[str, Any]:
    import json

    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise InvalidInputs(f"The body is not valid JSON ({exc}); send an object of input names and values.",
                            code="bad_json") from None
    if not isinstance(data, dict):
        raise InvalidInputs("The body must be a JSON object of input names and values, e.g. {\"client_name\": "
                            "\"Marta\"}.", code="bad_json")
    return data
