"""Assembly of the application from Settings: `Services` (one per process) and `WorkspaceServices` (one
scope's view of them). The services themselves live in their own modules (graphs, runs, secrets, ...)."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from typing import Any

from graph_runtime.engine import Engine
from graph_runtime.worker import BrokerOptions, Executor, make_broker
from marketplace.service import MarketplaceService
from nodes.files import Limits
from nodes.llm_client import LLMClient
from nodes.net import NetworkPolicy, SmtpServer
from nodes.registry import Registry, load_modules, load_plugins, registry
from storage.accounts import AccountRepository
from storage.analytics import AnalyticsRepository
from storage.artifacts import ArtifactStore, LocalFiles
from storage.audit import AuditRepository
from storage.auth import AuthRepository
from storage.cache import NodeCache
from storage.db import Database
from storage.graphs import GraphRepository
from storage.migrate import upgrade
from storage.runs import RunRepository
from storage.schedules import ScheduleRepository
from storage.secrets import SecretRepository

from .accounts import AccountService
from .admin import AdminService
from .analytics import AnalyticsService
from .audit import AuditLog
from .errors import NotFound
from .graphs import GraphService
from .lifecycle import Lifecycle
from .metrics import Metrics
from .password_reset import PasswordResetService
from .policy import Actor, Role, Scope
from .quotas import QuotaService
from .runs import GrantOutputs, RunService
from .schedules import Scheduler, ScheduleService
from .secrets import SecretReader, SecretService, secrets_box
from .settings import Settings
from .share_links import ShareLinkService
from .tokens import TokenService
from .workspaces import WorkspaceService

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
        self.accounts_repo = AccountRepository(self.db)
        self.audit = AuditLog(AuditRepository(self.db))
        self.accounts = AccountService(self.accounts_repo, AuthRepository(self.db), self.audit, settings.auth)
        self.secret_repo, self.secret_box = SecretRepository(self.db), secrets_box(settings)
        self.secret_reader = SecretReader(self.secret_repo, self.secret_box)
        if problem := self.secret_reader.check_key():
            log.error("%s", problem)
        local_id = self.accounts_repo.ensure_local_user()
        self.executor_name = (f"embedded:{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}" if settings.embedded
                              else "redis")
        self.cache = NodeCache(self.db, self.artifacts, max_bytes=settings.runtime.cache_max_mb * 1024 * 1024)
        self.engine = Engine(runs=run_repo, graphs=graph_repo, artifacts=self.artifacts, registry=self.registry,
                             executor_name=self.executor_name, max_nodes=settings.runtime.max_graph_nodes,
                             limits=node_limits(settings), models_dir=settings.models_dir,
                             llm=llm_client(settings), secrets=self.secret_reader.for_nodes,
                             cache=self.cache if settings.runtime.cache else None,
                             run_timeout_s=settings.runtime.run_timeout_s,
                             observers=[GrantOutputs(run_repo, self.artifacts)])
        broker = make_broker(BrokerOptions(redis_url=settings.redis_url, namespace=settings.broker.namespace,
                                           heartbeat_timeout_ms=settings.broker.heartbeat_timeout_ms,
                                           maintenance_chance=settings.broker.maintenance_chance))
        self.executor = Executor(self.engine, broker, self.registry.queues())
        self.graph_repo, self.run_repo, self.schedule_repo = graph_repo, run_repo, ScheduleRepository(self.db)
        #: the system acting in the installation's first workspace: the CLI, the samples, tests
        self.local_scope = self.scope_for(Actor.system(local_id))
        self.graphs = GraphService(graph_repo, self.registry, self.local_scope, settings.runtime.max_graph_nodes)
        self.secrets = SecretService(self.secret_repo, self.secret_box, self.local_scope, self.audit)
        self.runs = RunService(run_repo, self.engine, self.graphs, self.artifacts, self.secrets)
        from .hooks import Hooks  # webhooks, notifications and run events (docs/webhooks.md)

        self.hooks = Hooks(settings, self, network_policy(settings), smtp_server(settings))
        self.schedules = ScheduleService(self.schedule_repo, self.graphs, self.runs,
                                         watch_roots=settings.watch_roots,
                                         misfire_grace_s=settings.scheduler.misfire_grace_s,
                                         acting_as=self.acting_as)
        self.scheduler = Scheduler(self.schedules, settings.scheduler.poll_s)
        # accounts-wiring (one line per module)
        self.metrics = Metrics(self)  # Prometheus: an engine observer and the /metrics text (app/metrics.py)
        self.quotas = QuotaService(settings, self.db, self.registry)
        self.workspaces = WorkspaceService(self.accounts_repo, self.audit, settings, smtp_server(settings),
                                           quotas=self.quotas)
        self.password_reset = PasswordResetService(self.accounts, settings, smtp_server(settings))
        self.share_links = ShareLinkService(self)
        self.tokens = TokenService(settings, self.db, self.accounts_repo, self.audit, self.accounts)
        self.marketplace = MarketplaceService.build(self)
        self.analytics = AnalyticsService(AnalyticsRepository(self.db))
        self.lifecycle = Lifecycle.build(self)  # retention, sweeps, export/delete my data (docs/data.md)
        self.admin = AdminService(self)
        self._started = False

    def scope_for(self, actor: Actor, workspace_id: str | None = None) -> Scope:
        """The actor's Scope: their role in each workspace, working in `workspace_id` (NotFound unless they
        are a member) or else their personal workspace."""
        roles = {ws: Role(role) for ws, role in self.accounts_repo.roles(actor.user_id).items()}
        scope = Scope(actor, workspace_id or self.accounts_repo.personal_workspace(actor.user_id), roles)
        if workspace_id and scope.role(workspace_id) is None:
            raise NotFound(f"There is no workspace with id {workspace_id[:40]}, or you are not a member of it.")
        return scope

    def scoped(self, scope: Scope) -> WorkspaceServices:
        """The services as `scope` may use them (every method checks the scope's permissions)."""
        return WorkspaceServices(self, scope)

    def acting_as(self, user_id: str, workspace_id: str) -> WorkspaceServices:
        """The system acting for `user_id` in `workspace_id`: what schedules and inbound hooks start runs as
        (the runs are the user's, in that workspace)."""
        return WorkspaceServices(self, Scope(Actor.system(user_id), workspace_id))

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
        self.password_reset.wait_for_emails(timeout_s=3)  # a reset email being sent is not dropped
        if self._started and self.settings.embedded:
            self.executor.stop_worker()
        self._started = False
        self.db.dispose()

    def __enter__(self) -> Services:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class WorkspaceServices:
    """The per-request view of `Services` for one Scope: graphs, runs, secrets, schedules, webhooks and
    notifications bound to it; every other attribute (registry, artifacts, engine, settings...) is shared."""

    def __init__(self, base: Services, scope: Scope):
        self.base = base
        self.scope = scope
        self.graphs = GraphService(base.graph_repo, base.registry, scope, base.settings.runtime.max_graph_nodes)
        self.secrets = SecretService(base.secret_repo, base.secret_box, scope, base.audit)
        self.runs = RunService(base.run_repo, base.engine, self.graphs, base.artifacts, self.secrets,
                               getattr(base, "quotas", None))
        self.schedules = base.schedules.bound(self.graphs, self.runs)
        self.hooks = base.hooks.bound(self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.base, name)
