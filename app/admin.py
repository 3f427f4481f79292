"""The admin area's service: users, workspaces and their plans, queues, failed runs, the settings in force
(docs/admin.md). For instance administrators only: every method answers NotFound to anybody else, so the admin
area does not even show that it exists.

Decisions:
- An administrator reads any run through `run()` here, read-only (state, error, nodes, log); they are not
  made a member of the run's workspace and cannot change, rerun or download anything from there.
- "Invite" a person = create their account without a password and make a single-use link (the password-reset
  link) that lets them choose one; the administrator passes it on (it is not emailed).
- The last active administrator cannot be disabled nor lose the administrator right; nobody disables
  themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, SecretStr

from storage.accounts import UserRow
from storage.runs import RunView
from storage.usage import FailedRunRow, UsageRepository, WorkspaceUsageRow

from .errors import Conflict, InvalidRequest, NotFound
from .policy import Scope
from .quotas import Usage
from .settings import PlanLimits

if TYPE_CHECKING:
    from .services import Services

MASK = "••••••"
#: setting names whose values are secrets even when typed as plain strings
_SECRET_NAME = re.compile(r"(^|_)(password|passwd|secret|token|api_key|key|private_key|credentials?)$", re.IGNORECASE)


@dataclass(frozen=True)
class NewUser:
    user: UserRow
    link: str  # sets their password, once


@dataclass(frozen=True)
class QueueState:
    node_runs: dict[str, dict[str, int]]  # queue -> {pending|queued|running: count}
    broker: dict[str, dict[str, int]]  # queue -> {waiting, unfinished}
    broker_kind: str  # "redis" or "embedded"
    runs: dict[str, int]  # run state -> count


@dataclass(frozen=True)
class SettingRow:
    key: str  # e.g. auth.session_days
    env: str  # MINDDOCS_AUTH__SESSION_DAYS
    value: str
    secret: bool


class AdminService:
    def __init__(self, services: Services):
        self.services = services
        self.repo = UsageRepository(services.db)

    def _require(self, scope: Scope) -> None:
        if not scope.actor.is_admin:
            raise NotFound("There is no such page.")

    # --- users -------------------------------------------------------------------------------------------------

    def users(self, scope: Scope) -> list[UserRow]:
        self._require(scope)
        return [u for u in self.services.accounts_repo.users() if u.claimed]

    def user(self, scope: Scope, user_id: str) -> UserRow:
        self._require(scope)
        user = self.services.accounts_repo.user(user_id)
        if user is None or not user.claimed:
            raise NotFound("There is no such account.")
        return user

    def create_user(self, scope: Scope, email: str, *, name: str = "", is_admin: bool = False,
                    locale: str = "es") -> NewUser:
        """An account without a password, and the link with which its person chooses one."""
        self._require(scope)
        user = self.services.accounts.create_user(email, None, name=name, is_admin=is_admin,
                                                  locale=locale if locale in ("es", "en") else "es")
        self.services.audit.record(scope.actor, "user.created", target_type="user", target_id=user.id,
                                   details={"email": user.email, "is_admin": user.is_admin, "by_admin": True})
        return NewUser(user, self.services.password_reset.admin_link(scope, user.id))

    def set_active(self, scope: Scope, user_id: str, active: bool) -> UserRow:
        """Disable (their sessions and API tokens end at once; their work stays) or enable an account."""
        user = self.user(scope, user_id)
        if not active and user.id == scope.user_id:
            raise Conflict("You cannot disable your own account; ask another administrator.", code="self")
        if not active:
            self._keep_an_admin(user)
        if user.is_active == active:
            return user
        changed = self.services.accounts_repo.update_user(user.id, is_active=active, bump_epoch=not active)
        self.services.audit.record(scope.actor, "user.enabled" if active else "user.disabled", target_type="user",
                                   target_id=user.id, details={"email": user.email})
        return changed

    def set_admin(self, scope: Scope, user_id: str, is_admin: bool) -> UserRow:
        user = self.user(scope, user_id)
        if not is_admin:
            self._keep_an_admin(user)
        if user.is_admin == is_admin:
            return user
        changed = self.services.accounts_repo.update_user(user.id, is_admin=is_admin)
        self.services.audit.record(scope.actor, "user.admin_granted" if is_admin else "user.admin_revoked",
                                   target_type="user", target_id=user.id, details={"email": user.email})
        return changed

    def reset_link(self, scope: Scope, user_id: str) -> str:
        """A single-use password-reset link for the account, to pass on privately."""
        user = self.user(scope, user_id)
        return self.services.password_reset.admin_link(scope, user.id)

    def _keep_an_admin(self, user: UserRow) -> None:
        if user.is_admin and user.is_active:
            admins = [u for u in self.services.accounts_repo.users() if u.is_admin and u.is_active and u.claimed]
            if len(admins) <= 1:
                raise Conflict(f"{user.email} is the only active administrator; make someone else an administrator "
                               "first.", code="last_admin")

    # --- workspaces and plans ----------------------------------------------------------------------------------

    def workspaces(self, scope: Scope) -> list[WorkspaceUsageRow]:
        self._require(scope)
        return self.repo.workspaces()

    def plans(self, scope: Scope) -> dict[str, PlanLimits]:
        self._require(scope)
        return dict(self.services.settings.plans.limits)

    def usage(self, scope: Scope, workspace_id: str) -> Usage:
        self._require(scope)
        return self.services.quotas.usage(workspace_id)

    def set_plan(self, scope: Scope, workspace_id: str, plan: str) -> Usage:
        """Put the workspace on `plan` (one of settings.plans.limits); audited as workspace.plan_changed."""
        self._require(scope)
        plans = self.services.settings.plans.limits
        if plan not in plans:
            raise InvalidRequest(f"There is no plan '{str(plan)[:40]}'; the plans are: {', '.join(sorted(plans))} "
                                 "(MINDDOCS_PLANS__LIMITS configures them).", code="unknown_plan",
                                 details={"field": "plan", "plans": sorted(plans)})
        previous = self.repo.set_plan(workspace_id, plan)
        if previous is None:
            raise NotFound("There is no such workspace.")
        if previous != plan:
            self.services.audit.record(scope.actor, "workspace.plan_changed", workspace_id=workspace_id,
                                       target_type="workspace", target_id=workspace_id,
                                       details={"from": previous, "to": plan})
        return self.services.quotas.usage(workspace_id)

    # --- runs and queues ---------------------------------------------------------------------------------------

    def queues(self, scope: Scope) -> QueueState:
        """Node runs waiting or running per queue (from the database) and the broker's own message counts."""
        self._require(scope)
        depths = self.services.executor.queue_depths() if hasattr(self.services.executor, "queue_depths") else {}
        return QueueState(self.repo.node_runs_by_queue(),
                          {q: {"waiting": w, "unfinished": u} for q, (w, u) in depths.items()},
                          "embedded" if self.services.settings.embedded else "redis", self.repo.runs_by_state())

    def failed_runs(self, scope: Scope, limit: int = 50) -> list[FailedRunRow]:
        self._require(scope)
        return self.repo.failed_runs(min(max(limit, 1), 500))

    def run(self, scope: Scope, run_id: str) -> RunView:
        """Any run of the instance, read-only."""
        self._require(scope)
        run = self.services.run_repo.get(run_id)
        if run is None:
            raise NotFound(f"There is no run with id {run_id[:40]}.")
        return run

    def run_logs(self, scope: Scope, run_id: str) -> list[dict[str, Any]]:
        self.run(scope, run_id)
        return self.services.run_repo.logs(run_id)

    # --- settings ----------------------------------------------------------------------------------------------

    def settings(self, scope: Scope) -> list[SettingRow]:
        """Every setting in force, flattened (`auth.session_days`), secrets masked."""
        self._require(scope)
        rows: list[SettingRow] = []
        _flatten(self.services.settings, "", rows)
        return rows


def masked_url(value: str) -> str:
    """A URL with its password replaced (postgresql://user:••••••@host/db)."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return value
    if parts.password is None:
        return value
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:{MASK}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _flatten(value: Any, key: str, rows: list[SettingRow]) -> None:
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _flatten(getattr(value, name), f"{key}.{name}" if key else name, rows)
        return
    if isinstance(value, dict) and value and all(isinstance(v, BaseModel) for v in value.values()):
        for name, item in value.items():
            _flatten(item, f"{key}.{name}", rows)
        return
    if isinstance(value, list) and value and all(isinstance(v, BaseModel) for v in value):
        for i, item in enumerate(value):
            _flatten(item, f"{key}.{i}", rows)
        return
    env = "MINDDOCS_" + key.upper().replace(".", "__")
    if isinstance(value, SecretStr):
        rows.append(SettingRow(key, env, MASK if value.get_secret_value() else "", True))
    elif _SECRET_NAME.search(key.rsplit(".", 1)[-1]):
        rows.append(SettingRow(key, env, "" if value in (None, "") else MASK, True))
    else:
        shown = "" if value is None else str(value)
        masked = masked_url(shown) if "://" in shown else shown
        rows.append(SettingRow(key, env, masked, masked != shown))
