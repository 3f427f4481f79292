"""The one module that talks to Dramatiq: the broker, the generic node actor, and workers.

One actor, `run_node(run_id, node_id)`, runs every node type; the message only carries ids. Each
message goes to its node type's queue (`default`, `documents`, `media`, …) so heavy node families
can get their own worker processes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name
from dramatiq.middleware import CurrentMessage, Retries, ShutdownNotifications, TimeLimit
from dramatiq.middleware.time_limit import TimeLimitExceeded
from sqlalchemy.exc import OperationalError

from .engine import Engine
from .errors import RetryLater

log = logging.getLogger("minddocs.worker")

ACTOR_NAME = "minddocs_run_node"
BASE_QUEUES = ("default", "documents", "media")
#: Extra time the message gets beyond the node's own limit, for loading inputs and storing outputs.
GRACE_S = 120
#: How often a message may be redelivered because of an infrastructure error (database unreachable).
MAX_INFRA_RETRIES = 5


@dataclass(frozen=True)
class BrokerOptions:
    redis_url: str | None = None
    namespace: str = "minddocs"
    heartbeat_timeout_ms: int = 60_000
    maintenance_chance: int = 1000  # out of a million fetches


def make_broker(options: BrokerOptions) -> dramatiq.Broker:
    # Dramatiq's default retry policy (20 retries over up to 7 days) is wrong for interactive runs:
    # our engine decides about node retries (RetryLater); infrastructure errors get a few quick ones.
    middleware = [
        TimeLimit(interval=250),
        ShutdownNotifications(),
        Retries(max_retries=MAX_INFRA_RETRIES, min_backoff=500, max_backoff=30_000, retry_when=_should_retry),
        CurrentMessage(),
    ]
    if options.redis_url:
        return RedisBroker(url=options.redis_url, namespace=options.namespace, middleware=middleware,
                           heartbeat_timeout=options.heartbeat_timeout_ms,
                           maintenance_chance=options.maintenance_chance)
    return StubBroker(middleware=middleware)


def _should_retry(retries: int, exc: BaseException) -> bool:
    if isinstance(exc, dramatiq.Retry):
        return True  # the engine already counted this node's attempts
    return isinstance(exc, OperationalError) and retries < MAX_INFRA_RETRIES


class Executor:
    """Binds an Engine to a broker: sends node messages and runs them."""

    def __init__(self, engine: Engine, broker: dramatiq.Broker, queues: set[str] | None = None):
        self.engine = engine
        self.broker = broker
        self.actor = dramatiq.actor(self._run_node, broker=broker, actor_name=ACTOR_NAME, queue_name="default")
        for queue in sorted(set(BASE_QUEUES) | set(queues or ())):
            broker.declare_queue(queue)
        engine.dispatch = self.send
        self._worker: dramatiq.Worker | None = None

    def send(self, run_id: str, node_id: str, *, queue: str, time_limit_s: float) -> None:
        message = self.actor.message_with_options(args=(run_id, node_id),
                                                  time_limit=int((time_limit_s + GRACE_S) * 1000))
        self.broker.enqueue(message.copy(queue_name=queue))

    def _run_node(self, run_id: str, node_id: str) -> None:
        message = CurrentMessage.get_current_message()
        retries = message.options.get("retries", 0) if message else 0
        try:
            self.engine.execute(run_id, node_id, retries)
        except RetryLater as exc:
            raise dramatiq.Retry(delay=exc.delay_ms) from None
        except TimeLimitExceeded:
            self.engine.fail_stuck(run_id, node_id, "timeout", "The node's work could not be stored in time; "
                                   "try again, and tell the administrator if it keeps happening.")

    # --- health and queue depth (app/health.py, app/metrics.py) ---------------------------------
    def queue_depths(self) -> dict[str, tuple[int, int]]:
        """queue -> (messages waiting to be fetched, messages not yet done: waiting, delayed or running)."""
        queues = sorted(q for q in self.broker.get_declared_queues() if not q.endswith((".DQ", ".XQ")))
        if isinstance(self.broker, RedisBroker):  # dramatiq's keys: <ns>:<queue> list, <ns>:<queue>.msgs hash
            pipe = self.broker.client.pipeline(transaction=False)
            for queue in queues:
                key = f"{self.broker.namespace}:{queue}"
                pipe.llen(key)
                pipe.hlen(f"{key}.msgs")
                pipe.hlen(f"{key}.DQ.msgs")
            counts = pipe.execute()
            return {q: (counts[3 * i], counts[3 * i + 1] + counts[3 * i + 2]) for i, q in enumerate(queues)}
        stub = self.broker.queues  # StubBroker: queue.Queue objects (`unfinished_tasks` drops on ack)
        return {q: (stub[q].qsize() + stub[dq_name(q)].qsize(),
                    stub[q].unfinished_tasks + stub[dq_name(q)].unfinished_tasks) for q in queues}

    def ping(self, timeout_s: float = 2.0) -> None:
        """Raise unless the broker answers in `timeout_s` (Redis PING); the in-process broker always does."""
        if not isinstance(self.broker, RedisBroker):
            return
        import redis

        pool = self.broker.client.connection_pool
        probe = redis.Redis(connection_pool=redis.ConnectionPool(
            connection_class=pool.connection_class,
            **{**pool.connection_kwargs, "socket_connect_timeout": timeout_s, "socket_timeout": timeout_s}))
        try:
            probe.ping()
        finally:
            probe.close()
            probe.connection_pool.disconnect()

    # --- the in-process worker of embedded mode -------------------------------------------------
    def start_worker(self, threads: int = 8, queues: set[str] | None = None) -> dramatiq.Worker:
        self._worker = dramatiq.Worker(self.broker, queues=queues, worker_threads=threads, worker_timeout=100)
        self._worker.start()
        return self._worker

    def stop_worker(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        self.broker.close()
