"""Assembly of run events, webhooks, inbound hooks, notifications and the delivery loop (docs/webhooks.md).

Built by `Services` in every process. Only processes that call `start()` (the web process, `minddocs run`)
listen for events and send deliveries; `minddocs worker` processes only write and publish them.
"""

from __future__ import annotations

from typing import Any

from nodes.net import NetworkPolicy, SmtpServer
from storage.notifications import NotificationRepository, NotificationRow
from storage.webhooks import WebhookRepository

from .deliveries import Deliverer, RunOutcomes
from .events import RunEvent, make_bus
from .settings import Settings
from .webhooks import InboundService, WebhookService


class NotificationService:
    """The in-app notifications of one person (runs of theirs that finished or failed)."""

    def __init__(self, repo: NotificationRepository, owner_id: str):
        self.repo = repo
        self.owner_id = owner_id

    def list(self, *, unread_only: bool = False, limit: int = 50) -> list[NotificationRow]:
        return self.repo.list(self.owner_id, unread_only=unread_only, limit=min(max(limit, 1), 500))

    def unread(self) -> int:
        return self.repo.unread(self.owner_id)

    def mark_read(self, ids: list[int] | None = None) -> int:
        return self.repo.mark_read(self.owner_id, ids)


class Hooks:
    def __init__(self, settings: Settings, services: Any, policy: NetworkPolicy, smtp: SmtpServer | None):
        db = services.db
        self.events = make_bus(settings.redis_url, settings.broker.namespace)
        repo = WebhookRepository(db)
        notes = NotificationRepository(db)
        self.repo, self.notes, self.policy, self.acting_as = repo, notes, policy, services.acting_as
        self.reader = services.secret_reader
        self.webhooks = WebhookService(repo, services.graphs, services.secrets, policy)
        self.inbound = InboundService(repo, services.graphs, services.runs, services.secrets, self.reader,
                                      services.acting_as)
        self.notifications = NotificationService(notes, services.graphs.owner_id)
        self.deliverer = Deliverer(repo, self.reader, policy, smtp, settings.notifications.retry_delays_s)
        config = settings.notifications
        self.observer = RunOutcomes(runs=services.runs.runs, graphs=services.graphs.repo, webhooks=repo,
                                    notifications=notes, events=self.events, base_url=config.public_url,
                                    email_to=config.email_to, email_on=list(config.email_on),
                                    email_enabled=smtp is not None)
        services.engine.observers.append(self.observer)
        self.events.subscribe(self._on_event)
        self._started = False

    def bound(self, scoped: Any) -> BoundHooks:
        """Webhooks, inbound hooks and notifications as one scope (`WorkspaceServices`) may use them."""
        return BoundHooks(self, scoped)

    def _on_event(self, event: RunEvent) -> None:
        self.deliverer.wake()

    def start(self) -> None:
        if not self._started:
            self.events.start()
            self.deliverer.start()
            self._started = True

    def close(self) -> None:
        self.deliverer.stop()
        self.events.close()
        self._started = False


class BoundHooks:
    """`Hooks` seen through one scope; the event bus and the delivery loop stay shared."""

    def __init__(self, hooks: Hooks, scoped: Any):
        self.events = hooks.events
        self.deliverer = hooks.deliverer
        self.webhooks = WebhookService(hooks.repo, scoped.graphs, scoped.secrets, hooks.policy)
        self.inbound = InboundService(hooks.repo, scoped.graphs, scoped.runs, scoped.secrets, hooks.reader,
                                      hooks.acting_as)
        self.notifications = NotificationService(hooks.notes, scoped.scope.user_id)
