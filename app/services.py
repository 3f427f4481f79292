"""Assembly of the application from Settings, and the services that the UI, API and CLI call."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Collection
from pathlib import Path
from typing import IO, Any

from graph_runtime.engine import Engine
from graph_runtime.errors import GraphInvalid, InputsInvalid
from graph_runtime.formats import GraphFormatError, load_graph
from graph_runtime.plan import Plan
from graph_runtime.spec import GraphSpec
from graph_runtime.validate import Issue, validate_graph
from graph_runtime.worker import BrokerOptions, Executor, make_broker
from nodes.files import Limits, sniff
from nodes.llm_client import LLMClient
from nodes.net import NetworkPolicy, SmtpServer
from nodes.ports import FileRef
from nodes.registry import Registry, load_modules, load_plugins, registry
from storage.artifacts import ArtifactTooLarge, ArtifactStore, LocalFiles
from storage.cache import NodeCache
from storage.db import Database
from storage.graphs import GraphRepository, GraphRow, VersionConflict, VersionRow
from storage.migrate import upgrade
from storage.runs import RunRepository, RunView
from storage.schedules import ScheduleRepository
from storage.secrets import SecretRepository

from .errors import (
    Conflict,
    InvalidGraph,
    InvalidInputs,
    NotFound,
    TooLarge,
)
from .schedules import Scheduler, ScheduleService
from .secrets import SecretService, missing_secrets, secrets_box  # noqa: F401  (SecretService: part of this API)
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
                  max_audio_seconds=limits.max_audio_minutes * 60,
                  max_table_rows=limits.max_table_rows, max_archive_files=limits.max_archive_files,
                  network=network_policy(settings), smtp=smtp_server(settings))


def network_policy(settings: Settings) -> NetworkPolicy:
    network = settings.network
    return NetworkPolicy(allowed_hosts=tuple(network.allowed_hosts), timeout_s=network.timeout_s,
                         max_response_bytes=int(network.max_response_mb * 1024 * 1024), ca_file=network.ca_file)


def smtp_server(settings: Settings) -> SmtpServer | None:
    smtp = settings.smtp
    if not smtp.host:
        return None
    return SmtpServer(host=smtp.host, port=smtp.port, security=smtp.security, username=smtp.username,
                      password=smtp.password.get_secret_value() if smtp.password else None, sender=smtp.sender,
                      timeout_s=smtp.timeout_s, max_message_bytes=int(smtp.max_message_mb * 1024 * 1024),
                      ca_file=smtp.ca_file)


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
                               details=[{"code": "format", "message": p, "node_id": None, "port": None, "params": {}}
                                        for p in exc.problems]) from None

    def check(self, spec: GraphSpec) -> list[Issue]:
        return validate_graph(spec, self.registry, max_nodes=self.max_nodes)

    def validate(self, source: str | bytes | dict[str, Any]) -> list[dict[str, Any]]:
        """Every problem of a graph, as JSON; empty when it can run."""
        try:
            spec = load_graph(source)
        except GraphFormatError as exc:
            return [{"code": "format", "message": p, "node_id": None, "port": None, "params": {}} for p in exc.problems]
        return [issue.to_json() for issue in self.check(spec)]

    def save(self, source: str | bytes | dict[str, Any], *, graph_id: str | None = None,
             source_kind: str = "editor", expected_version: int | None = None) -> VersionRow:
        """Save a graph (new, or a new version of `graph_id`). Graphs with problems are saved too:
        people save work in progress; running is what requires a clean graph.

        `expected_version`: the version number the editor loaded. When someone saved a newer version since,
        Conflict (code `version_conflict`) instead of silently overwriting their work; None: no check."""
        spec = self.parse(source).to_json()
        if graph_id is None:
            return self.repo.create(self.owner_id, spec, source=source_kind)
        self.get(graph_id)
        try:
            return self.repo.add_version(graph_id, spec, expected=expected_version)
        except VersionConflict as exc:
            raise Conflict(f"This graph changed since you opened it: you edited version {exc.expected}, and "
                           f"version {exc.latest} was saved since. Reload the graph to see the other changes, "
                           "then apply yours again.", code="version_conflict",
                           details={"expected_version": exc.expected, "latest_version": exc.latest}) from None

    def save_named(self, source: str | bytes | dict[str, Any], source_kind: str) -> VersionRow:
        """Save under the graph of the same name from the same source (CLI files, samples)."""
        spec = self.parse(source)
        graph_id = self.repo.find_by_name(self.owner_id, spec.meta.name, source_kind)
        return self.save(spec.to_json(), graph_id=graph_id, source_kind=source_kind)

    def list(self, *, search: str | None = None, tag: str | None = None, source: str | None = None
             ) -> list[GraphRow]:
        """The graphs, most recently changed first; `search` matches name or description (any case),
        `tag` one of the tags exactly, `source` where the graph came from ('editor', 'cli', 'sample', ...)."""
        rows = self.repo.list(owner_id=self.owner_id)
        if search:
            needle = search.casefold()
            rows = [r for r in rows if needle in r.name.casefold() or needle in r.description.casefold()]
        if tag:
            rows = [r for r in rows if tag in r.tags]
        if source:
            rows = [r for r in rows if r.source == source]
        return rows

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
    def __init__(self, runs: RunRepository, engine: Engine, graphs: GraphService, artifacts: ArtifactStore,
                 secrets: SecretService | None = None):
        self.runs = runs
        self.engine = engine
        self.graphs = graphs
        self.artifacts = artifacts
        self.secrets = secrets

    def upload(self, stream: IO[bytes], *, name: str, media_type: str | None = None,
               kinds: Collection[str] | None = None) -> FileRef:
        """Store an uploaded file. With `kinds` (sniffed kinds such as 'docx', 'html', 'text'), a file of
        another kind is refused: InvalidInputs whose details say {"kind", "accepted"}."""
        try:
            ref = self.artifacts.put_stream(stream, name=name, media_type=media_type)
        except ArtifactTooLarge as exc:
            raise TooLarge(str(exc) + " Ask the administrator to raise MINDDOCS_STORAGE__MAX_UPLOAD_MB.") from None
        if kinds:
            kind = sniff(self.artifacts.path(ref))
            if kind not in kinds:
                shown = {"empty": "empty (0 bytes)", "unknown": "not a format MindDocs recognises",
                         "corrupt_zip": "a damaged ZIP-based file"}.get(kind, f"a {kind.upper()} file")
                raise InvalidInputs(f"'{name}' is {shown}; this setting accepts "
                                    f"{', '.join(sorted(k.upper() for k in kinds))}.", code="wrong_file_type",
                                    details={"kind": kind, "accepted": sorted(kinds)})
        return ref

    def start(self, version_id: str, inputs: dict[str, Any], *, no_cache: bool = False,
              force: list[str] | None = None, reuse_from: str | None = None) -> str:
        """Start a run. `no_cache`: execute every node; `force`: these nodes execute even when a result
        could be reused; `reuse_from`: reuse unchanged node results of that run (see `resume`)."""
        version = self.graphs.version(version_id)
        try:
            if self.secrets is not None:  # before anything runs, not as a failure halfway through
                missing = missing_secrets(self.engine.load(version.id).nodes.values(), self.secrets.names())
                if missing:
                    names = ", ".join(sorted({f"'{issue['params']['secret']}'" for issue in missing}))
                    raise InvalidGraph(f"The graph uses secrets that do not exist: {names}. Create them on the "
                                       "Secrets page (or with POST /api/v1/secrets), or choose other secrets in the "
                                       "nodes' settings, before running it.", details=missing, code="secret_missing")
            return self.engine.start(version.id, self.graphs.owner_id, inputs,
                                     {"no_cache": no_cache, "force": list(force or []), "reuse_from": reuse_from})
        except GraphInvalid as exc:
            raise InvalidGraph("The graph has problems; fix them before running it.",
                               details=[i.to_json() for i in exc.issues]) from None
        except InputsInvalid as exc:
            raise InvalidInputs("Some inputs are missing or wrong: " + "; ".join(
                f"'{k}' {v}" for k, v in exc.problems.items()) + ".", details=exc.problems) from None

    def rerun(self, run_id: str) -> str:
        """Run the same graph version again with the same inputs; every node executes again."""
        run = self.get(run_id)
        return self.start(run.graph_version_id, run.inputs, no_cache=True)

    def resume(self, run_id: str, *, version_id: str | None = None, inputs: dict[str, Any] | None = None) -> str:
        """Continue a run that failed or was cancelled, after fixing the graph or the inputs.

        A new run of `version_id` (default: the latest version of the run's graph) with `inputs` (default:
        the same): nodes whose type, settings and inputs are unchanged reuse the old run's results, the
        failed ones and everything that changed run again.
        """
        run = self.get(run_id)
        if version_id is None:
            version_id = self.graphs.latest(self.graphs.version(run.graph_version_id).graph_id).id
        return self.start(version_id, run.inputs if inputs is None else inputs, reuse_from=run.id)

    def get(self, run_id: str) -> RunView:
        run = self.runs.get(run_id)
        if run is None or run.owner_id != self.graphs.owner_id:
            raise NotFound(f"There is no run with id {run_id}.")
        return run

    def list(self, limit: int = 50, *, graph_id: str | None = None, state: str | None = None,
             after: tuple[Any, str] | None = None) -> list[RunView]:
        """Newest first; `graph_id`: runs of any version of that graph; `after`: (created_at, id) of the
        last run of the previous page."""
        version_ids = None
        if graph_id is not None:
            self.graphs.get(graph_id)
            version_ids = [v.id for v in self.graphs.repo.versions(graph_id)]
        return self.runs.list(owner_id=self.graphs.owner_id, limit=limit, graph_version_ids=version_ids,
                              state=state, after=after)

    def cancel(self, run_id: str) -> bool:
        self.get(run_id)
        return self.engine.cancel(run_id)

    def logs(self, run_id: str) -> list[dict[str, Any]]:
        self.get(run_id)
        return self.runs.logs(run_id)

    def output(self, run_id: str, name: str) -> Any:
        """One output value of a finished run (a file output is a FileRef as JSON)."""
        run = self.get(run_id)
        if not run.finished:
            raise Conflict(f"Run {run_id} is still {run.state}; its outputs exist once it has finished. Wait for "
                           "it (GET /api/v1/runs/{id} until 'state' is succeeded, failed or cancelled).",
                           code="run_not_finished", details={"state": run.state})
        outputs = run.outputs or {}
        if name not in outputs:
            known = ", ".join(f"'{k}'" for k in sorted(outputs)) or "none"
            raise NotFound(f"Run {run_id} has no output '{name[:100]}'; its outputs are: {known}.",
                           details={"outputs": sorted(outputs), "state": run.state})
        return outputs[name]

    def text_inputs(self, version_id: str, fields: dict[str, str]) -> dict[str, Any]:
        """Inputs given as text (form fields): 'json' inputs are parsed; the others are checked when the run
        starts (numbers and true/false are read from text there)."""
        if not fields:
            return {}
        kinds = {d["name"]: d["kind"] for d in self.graphs.interface(version_id)["inputs"]}
        values: dict[str, Any] = {}
        for name, raw in fields.items():
            if kinds.get(name) == "json":
                try:
                    values[name] = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise InvalidInputs(f"Input '{name}' must be JSON: {exc.msg} at character {exc.pos}.",
                                        details={name: "is not valid JSON"}) from None
            else:
                values[name] = raw
        return values

    def wait(self, run_id: str, timeout_s: float = 600, poll_s: float = 0.05) -> RunView:
        """The run once finished (or at the deadline), with its node runs; polls only the run's own row."""
        self.get(run_id)
        deadline = time.monotonic() + timeout_s
        while True:
            run = self.runs.get(run_id, with_nodes=False)
            if run is None or run.finished or time.monotonic() >= deadline:
                return self.get(run_id)
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
        self.secrets = SecretService(SecretRepository(self.db), secrets_box(settings))
        if problem := self.secrets.check_key():
            log.error("%s", problem)
        owner_id = graph_repo.ensure_user()
        self.executor_name = (f"embedded:{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}" if settings.embedded
                              else "redis")
        self.cache = NodeCache(self.db, self.artifacts, max_bytes=settings.runtime.cache_max_mb * 1024 * 1024)
        self.engine = Engine(runs=run_repo, graphs=graph_repo, artifacts=self.artifacts, registry=self.registry,
                             executor_name=self.executor_name, max_nodes=settings.runtime.max_graph_nodes,
                             limits=node_limits(settings), models_dir=settings.models_dir,
                             llm=llm_client(settings), secrets=self.secrets.for_nodes,
                             cache=self.cache if settings.runtime.cache else None,
                             run_timeout_s=settings.runtime.run_timeout_s)
        broker = make_broker(BrokerOptions(redis_url=settings.redis_url, namespace=settings.broker.namespace,
                                           heartbeat_timeout_ms=settings.broker.heartbeat_timeout_ms,
                                           maintenance_chance=settings.broker.maintenance_chance))
        self.executor = Executor(self.engine, broker, self.registry.queues())
        self.graphs = GraphService(graph_repo, self.registry, owner_id, settings.runtime.max_graph_nodes)
        self.runs = RunService(run_repo, self.engine, self.graphs, self.artifacts, self.secrets)
        from .hooks import Hooks  # webhooks, notifications and run events (docs/webhooks.md)

        self.hooks = Hooks(settings, self, network_policy(settings), smtp_server(settings))
        self.schedules = ScheduleService(ScheduleRepository(self.db), self.graphs, self.runs,
                                         watch_roots=settings.watch_roots,
                                         misfire_grace_s=settings.scheduler.misfire_grace_s)
        self.scheduler = Scheduler(self.schedules, settings.scheduler.poll_s)
        self._started = False

    def start(self, *, scheduler: bool = True) -> None:
        """Embedded mode: start the in-process worker and resume runs a dead process left behind.
        With `scheduler` (and MINDDOCS_SCHEDULER__IN_SERVER, default: without Redis), tick the schedules
        in a thread too."""
        if self.settings.load_samples:
            self.graphs.load_samples(self.settings.samples_dir)
        if self.settings.embedded and not self._started:
            self.executor.start_worker(threads=self.settings.runtime.worker_threads)
            resumed = self.engine.recover(_embedded_executor_is_dead, prefix="embedded:")
            if resumed:
                log.warning("Resumed %d run(s) left unfinished by a stopped process.", len(resumed))
        in_server = self.settings.scheduler.in_server
        if scheduler and not self._started and (self.settings.embedded if in_server is None else in_server):
            self.scheduler.start()
        if not self._started:
            self.hooks.start()
        self._started = True

    def close(self) -> None:
        self.scheduler.stop()
        self.hooks.close()
        if self._started and self.settings.embedded:
            self.executor.stop_worker()
        self._started = False
        self.db.dispose()

    def __enter__(self) -> Services:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
