"""Plans and quotas: the one place that says whether a workspace's plan allows a run, an upload or a member
(docs/admin.md, "Plans and quotas").

The plans and their limits are settings (`settings.plans`); a workspace's plan is its `plan` column, changed by
an instance administrator (app/admin.py). RunService.start and RunService.upload (app/services.py) and
WorkspaceService.invite/accept_invitation (app/workspaces.py) call the checks below, so runs started by a
person, the API, a schedule, an inbound hook or a share link all count against the workspace they run in.

Decisions:
- A limit reached is QuotaExceeded (402 `quota_exceeded`), never retried: details {quota, limit, used, plan}.
- Runs per month count every run started in the calendar month (UTC), whatever its outcome.
- Storage counts each stored file the workspace holds once (uploads and run results). A full workspace
  refuses uploads and new runs (their results would not fit); results of a run already started are kept.
- Members count members and invitations that still work; accepting an invitation counts members only.
- Concurrent starts may pass a limit by the few that were checked at the same moment (no lock on purpose).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from nodes.registry import Registry
from storage.db import Database
from storage.models import utcnow
from storage.usage import UsageRepository

from .errors import NotFound, QuotaExceeded
from .policy import Scope
from .settings import PlanLimits, Settings

MB = 1024 * 1024
HEAVY_QUEUE = "media"
_ADMIN = "An instance administrator can change the workspace's plan."


@dataclass(frozen=True)
class Meter:
    """One limit of a plan and how much of it is used (`limit` None: unlimited)."""

    quota: str  # runs_per_month, storage_mb, members
    used: float
    limit: int | None

    @property
    def fraction(self) -> float | None:
        """Used ÷ limit (0-1), None when unlimited."""
        if self.limit is None:
            return None
        return 1.0 if self.limit == 0 else min(1.0, self.used / self.limit)


@dataclass(frozen=True)
class Usage:
    workspace_id: str
    plan: str
    limits: PlanLimits
    month_start: datetime
    runs: Meter
    storage: Meter  # in MB
    members: Meter  # members and pending invitations
    storage_bytes: int
    pending_invitations: int


def month_start(now: datetime | None = None) -> datetime:
    now = now or utcnow()
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(start: datetime) -> datetime:
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


def _mb(n_bytes: float) -> float:
    return round(n_bytes / MB, 1)


class QuotaService:
    def __init__(self, settings: Settings, db: Database, registry: Registry):
        self.plans = settings.plans
        self.repo = UsageRepository(db)
        self.registry = registry

    # --- reading -----------------------------------------------------------------------------------------------

    def plan_of(self, workspace_id: str) -> tuple[str, PlanLimits]:
        plan = self.repo.plan(workspace_id)
        if plan is None:
            raise NotFound("There is no such workspace.")
        return self.plans.name(plan), self.plans.of(plan)

    def usage(self, workspace_id: str) -> Usage:
        """The workspace's plan and what it uses of each limit (no permission check: see `usage_for`)."""
        plan, limits = self.plan_of(workspace_id)
        start = month_start()
        stored, pending = self.repo.storage_bytes(workspace_id), self.repo.pending_invitations(workspace_id)
        return Usage(workspace_id, plan, limits, start,
                     runs=Meter("runs_per_month", self.repo.runs_since(workspace_id, start), limits.runs_per_month),
                     storage=Meter("storage_mb", _mb(stored), limits.storage_mb),
                     members=Meter("members", self.repo.members(workspace_id) + pending, limits.members),
                     storage_bytes=stored, pending_invitations=pending)

    def usage_for(self, scope: Scope, workspace_id: str | None = None) -> Usage:
        """The usage of a workspace, for its owners (and instance administrators)."""
        workspace_id = workspace_id or scope.workspace_id
        if not scope.actor.is_admin:
            scope.require("usage.read", workspace_id, what="workspace")
        return self.usage(workspace_id)

    def heavy_node_types(self, spec: dict[str, Any]) -> list[str]:
        """The node types of a graph spec that run on the heavy ('media') queue."""
        types = {str(n.get("type")) for n in spec.get("nodes") or [] if isinstance(n, dict)}
        return sorted(t for t in types if (cls := self.registry.get(t)) is not None and cls.queue == HEAVY_QUEUE)

    # --- checks ------------------------------------------------------------------------------------------------

    def check_run(self, workspace_id: str, version: Any) -> None:
        """May the workspace start a run of `version` (a VersionRow or a spec dict)? QuotaExceeded if not."""
        plan, limits = self.plan_of(workspace_id)
        if not limits.heavy_nodes:
            spec = version if isinstance(version, dict) else version.spec
            heavy = self.heavy_node_types(spec)
            if heavy:
                raise QuotaExceeded(
                    f"This graph uses {', '.join(heavy)}, which run on the image and audio workers; the '{plan}' "
                    f"plan of this workspace does not include them. {_ADMIN}",
                    details={"quota": "heavy_nodes", "limit": False, "used": heavy, "plan": plan})
        if limits.runs_per_month is not None:
            start = month_start()
            used = self.repo.runs_since(workspace_id, start)
            if used >= limits.runs_per_month:
                raise QuotaExceeded(
                    f"This workspace has started {used} runs this month, and its '{plan}' plan allows "
                    f"{limits.runs_per_month} a month; runs can start again on {_next_month(start):%Y-%m-%d}. "
                    f"{_ADMIN}",
                    details={"quota": "runs_per_month", "limit": limits.runs_per_month, "used": used, "plan": plan})
        if limits.storage_mb is not None:
            stored = self.repo.storage_bytes(workspace_id)
            if stored >= limits.storage_mb * MB:
                raise QuotaExceeded(
                    f"This workspace's files take {_mb(stored)} MB, all of the {limits.storage_mb} MB its '{plan}' "
                    f"plan allows, so a run's results would not fit. {_ADMIN}",
                    details={"quota": "storage_mb", "limit": limits.storage_mb, "used": _mb(stored), "plan": plan})

    def check_upload(self, workspace_id: str, size: int, *, name: str = "") -> None:
        """May the workspace store a file of `size` bytes? QuotaExceeded if it is larger than the plan's largest
        file, or would take the workspace past its storage."""
        plan, limits = self.plan_of(workspace_id)
        what = f"'{name[:100]}'" if name else "This file"
        if limits.max_file_mb is not None and size > limits.max_file_mb * MB:
            raise QuotaExceeded(
                f"{what} is larger than {limits.max_file_mb} MB, the largest file the '{plan}' plan of this "
                f"workspace accepts. {_ADMIN}",
                details={"quota": "max_file_mb", "limit": limits.max_file_mb, "used": _mb(size), "plan": plan})
        if limits.storage_mb is not None:
            stored = self.repo.storage_bytes(workspace_id)
            if stored + size > limits.storage_mb * MB:
                raise QuotaExceeded(
                    f"{what} does not fit: this workspace's files take {_mb(stored)} MB of the "
                    f"{limits.storage_mb} MB its '{plan}' plan allows. {_ADMIN}",
                    details={"quota": "storage_mb", "limit": limits.storage_mb, "used": _mb(stored), "plan": plan})

    def check_member(self, workspace_id: str, *, email: str = "", accepting: bool = False) -> None:
        """May one more person join? Inviting counts members and invitations that still work (other than a new
        invitation of `email`, which replaces it); `accepting` counts members only."""
        plan, limits = self.plan_of(workspace_id)
        if limits.members is None:
            return
        members = self.repo.members(workspace_id)
        used = members if accepting else members + self.repo.pending_invitations(workspace_id, except_email=email)
        if used >= limits.members:
            counted = "members" if accepting else "members and pending invitations"
            raise QuotaExceeded(
                f"This workspace has {used} {counted}, as many as its '{plan}' plan allows ({limits.members}); "
                f"nobody else can join. {_ADMIN}",
                details={"quota": "members", "limit": limits.members, "used": used, "plan": plan})

    def metered(self, workspace_id: str, stream: IO[bytes], *, name: str = "") -> IO[bytes]:
        """`stream`, refusing (QuotaExceeded, before the file is kept) once more is read than the plan lets the
        workspace store: the largest file and the storage left, counted once before reading."""
        _, limits = self.plan_of(workspace_id)
        allowed = []
        if limits.max_file_mb is not None:
            allowed.append(limits.max_file_mb * MB)
        if limits.storage_mb is not None:
            allowed.append(limits.storage_mb * MB - self.repo.storage_bytes(workspace_id))
        if not allowed:
            return stream
        return _Metered(stream, max(min(allowed), 0), lambda size: self.check_upload(workspace_id, size, name=name))


class _Metered:
    """A readable stream that calls `refuse(size)` (which raises) once more than `allowed` bytes were read."""

    def __init__(self, stream: IO[bytes], allowed: int, refuse: Any):
        self.stream, self.allowed, self.refuse, self.size = stream, allowed, refuse, 0

    def read(self, n: int = -1) -> bytes:
        chunk = self.stream.read(n)
        self.size += len(chunk)
        if self.size > self.allowed:
            self.refuse(self.size)
            raise QuotaExceeded("This file does not fit in the workspace's plan. " + _ADMIN,
                                details={"quota": "storage_mb", "used": self.size})
        return chunk

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)
