"""Repository of webhooks, deliveries (webhook POSTs and emails to send), inbound hooks and seen signatures.

A delivery is claimed with a conditional UPDATE (`claimed_until` in the past), so several processes can
run the delivery loop and each message is sent by one of them at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from .db import Database
from .models import Delivery, Graph, InboundHook, SeenSignature, Webhook, utcnow

#: How long a sender may take with one delivery before another process may try it again.
CLAIM_S = 120


@dataclass(frozen=True)
class WebhookRow:
    id: str
    graph_id: str
    url: str
    events: list[str]
    secret_name: str
    description: str
    active: bool
    created_at: datetime
    workspace_id: str = ""

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class DeliveryRow:
    id: str
    kind: str
    webhook_id: str | None
    run_id: str
    event: str
    target: str
    payload: dict[str, Any]
    state: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class InboundRow:
    graph_id: str
    token: str
    secret_name: str
    created_at: datetime
    workspace_id: str = ""  # the graph's
    owner_id: str = ""  # the graph's owner: runs the hook starts are theirs


def _webhook(row: Webhook) -> WebhookRow:
    return WebhookRow(row.id, row.graph_id, row.url, list(row.events or []), row.secret_name, row.description,
                      row.active, row.created_at, row.workspace_id)


def _delivery(row: Delivery) -> DeliveryRow:
    return DeliveryRow(row.id, row.kind, row.webhook_id, row.run_id, row.event, row.target, row.payload or {},
                       row.state, row.attempts, row.next_attempt_at, row.last_status, row.last_error, row.created_at,
                       row.delivered_at)


class WebhookRepository:
    def __init__(self, db: Database):
        self.db = db

    # --- webhooks -------------------------------------------------------------------------------
    def create(self, *, webhook_id: str, graph_id: str, url: str, events: list[str], secret_name: str,
               description: str) -> WebhookRow:
        with self.db.session() as s:
            workspace_id = s.scalar(select(Graph.workspace_id).where(Graph.id == graph_id))
            row = Webhook(id=webhook_id, graph_id=graph_id, workspace_id=workspace_id, url=url, events=events,
                          secret_name=secret_name, description=description, active=True)
            s.add(row)
            s.flush()
            return _webhook(row)

    def update(self, webhook_id: str, **values: Any) -> WebhookRow | None:
        with self.db.session() as s:
            row = s.get(Webhook, webhook_id)
            if row is None:
                return None
            for key, value in values.items():
                setattr(row, key, value)
            s.flush()
            return _webhook(row)

    def get(self, webhook_id: str) -> WebhookRow | None:
        with self.db.read() as s:
            row = s.get(Webhook, webhook_id)
            return _webhook(row) if row else None

    def list(self, graph_id: str | None = None) -> list[WebhookRow]:
        query = select(Webhook).order_by(Webhook.created_at)
        if graph_id is not None:
            query = query.where(Webhook.graph_id == graph_id)
        with self.db.read() as s:
            return [_webhook(r) for r in s.scalars(query)]

    def delete(self, webhook_id: str) -> bool:
        with self.db.session() as s:
            return bool(s.execute(delete(Webhook).where(Webhook.id == webhook_id)).rowcount)

    # --- deliveries -----------------------------------------------------------------------------
    def enqueue(self, items: list[dict[str, Any]]) -> list[str]:
        """New pending deliveries: dicts of kind, webhook_id, run_id, event, target, payload."""
        now = utcnow()
        with self.db.session() as s:
            rows = [Delivery(**item, state="pending", attempts=0, next_attempt_at=now, created_at=now)
                    for item in items]
            s.add_all(rows)
            s.flush()
            return [r.id for r in rows]

    def due(self, limit: int = 20) -> list[str]:
        """Ids of pending deliveries whose time has come and that no sender holds."""
        now = utcnow()
        with self.db.read() as s:
            return list(s.scalars(select(Delivery.id).where(
                Delivery.state == "pending", Delivery.next_attempt_at <= now,
                or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now))
                .order_by(Delivery.next_attempt_at).limit(limit)))

    def next_due_at(self) -> datetime | None:
        with self.db.read() as s:
            return s.scalar(select(Delivery.next_attempt_at).where(Delivery.state == "pending")
                            .order_by(Delivery.next_attempt_at).limit(1))

    def claim(self, delivery_id: str) -> DeliveryRow | None:
        """Take a due delivery for sending (one attempt); None when another sender has it."""
        now = utcnow()
        with self.db.session() as s:
            taken = s.execute(update(Delivery).where(
                Delivery.id == delivery_id, Delivery.state == "pending",
                or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now))
                .values(claimed_until=now + timedelta(seconds=CLAIM_S), attempts=Delivery.attempts + 1)).rowcount
            if not taken:
                return None
            return _delivery(s.get(Delivery, delivery_id))  # type: ignore[arg-type]

    def finish(self, delivery_id: str, *, state: str, status: int | None = None, error: str | None = None,
               retry_at: datetime | None = None) -> None:
        """After an attempt: delivered, failed for good, or pending again until `retry_at`."""
        values: dict[str, Any] = {"state": state, "last_status": status, "last_error": error, "claimed_until": None}
        if state == "delivered":
            values["delivered_at"] = utcnow()
        if retry_at is not None:
            values["next_attempt_at"] = retry_at
        with self.db.session() as s:
            s.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))

    def redeliver(self, delivery_id: str) -> DeliveryRow | None:
        """Send again: a new pending delivery with the same message (the history keeps the old one)."""
        old = self.get_delivery(delivery_id)
        if old is None:
            return None
        new_id = self.enqueue([{"kind": old.kind, "webhook_id": old.webhook_id, "run_id": old.run_id,
                                "event": old.event, "target": old.target, "payload": old.payload}])[0]
        return self.get_delivery(new_id)

    def get_delivery(self, delivery_id: str) -> DeliveryRow | None:
        with self.db.read() as s:
            row = s.get(Delivery, delivery_id)
            return _delivery(row) if row else None

    def deliveries(self, *, webhook_id: str | None = None, run_id: str | None = None, kind: str | None = None,
                   limit: int = 50) -> list[DeliveryRow]:
        query = select(Delivery).order_by(Delivery.created_at.desc()).limit(limit)
        if webhook_id is not None:
            query = query.where(Delivery.webhook_id == webhook_id)
        if run_id is not None:
            query = query.where(Delivery.run_id == run_id)
        if kind is not None:
            query = query.where(Delivery.kind == kind)
        with self.db.read() as s:
            return [_delivery(r) for r in s.scalars(query)]

    # --- inbound hooks --------------------------------------------------------------------------
    def set_inbound(self, graph_id: str, token: str, secret_name: str) -> InboundRow:
        with self.db.session() as s:
            row = s.get(InboundHook, graph_id)
            if row is None:
                row = InboundHook(graph_id=graph_id, token=token, secret_name=secret_name, created_at=utcnow())
                s.add(row)
            else:
                row.token, row.secret_name, row.created_at = token, secret_name, utcnow()
            s.flush()
            return InboundRow(row.graph_id, row.token, row.secret_name, row.created_at)

    def inbound(self, *, graph_id: str | None = None, token: str | None = None) -> InboundRow | None:
        query = select(InboundHook, Graph.workspace_id, Graph.owner_id).join(Graph, Graph.id == InboundHook.graph_id)
        query = query.where(InboundHook.graph_id == graph_id) if graph_id else query.where(InboundHook.token == token)
        with self.db.read() as s:
            found = s.execute(query).first()
            if found is None:
                return None
            row, workspace_id, owner_id = found
            return InboundRow(row.graph_id, row.token, row.secret_name, row.created_at, workspace_id, owner_id)

    def delete_inbound(self, graph_id: str) -> bool:
        with self.db.session() as s:
            return bool(s.execute(delete(InboundHook).where(InboundHook.graph_id == graph_id)).rowcount)

    def remember_signature(self, signature: str, keep_s: float) -> bool:
        """Record an accepted signature; False when it was seen before (a replay). Forgets old ones."""
        now = utcnow()
        try:
            with self.db.session() as s:
                s.execute(delete(SeenSignature).where(SeenSignature.seen_at < now - timedelta(seconds=keep_s)))
                s.add(SeenSignature(signature=signature, seen_at=now))
        except IntegrityError:
            return False
        return True
