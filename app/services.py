"""Assembly of the application from Settings, and the services that the UI, API and CLI call."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from pathlib import Path
from typing import IO, Any

from graph_runtime.engine import Engine
from graph_runtime.errors import GraphInvalid, InputsInvalid
from graph_runtime.formats import GraphFormatError, load_graph
from graph_runtime.plan import Plan
from graph_runtime.spec import GraphSpec
from graph_runtime.validate import Issue, validate_graph
from graph_runtime.worker import BrokerOptions, Executor, make_broker
from nodes.files import Limits
from nodes.llm_client import LLMClient
from nodes.ports import FileRef
from nodes.registry import Registry, load_modules, load_plugins, registry
from storage.artifacts import ArtifactTooLarge, ArtifactStore, LocalFiles
from storage.db import Database
from storage.graphs import GraphRepository, GraphRow, VersionRow
from storage.migrate import upgrade
from storage.runs import RunRepository, RunView

from .errors import InvalidGraph, InvalidInputs, NotFound, TooLarge
from .settings import Settings

log = logging.getLogger("minddocs")

_HOST = socket.gethostname()


def load_registry(settings: Settings) -> Registry:
    import nodes.builtin  # noqa: F401  (also loaded through its entry point; this works uninstalled)

    load_plugins(registry)
    load_modules(settings.runtime.node_modules)
    return registry


def node_limits(settings: Settings) -> Limits:
    limits = settings.limits
    return Limits(max_pages=limits.max_pages, max_image_pixels=int(limits.max_image_megapixels * 1_000_000),
                  max_uncompressed_bytes=limits.max_uncompressed_mb * 1024 * 1024,
                  max_compression_ratio=limits.max_compression_ratio,
                  max_audio_seconds=limits.max_audio_minutes * 60)


def llm_client(settings: Settings) -> LLMClient | None:
    """The language-model client, or None when no endpoint is configured (nodes then work offline)."""
    llm = settings.llm
    if not llm.base_url:
        return None
    return LLMClient(base_url=llm.base_url, model=llm.model,
                     api_key=llm.api_key.get_secret_value() if llm.api_key else None,
                     temperature=llm.temperature, timeout_s=llm.timeout_s, max_retries=llm.max_retries,
                     context_tokens=llm.context_tokens)


def _embedded_executor_is_dead(name: str) -> bool:
    """Whether the embedded process named `embedded:<host>:<pid>:<token>` is gone."""
    try:
        _, host, pid, _token = name.split(":", 3)
    except ValueError:
        return True
    if host != _HOST or int(pid) == os.getpid():
        return True  # another machine cannot share an embedded database; our pid means a past life
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class GraphService:
    def __init__(self, repo: GraphRepository, registry: Registry, owner_id: str, max_nodes: int):
        self.repo = repo
        self.registry = registry
        self.owner_id = owner_id
        self.max_nodes = max_nodes

    def parse(self, source: str | bytes | dict[str, Any]) -> GraphSpec:
        try:
            return load_graph(source)
        except GraphFormatError as exc:
            raise InvalidGraph("The graph file cannot be read.",
                               details=[{"code": "format", "message": p, "node_id": None, "port": None}
                                        for p in exc.problems]) from None

    def check(self, spec: GraphSpec) -> list[Issue]:
        return validate_graph(spec, self.registry, max_nodes=self.max_nodes)

    def validate(self, source: str | bytes | dict[str, Any]) -> list[dict[str, Any]]:
        """Every problem of a graph, as JSON; empty when it can run."""
        try:
            spec = load_graph(source)
        except GraphFormatError as exc:
            return [{"code": "format", "message": p, "node_id": None, "port": None} for p in exc.problems]
        return [issue.to_json() for issue in self.check(spec)]

    def save(self, source: str | bytes | dict[str, Any], *, graph_id: str | None = None,
             source_kind: str = "editor") -> VersionRow:
        """Save a graph (new, or a new version of `graph_id`). Graphs with problems are saved too:
        people save work in progress; running is what requires a clean graph."""
        spec = self.parse(source).to_json()
        if graph_id is None:
            return self.repo.create(self.owner_id, spec, source=source_kind)
        self.get(graph_id)
        return self.repo.add_version(graph_id, spec)

    def save_named(self, source: str | bytes | dict[str, Any], source_kind: str) -> VersionRow:
        """Save under the graph of the same name from the same source (CLI files, samples)."""
        spec = self.parse(source)
        graph_id = self.repo.find_by_name(self.owner_id, spec.meta.name, source_kind)
        return self.save(spec.to_json(), graph_id=graph_id, source_kind=source_kind)

    def list(self) -> list[GraphRow]:
        return self.repo.list(owner_id=self.owner_id)

    def get(self, graph_id: str) -> GraphRow:
        row = self.repo.get(graph_id)
        if row is None or row.owner_id != self.owner_id:
            raise NotFound(f"There is no graph with id {graph_id}.")
        return row

    def version(self, version_id: str) -> VersionRow:
        row = self.repo.version(version_id)
        if row is None:
            raise NotFound(f"There is no graph version with id {version_id}.")
        self.get(row.graph_id)
        return row

    def latest(self, graph_id: str) -> VersionRow:
        self.get(graph_id)
        return self.repo.latest_version(graph_id)  # type: ignore[return-value]

    def interface(self, version_id: str) -> dict[str, Any]:
        plan = Plan(load_graph(self.version(version_id).spec))
        return {"inputs": [d.to_json() for d in plan.inputs], "outputs": sorted(plan.outputs)}

    def load_samples(self, directory: Path) -> int:
        count = 0
        for path in sorted(directory.glob("*.json")):
            self.save_named(path.read_text(encoding="utf-8"), "sample")
            count += 1
        return count


class RunService:
    def __init__(self, runs: RunRepository, engine: Engine, graphs: GraphService, artifacts: ArtifactStore):
        self.runs = runs
        self.engine = engine
        self.graphs = graphs
        self.artifacts = artifacts

    def upload(self, stream: IO[bytes], *, name: str, media_type: str | None = None) -> FileRef:
        try:
            return self.artifacts.put_stream(stream, name=name, media_type=media_type)
        except ArtifactTooLarge as exc:
            raise TooLarge(str(exc) + " Ask the administrator to raise MINDDOCS_STORAGE__MAX_UPLOAD_MB.") from None

    def start(self, version_id: str, inputs: dict[str, Any]) -> str:
        version = self.graphs.version(version_id)
        try:
            return self.engine.start(version.id, self.graphs.owner_id, inputs)
        except GraphInvalid as exc:
            raise InvalidGraph("The graph has problems; fix them before running it.",
                               details=[i.to_json() for i in exc.issues]) from None
        except InputsInvalid as exc:
            raise InvalidInputs("Some inputs are missing or wrong: " + "; ".join(
                f"'{k}' {v}" for k, v in exc.problems.items()) + ".", details=exc.problems) from None

    def get(self, run_id: str) -> RunView:
        run = self.runs.get(run_id)
        if run is None or run.owner_id != self.graphs.owner_id:
            raise NotFound(f"There is no run with id {run_id}.")
        return run

    def list(self, limit: int = 50) -> list[RunView]:
        return self.runs.list(owner_id=self.graphs.owner_id, limit=limit)

    def cancel(self, run_id: str) -> bool:
        self.get(run_id)
        return self.engine.cancel(run_id)

    def logs(self, run_id: str) -> list[dict[str, Any]]:
        self.get(run_id)
        return self.runs.logs(run_id)

    def wait(self, run_id: str, timeout_s: float = 600, poll_s: float = 0.05) -> RunView:
        deadline = time.monotonic() + timeout_s
        while True:
            run = self.get(run_id)
            if run.finished or time.monotonic() >= deadline:
                return run
            time.sleep(poll_s)


class Services:
    """Everything one process needs, built from Settings: database, artifacts, registry, engine, broker."""

    def __init__(self, settings: Settings):
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(settings.db_url)
        upgrade(self.db)
        self.registry = load_registry(settings)
        self.artifacts = ArtifactStore(self.db, LocalFiles(settings.artifacts_dir),
                                       max_bytes=settings.storage.max_upload_mb * 1024 * 1024)
        graph_repo, run_repo = GraphRepository(self.db), RunRepository(self.db)
        owner_id = graph_repo.ensure_user()
        self.executor_name = (f"embedded:{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}" if settings.embedded
                              else "redis")
        self.engine = Engine(runs=run_repo, graphs=graph_repo, artifacts=self.artifacts, registry=self.registry,
                             executor_name=self.executor_name, max_nodes=settings.runtime.max_graph_nodes,
                             limits=node_limits(settings), models_dir=settings.models_dir,
                             llm=llm_client(settings))
        broker = make_broker(BrokerOptions(redis_url=settings.redis_url, namespace=settings.broker.namespace,
                                           heartbeat_timeout_ms=settings.broker.heartbeat_timeout_ms,
                                           maintenance_chance=settings.broker.maintenance_chance))
        self.executor = Executor(self.engine, broker, self.registry.queues())
        self.graphs = GraphService(graph_repo, self.registry, owner_id, settings.runtime.max_graph_nodes)
        self.runs = RunService(run_repo, self.engine, self.graphs, self.artifacts)
        self._started = False

    def start(self) -> None:
        """Embedded mode: start the in-process worker and resume runs a dead process left behind."""
        if self.settings.load_samples:
            self.graphs.load_samples(self.settings.samples_dir)
        if self.settings.embedded and not self._started:
            self.executor.start_worker(threads=self.settings.runtime.worker_threads)
            resumed = self.engine.recover(_embedded_executor_is_dead, prefix="embedded:")
            if resumed:
                log.warning("Resumed %d run(s) left unfinished by a stopped process.", len(resumed))
        self._started = True

    def close(self) -> None:
        if self._started and self.settings.embedded:
            self.executor.stop_worker()
        self._started = False
        self.db.dispose()

    def __enter__(self) -> Services:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
