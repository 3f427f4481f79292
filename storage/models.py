"""SQLAlchemy 2 models: accounts and workspaces, graphs and their immutable versions, runs, node runs, logs,
artifacts, and what hangs off them (secrets, schedules, webhooks, notifications, share links, audit log)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

JsonType = JSON().with_variant(JSONB(), "postgresql")


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JsonType, list[Any]: JsonType, Any: JsonType,
                           datetime: DateTime(timezone=True)}


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-case
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)  # argon2; None: OIDC only
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)  # instance administrator
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)  # False: disabled, cannot sign in
    locale: Mapped[str] = mapped_column(String(8), default="es")
    #: bumped on password change, disable and "sign out everywhere": sessions and tokens from before are dead
    auth_epoch: Mapped[int] = mapped_column(Integer, default=0)
    last_login_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Graph(Base):
    __tablename__ = "graphs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[Any]] = mapped_column(default=list)
    source: Mapped[str] = mapped_column(String(40), default="editor")  # editor, cli, sample, marketplace…
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    versions: Mapped[list[GraphVersion]] = relationship(back_populates="graph", order_by="GraphVersion.number")


class GraphVersion(Base):
    """A saved state of a graph. Never changed after it is written; runs point at one."""

    __tablename__ = "graph_versions"
    __table_args__ = (UniqueConstraint("graph_id", "number"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    graph_id: Mapped[str] = mapped_column(ForeignKey("graphs.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]]
    spec_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    graph: Mapped[Graph] = relationship(back_populates="versions")


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    graph_version_id: Mapped[str] = mapped_column(ForeignKey("graph_versions.id"), index=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)  # who started it
    share_link_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)  # started there
    #: hash of the secret that lets an anonymous share-link submitter (and only them) follow this run
    submission_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    inputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    outputs: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    executor: Mapped[str] = mapped_column(String(200), default="")  # who dispatches it, for recovery
    #: how to run: {"reuse_from": run id, "no_cache": bool, "force": [node ids], "timeout_s": float}
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)

    node_runs: Mapped[list[NodeRun]] = relationship(back_populates="run", order_by="NodeRun.id")


class NodeRun(Base):
    __tablename__ = "node_runs"
    __table_args__ = (UniqueConstraint("run_id", "node_id"), Index("ix_node_runs_run_state", "run_id", "state"),
                      Index("ix_node_runs_loop_item", "run_id", "loop", "item"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    node_id: Mapped[str] = mapped_column(String(64))
    node_type: Mapped[str] = mapped_column(String(100))
    queue: Mapped[str] = mapped_column(String(40), default="default")
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    queued_at: Mapped[datetime | None] = mapped_column(nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    duration_ms: Mapped[float | None] = mapped_column(nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    outputs: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    outputs_artifact: Mapped[str | None] = mapped_column(String(64), nullable=True)  # large outputs
    #: the item of a `flow.for_each` this node run belongs to (node id "<node>[<item>]"), else None
    item: Mapped[int | None] = mapped_column(Integer, nullable=True)
    loop: Mapped[str | None] = mapped_column(String(64), nullable=True)  # that for_each node's id
    cache_key: Mapped[str | None] = mapped_column(String(64), nullable=True)  # type, config and inputs hashed
    reused: Mapped[str | None] = mapped_column(String(8), nullable=True)  # "cache" or "run": not executed
    items_started: Mapped[int | None] = mapped_column(Integer, nullable=True)  # a for-each node: items begun

    run: Mapped[Run] = relationship(back_populates="node_runs")


class NodeCacheEntry(Base):
    """A node result kept for reuse: same node type, version, config and inputs give the same outputs."""

    __tablename__ = "node_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_type: Mapped[str] = mapped_column(String(100))
    outputs: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    outputs_artifact: Mapped[str | None] = mapped_column(String(64), nullable=True)
    size: Mapped[int] = mapped_column(BigInteger)  # bytes of outputs plus the files they refer to
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class RunLog(Base):
    __tablename__ = "run_logs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    node_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    level: Mapped[str] = mapped_column(String(10), default="info")
    message: Mapped[str] = mapped_column(Text)


class Artifact(Base):
    """A stored file's content, addressed by its sha256; names live on the references to it."""

    __tablename__ = "artifacts"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Secret(Base):
    """A named secret (API key, password) for the nodes; its value is encrypted at rest (storage/secrets.py)."""

    __tablename__ = "secrets"

    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    ciphertext: Mapped[str] = mapped_column(Text)  # "v1.<key id>.<base64 nonce + AES-GCM ciphertext>"
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Schedule(Base):
    """A graph run on a cron timetable, or for each new file in a watched folder (app/schedules.py)."""

    __tablename__ = "schedules"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    graph_id: Mapped[str] = mapped_column(ForeignKey("graphs.id", ondelete="CASCADE"), index=True)
    #: a pinned version; None runs the graph's latest version at each fire
    graph_version_id: Mapped[str | None] = mapped_column(ForeignKey("graph_versions.id", ondelete="SET NULL"),
                                                         nullable=True)
    inputs: Mapped[dict[str, Any]] = mapped_column(default=dict)  # preset run inputs
    cron: Mapped[str] = mapped_column(String(200), default="")  # "" for a folder watch
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")  # IANA name
    start_at: Mapped[datetime | None] = mapped_column(nullable=True)
    end_at: Mapped[datetime | None] = mapped_column(nullable=True)
    paused: Mapped[bool] = mapped_column(default=False)
    misfire: Mapped[str] = mapped_column(String(16), default="skip")  # "skip" or "catch_up_one"
    watch_dir: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    watch_input: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the graph's file input
    #: file name -> [size, mtime] seen at the last look: a file is taken once it stops changing
    watch_state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    checked_until: Mapped[datetime | None] = mapped_column(nullable=True)  # ticks up to here are handled
    last_run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_fire_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ScheduleFire(Base):
    """One tick of a schedule (or one picked-up file). Whoever inserts the row starts the run: exactly once."""

    __tablename__ = "schedule_fires"
    __table_args__ = (UniqueConstraint("schedule_id", "fire_at", "key", name="uq_schedule_fires_tick"),
                      Index("ix_schedule_fires_schedule_created", "schedule_id", "created_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    schedule_id: Mapped[str] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    fire_at: Mapped[datetime] = mapped_column()
    kind: Mapped[str] = mapped_column(String(16), default="cron")  # cron, manual, file
    key: Mapped[str] = mapped_column(String(300), default="")  # "" for cron ticks; the file name; a nonce
    run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Webhook(Base):
    """An address told about a graph's finished runs; its signing secret lives in the vault (app/webhooks.py)."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    graph_id: Mapped[str] = mapped_column(ForeignKey("graphs.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[Any]] = mapped_column(default=list)  # "run.succeeded", "run.failed"
    secret_name: Mapped[str] = mapped_column(String(100))  # the vault entry holding the signing secret
    description: Mapped[str] = mapped_column(String(500), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """One message to send about a finished run (a webhook POST or an email): pending, delivered or failed."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_state_next", "state", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))  # "webhook" or "email"
    webhook_id: Mapped[str | None] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=True,
                                                   index=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(2000))  # the URL or the email address
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(nullable=True)  # a sender is on it until then
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the receiver's HTTP status
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(nullable=True)


