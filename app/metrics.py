"""Prometheus metrics: runs and node runs (an engine observer), queue depth, HTTP latency (a middleware).

Each process counts what happens in it: `minddocs serve` the HTTP requests and the runs it starts (and,
without Redis, every node), `minddocs worker` the node runs and the runs it closes, `minddocs scheduler` the
runs its schedules start. The web app serves its own at /metrics (app/health.py); `minddocs worker
--metrics-port` and `minddocs scheduler --metrics-port` serve theirs on a port of their own
(docs/operations.md). A worker with several processes adds them up through prometheus-client's
multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by `minddocs worker`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from storage.graphs import GraphRepository
from storage.runs import RunRepository

if TYPE_CHECKING:
    from graph_runtime.worker import Executor

    from .services import Services

log = logging.getLogger("minddocs.metrics")

#: Seconds; node runs last from milliseconds (text) to many minutes (transcription, diffusion).
NODE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, float("inf"))
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, float("inf"))
OTHER_GRAPH = "other"

RUNS_STARTED = Counter("minddocs_runs_started", "Runs started, by graph id", ["graph"])
RUNS_FINISHED = Counter("minddocs_runs_finished", "Runs finished, by graph id and how they ended (succeeded, "
                        "failed)", ["graph", "state"])
NODE_RUNS = Counter("minddocs_node_runs", "Node runs ended, by node type and state (succeeded, failed, "
                    "skipped); reused results count as succeeded", ["node_type", "state"])
NODE_REUSED = Counter("minddocs_node_runs_reused", "Node runs whose result was reused (node cache or resumed "
                      "run) instead of executed, by node type", ["node_type"])
NODE_SECONDS = Histogram("minddocs_node_duration_seconds", "Time of the node runs that executed (reused ones "
                         "excluded), by node type and state", ["node_type", "state"], buckets=NODE_BUCKETS)
HTTP_SECONDS = Histogram("minddocs_http_request_duration_seconds", "HTTP requests: time to the end of the "
                         "answer, by method, route template and status", ["method", "route", "status"],
                         buckets=HTTP_BUCKETS)


class MetricsObserver:
    """Engine observer (graph_runtime/engine.py `Observer`): counts runs and node runs, times node runs.

    The graph label is the graph's id, for at most `max_graphs` graphs per process; runs of further graphs
    count under graph="other", so a busy instance cannot grow the number of series without bound.
    """

    def __init__(self, runs: RunRepository, graphs: GraphRepository, max_graphs: int = 200):
        self.runs = runs
        self.graphs = graphs
        self.max_graphs = max_graphs
        self._graph_of: OrderedDict[str, str] = OrderedDict()  # version id -> graph id (never changes)
        self._labels: set[str] = set()
        self._lock = threading.Lock()
        self._local = threading.local()  # the node run whose result was just reused (see node_reused)

    def run_started(self, run_id: str, version_id: str) -> None:
        RUNS_STARTED.labels(self._graph_label(version_id)).inc()

    def run_finished(self, run_id: str, state: str) -> None:
        info = self.runs.run_info(run_id)
        RUNS_FINISHED.labels(self._graph_label(info.version_id) if info else OTHER_GRAPH, state).inc()

    def before_node(self, run_id: str, node_id: str, node_type: str) -> None:
        pass

    def node_reused(self, run_id: str, node_id: str, node_type: str) -> None:
        self._local.reused = (run_id, node_id)  # the engine calls after_node next, in this thread

    def after_node(self, run_id: str, node_id: str, node_type: str, state: str, duration_ms: float) -> None:
        reused = getattr(self._local, "reused", None) == (run_id, node_id)
        self._local.reused = None
        NODE_RUNS.labels(node_type, state).inc()
        if reused:
            NODE_REUSED.labels(node_type).inc()
        elif state != "skipped":
            NODE_SECONDS.labels(node_type, state).observe(duration_ms / 1000)

    def _graph_label(self, version_id: str) -> str:
        with self._lock:
            graph_id = self._graph_of.get(version_id)
        if graph_id is None:
            version = self.graphs.version(version_id)
            graph_id = version.graph_id if version else OTHER_GRAPH
            with self._lock:
                self._graph_of[version_id] = graph_id
                while len(self._graph_of) > 4096:
                    self._graph_of.popitem(last=False)
        with self._lock:
            if graph_id in self._labels:
                return graph_id
            if len(self._labels) < self.max_graphs:
                self._labels.add(graph_id)
                return graph_id
        return OTHER_GRAPH


class QueueDepth(Collector):
    """Read at each scrape: messages per queue (Redis list lengths, or the in-process broker's queues)."""

    def __init__(self, executor: Executor):
        self.executor = executor

    def collect(self) -> Any:
        waiting = GaugeMetricFamily("minddocs_queue_depth", "Messages waiting for a worker, by queue",
                                    labels=["queue"])
        unfinished = GaugeMetricFamily("minddocs_queue_unfinished", "Messages not done yet (waiting, waiting "
                                       "for a retry, or running), by queue", labels=["queue"])
        up = GaugeMetricFamily("minddocs_broker_up", "1 when the broker answered this scrape, else 0")
        try:
            depths = self.executor.queue_depths()
        except Exception as exc:  # Redis down: the scrape still answers, with broker_up 0
            log.warning("Could not read the queue lengths: %s", exc)
            depths = None
        for queue, (ready, pending) in (depths or {}).items():
            waiting.add_metric([queue], ready)
            unfinished.add_metric([queue], pending)
        up.add_metric([], 0 if depths is None else 1)
        yield from (waiting, unfinished, up)


class Metrics:
    """The metrics of one Services: its engine observer, and the /metrics text with its queue depths."""

    def __init__(self, services: Services):
        settings = services.settings.observability
        self.observer = MetricsObserver(services.run_repo, services.graph_repo, settings.max_graph_labels)
        services.engine.observers.append(self.observer)
        self._queues = CollectorRegistry(auto_describe=False)
        self._queues.register(QueueDepth(services.executor))

    def render(self) -> tuple[bytes, str]:
        """The exposition text (process-wide metrics plus this instance's queues) and its content type."""
        return generate_latest(REGISTRY) + generate_latest(self._queues), CONTENT_TYPE_LATEST


class HttpMetrics:
    """ASGI middleware: the time of each HTTP request by method, route template (not the raw path: ids would
    make a series each) and status. Requests that match no route count as route="unmatched"."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            HTTP_SECONDS.labels(scope["method"], route_template(scope), str(status)).observe(
                time.perf_counter() - started)


def route_template(scope: dict) -> str:
    """The path template of the route that answered (`/api/v1/runs/{run_id}`), else "unmatched". Some routes
    (FastAPI's own /openapi.json, /docs) leave only their endpoint in the scope: it is looked up."""
    path = getattr(scope.get("route"), "path", None)
    if path:
        return path
    endpoint = scope.get("endpoint")
    if endpoint is not None:
        for route in getattr(scope.get("router"), "routes", ()):
            if getattr(route, "endpoint", None) is endpoint and getattr(route, "path", None):
                return route.path
    return "unmatched"


def start_metrics_server(port: int, host: str = "0.0.0.0") -> None:
    """Serve this process's metrics on `port` in a thread (`minddocs scheduler --metrics-port`)."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=host)
    log.info("Metrics at http://%s:%d/metrics", host, port)


def serve_worker_metrics() -> None:
    """Dramatiq fork function of `minddocs worker --metrics-port`: the metrics of all its worker processes,
    added up from PROMETHEUS_MULTIPROC_DIR, on MINDDOCS_WORKER_METRICS_PORT. Blocks until the worker stops."""
    from prometheus_client import multiprocess, start_http_server

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    port = int(os.environ["MINDDOCS_WORKER_METRICS_PORT"])
    start_http_server(port, addr=os.environ.get("MINDDOCS_WORKER_METRICS_HOST", "0.0.0.0"), registry=registry)
    logging.getLogger("minddocs.metrics").info("Worker metrics at http://0.0.0.0:%d/metrics", port)
    while True:
        time.sleep(3600)
