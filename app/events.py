"""Run events across processes: "run X finished" reaches the web process whoever finished the run.

Embedded mode runs nodes in the web process, so events stay in memory (`LocalEvents`). With Redis,
`minddocs worker` processes finish runs: they publish on the Redis channel `<namespace>:events` and every
web process listens there (`RedisEvents`). Subscribers are plain callables, called from the publishing
thread (local) or from the listening thread (Redis); they must be quick and must not raise.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

log = logging.getLogger("minddocs.events")


@dataclass(frozen=True)
class RunEvent:
    """`kind` is "run.succeeded", "run.failed" or "run.cancelled"."""

    kind: str
    run_id: str
    graph_id: str = ""
    graph_name: str = ""

    @property
    def state(self) -> str:
        return self.kind.split(".", 1)[1]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


Subscriber = Callable[[RunEvent], None]


class EventBus(Protocol):
    def publish(self, event: RunEvent) -> None: ...

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call `callback` for every event from now on; returns the function that unsubscribes."""
        ...

    def start(self) -> None: ...

    def close(self) -> None: ...


class LocalEvents:
    """Events inside one process."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def publish(self, event: RunEvent) -> None:
        self._deliver(event)

    def _deliver(self, event: RunEvent) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(event)
            except Exception:
                log.exception("Event subscriber %r failed on %s", callback, event)

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass


class RedisEvents(LocalEvents):
    """Events through Redis pub/sub: published by any process, received by every process that `start`ed.

    Pub/sub keeps nothing for absent listeners; what must not be lost (webhooks, emails, notifications)
    is written to the database before the event is published, and the event only says "look now".
    """

    def __init__(self, redis_url: str, namespace: str):
        super().__init__()
        import redis

        self.channel = f"{namespace}:events"
        self._client = redis.Redis.from_url(redis_url)
        self._errors = (redis.RedisError, OSError)
        self._pubsub: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def publish(self, event: RunEvent) -> None:
        try:
            self._client.publish(self.channel, json.dumps(event.to_json()))
        except Exception:
            log.exception("Could not publish %s on %s", event, self.channel)

    def start(self) -> None:
        """Listen on the channel in a thread of this process (the web process)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        self._pubsub.subscribe(self.channel)  # subscribed before start() returns: nothing published after is missed
        self._thread = threading.Thread(target=self._listen, name="minddocs-events", daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                message = self._pubsub.get_message(timeout=0.5)
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("Lost the Redis event channel %s; listening again in 1 s", self.channel)
                self._stop.wait(1.0)
                try:
                    self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
                    self._pubsub.subscribe(self.channel)
                except self._errors as exc:
                    log.warning("Redis is still unreachable (%s); trying again", exc)
                continue
            if message is None or message.get("type") != "message":
                continue
            try:
                event = RunEvent(**json.loads(message["data"]))
            except (TypeError, ValueError):
                log.warning("Ignored a malformed event on %s: %r", self.channel, message["data"][:200])
                continue
            self._deliver(event)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._pubsub is not None:
            with contextlib.suppress(*self._errors):
                self._pubsub.close()
            self._pubsub = None
        self._client.close()


def make_bus(redis_url: str | None, namespace: str) -> EventBus:
    return RedisEvents(redis_url, namespace) if redis_url else LocalEvents()