class InboundHook(Base):
    """The address that starts a graph's runs from outside: POST /api/v1/hooks/{token}, signed."""

    __tablename__ = "inbound_hooks"

    graph_id: Mapped[str] = mapped_column(ForeignKey("graphs.id", ondelete="CASCADE"), primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    secret_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SeenSignature(Base):
    """Signatures of inbound requests already accepted, kept past the timestamp window against replays."""

    __tablename__ = "seen_signatures"

    signature: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Notification(Base):
    """An in-app message: a run finished or failed."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_owner_created", "owner_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    graph_name: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")  # the run's error, when it failed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(nullable=True)


class GraphTimeSaved(Base):
    """Minutes of manual work one successful run of a graph saves, set by an owner or editor (analytics: the
    ROI estimate, docs/analytics.md)."""

    __tablename__ = "graph_time_saved"

    graph_id: Mapped[str] = mapped_column(ForeignKey("graphs.id", ondelete="CASCADE"), primary_key=True)
    minutes_per_run: Mapped[float] = mapped_column()
    updated_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# the account models, on the same metadata (Alembic and `Base.metadata` see them through this module)
from .models_accounts import (  # noqa: E402
    ApiToken,
    AuditEvent,
    AuthSession,
    Invitation,
    LoginAttempt,
    Membership,
    OneTimeToken,
    RefreshToken,
    ShareLink,
    UserIdentity,
    Workspace,
    WorkspaceFile,
)

__all__ = ["ApiToken", "AuditEvent", "AuthSession", "Invitation", "LoginAttempt", "Membership", "OneTimeToken",
           "RefreshToken", "ShareLink", "UserIdentity", "Workspace", "WorkspaceFile"]
