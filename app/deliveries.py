"""What happens when a run ends: a notification, webhook POSTs and emails to send, and a run event.

`RunOutcomes` is an engine observer: in the process that closed the run (the web process when embedded,
a `minddocs worker` with Redis) it writes the notification and the deliveries to the database, then
publishes the event. `Deliverer` is the loop (in the web process) that sends the pending deliveries,
retrying with growing waits; deliveries are rows, so a restart resumes where the last process stopped.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, timedelta
from email.message import EmailMessage
from typing import Any

from nodes.base import NodeError
from nodes.net import NetworkPolicy, SmtpServer, fetch
from storage.graphs import GraphRepository
from storage.models import utcnow
from storage.notifications import NotificationRepository
from storage.runs import RunRepository
from storage.webhooks import DeliveryRow, WebhookRepository

from .errors import AppError
from .events import EventBus, RunEvent
from .webhooks import SIGNATURE_HEADER, sign

log = logging.getLogger("minddocs.deliveries")

#: Output values larger than this (as JSON) are only linked in a webhook payload, not included.
MAX_INLINE_VALUE = 16 * 1024
#: Codes of guard refusals that retrying cannot fix.
_PERMANENT = ("address_blocked", "bad_url", "bad_certificate", "too_many_redirects", "smtp_auth",
              "smtp_refused", "smtp_not_supported", "smtp_error", "secret_missing")


def _is_file(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("artifact"), str) and "name" in value


def run_payload(event: str, run: Any, graph_id: str, graph_name: str, base_url: str) -> dict[str, Any]:
    """The JSON a webhook receives (and an email is written from) about a finished run."""
    base = base_url.rstrip("/")
    api = f"{base}/api/v1/runs/{run.id}"
    duration = (run.finished_at - run.started_at).total_seconds() if run.finished_at and run.started_at else None
    outputs: dict[str, Any] = {}
    for name, value in (run.outputs or {}).items():
        entry: dict[str, Any] = {"url": f"{api}/outputs/{name}"}
        if _is_file(value):
            entry["file"] = {k: value.get(k) for k in ("name", "media_type", "size")}
        elif len(json.dumps(value, default=str)) <= MAX_INLINE_VALUE:
            entry["value"] = value
        outputs[name] = entry
    iso = lambda d: d.isoformat() if d else None
    return {
        "event": event,
        "run": {"id": run.id, "state": run.state, "graph_id": graph_id, "graph_name": graph_name,
                "graph_version_id": run.graph_version_id, "created_at": iso(run.created_at),
                "started_at": iso(run.started_at), "finished_at": iso(run.finished_at), "duration_s": duration,
                "error": {"code": run.error_code, "message": run.error_message} if run.state == "failed" else None},
        "links": {"run": api, "logs": f"{api}/logs", "page": f"{base}/runs/{run.id}"},
        "outputs": outputs,
    }


class RunOutcomes:
    """Engine observer (`run_finished`): notification, deliveries and the event for each finished run."""

    def __init__(self, *, runs: RunRepository, graphs: GraphRepository, webhooks: WebhookRepository,
                 notifications: NotificationRepository, events: EventBus, base_url: str,
                 email_to: list[str], email_on: list[str], email_enabled: bool):
        self.runs = runs
        self.graphs = graphs
        self.webhooks = webhooks
        self.notifications = notifications
        self.events = events
        self.base_url = base_url
        self.email_to = list(email_to)
        self.email_on = set(email_on)
        self.email_enabled = email_enabled

    def run_finished(self, run_id: str, state: str) -> None:
        run = self.runs.get(run_id, with_nodes=False)
        if run is None:
            return
        version = self.graphs.version(run.graph_version_id)
        graph = self.graphs.get(version.graph_id) if version else None
        graph_id, graph_name = (graph.id, graph.name) if graph else ("", "")
        kind = f"run.{state}"
        self.notifications.add(owner_id=run.owner_id, run_id=run.id, graph_name=graph_name, state=state,
                               message=run.error_message or "")
        payload = run_payload(kind, run, graph_id, graph_name, self.base_url)
        items = [{"kind": "webhook", "webhook_id": hook.id, "run_id": run.id, "event": kind, "target": hook.url,
                  "payload": payload}
                 for hook in (self.webhooks.list(graph_id) if graph_id else []) if hook.active and kind in hook.events]
        if self.email_enabled and state in self.email_on:
            items += [{"kind": "email", "webhook_id": None, "run_id": run.id, "event": kind, "target": address,
                       "payload": payload} for address in self.email_to]
        if items:
            self.webhooks.enqueue(items)
        self.events.publish(RunEvent(kind, run.id, graph_id, graph_name))


def email_message(payload: dict[str, Any], to: str, sender: str | None) -> EmailMessage:
    run = payload["run"]
    name = run["graph_name"] or run["graph_id"]
    ok = run["state"] == "succeeded"
    message = EmailMessage()
    message["Subject"] = f"[MindDocs] {name}: run {'finished' if ok else 'failed'}"
    message["From"] = sender or "MindDocs <minddocs@localhost>"
    message["To"] = to
    lines = [f"The run of '{name}' {'finished' if ok else 'failed'}.", ""]
    if not ok and run.get("error"):
        lines += [f"Error: {run['error'].get('message') or run['error'].get('code')}", ""]
    if run.get("duration_s") is not None:
        lines.append(f"Duration: {run['duration_s']:.1f} s")
    lines += [f"Open the run: {payload['links']['page']}", ""]
    for output, entry in payload.get("outputs", {}).items():
        lines.append(f"- {output}: {entry['url']}")
    message.set_content("\n".join(lines))
    return message


class Deliverer:
    """Sends pending deliveries: webhooks signed and POSTed through the network guard, emails through SMTP."""

    def __init__(self, repo: WebhookRepository, secrets: Any, policy: NetworkPolicy, smtp: SmtpServer | None,
                 retry_delays_s: list[float]):
        self.repo = repo
        self.secrets = secrets  # SecretReader
        self.policy = policy
        self.smtp = smtp
        self.delays = list(retry_delays_s)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the loop -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="minddocs-deliveries", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def wake(self) -> None:
        """Look for due deliveries now (a run just ended)."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            wait = 30.0
            try:
                self.run_due()
                next_at = self.repo.next_due_at()
                if next_at is not None:
                    next_at = next_at if next_at.tzinfo else next_at.replace(tzinfo=UTC)  # SQLite: naive UTC
                    wait = min(wait, max(0.05, (next_at - utcnow()).total_seconds()))
            except Exception:
                log.exception("The delivery loop failed; trying again in 5 s")
                wait = 5.0
            self._wake.wait(wait)

    def run_due(self) -> int:
        """One pass: every delivery due now gets one attempt. Returns how many were attempted."""
        attempted = 0
        for delivery_id in self.repo.due():
            if self._stop.is_set():
                break
            row = self.repo.claim(delivery_id)
            if row is not None:
                self.attempt(row)
                attempted += 1
        return attempted

    # --- one attempt ----------------------------------------------------------------------------
    def attempt(self, row: DeliveryRow) -> None:
        status = None
        try:
            if row.kind == "webhook":
                status = self._post(row)
            else:
                self._email(row)
        except NodeError as exc:
            if exc.code in _PERMANENT:
                self.repo.finish(row.id, state="failed", error=exc.message)
                return
            self._retry(row, exc.message, None)
            return
        except _HttpFailure as exc:
            self._retry(row, exc.message, exc.status)
            return
        except Exception as exc:  # noqa: BLE001  (TransientNodeError, or anything unforeseen: try again later)
            self._retry(row, str(exc) or type(exc).__name__, None)
            return
        self.repo.finish(row.id, state="delivered", status=status)

    def _retry(self, row: DeliveryRow, error: str, status: int | None) -> None:
        if row.attempts > len(self.delays):
            self.repo.finish(row.id, state="failed", status=status,
                             error=f"{error} (gave up after {row.attempts} attempts)")
            return
        retry_at = utcnow() + timedelta(seconds=self.delays[row.attempts - 1])
        self.repo.finish(row.id, state="pending", status=status, error=error, retry_at=retry_at)

    def _post(self, row: DeliveryRow) -> int:
        hook = self.repo.get(row.webhook_id) if row.webhook_id else None
        if hook is None:
            raise NodeError("The webhook was deleted.", code="secret_missing")
        try:
            secret = self.secrets.reveal(hook.workspace_id, hook.secret_name)
        except AppError as exc:
            raise NodeError(f"The webhook's signing secret cannot be read ({exc.message}); rotate "
                            "the webhook's secret.", code="secret_missing") from None
        body = json.dumps({**row.payload, "delivery_id": row.id}, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "MindDocs-Webhook/1",
                   SIGNATURE_HEADER: sign(secret, body, int(time.time())), "X-MindDocs-Event": row.event,
                   "X-MindDocs-Delivery": row.id}
        answer = fetch(self.policy, "POST", hook.url, headers=headers, content=body)
        if not 200 <= answer.status < 300:
            text = answer.content[:200].decode("utf-8", "replace")
            raise _HttpFailure(f"The receiver answered HTTP {answer.status}: {text}", answer.status)
        return answer.status

    def _email(self, row: DeliveryRow) -> None:
        from nodes.email_send import send

        if self.smtp is None:
            raise NodeError("No mail server is configured; set MINDDOCS_SMTP__HOST.", code="smtp_not_supported")
        send(self.smtp, self.smtp.password, email_message(row.payload, row.target, self.smtp.sender))


class _HttpFailure(Exception):
    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message = message
        self.status = status
