"""The data lifecycle (docs/data.md): retention of run files, the sweep that removes files nothing needs,
deleting a workspace with everything in it, and "export my data" / "delete my data" for a person.

Decisions:
- Retention is instance-wide (`retention.artifact_days`; 0 keeps files forever). A run's *files* go N days after
  it ended; its record (state, times, inputs and outputs as JSON, node states, logs) stays, so history and
  analytics keep working. Node-cache entries older than N days go too: nothing a run made outlives N days.
- A stored file goes once nothing refers to it (storage/lifecycle.py lists what counts) and it is older than
  the grace period; a file on disk without a database record goes after the same grace period.
- Deleting a workspace cancels its runs, deletes it with its graphs, runs, schedules, secrets, webhooks, share
  links and the marketplace listings published from it (installed copies elsewhere stay), drops the cache
  entries its runs made, and removes at once the files no other workspace (or listing) still holds.
- Deleting a person: refused while they are the last owner of a team workspace. Their personal workspace goes
  as above; what they made in team workspaces (graphs, runs, schedules, share links) stays with the team and
  passes to the workspace's longest-standing owner; their memberships, sessions, tokens, sign-in identities and
  notifications go; audit events stay, with their email replaced by "deleted user <id>". The last instance
  administrator cannot be deleted.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING

from storage.artifacts import SHA256
from storage.lifecycle import LifecycleRepository
from storage.models import utcnow
from storage.user_data import UserDataRepository

from .data_export import DataExport
from .errors import Conflict, Forbidden, InvalidAccount, NotFound
from .passwords import verify_password
from .policy import Scope

if TYPE_CHECKING:
    from .services import Services

log = logging.getLogger("minddocs.lifecycle")
FIRST_SWEEP_S = 300


@dataclass
class SweepReport:
    dry_run: bool
    grants_expired: int = 0  # files workspaces stopped holding (retention)
    cache_entries_expired: int = 0
    files_removed: int = 0  # stored files (record and bytes) nothing referred to
    bytes_freed: int = 0
    stray_files_removed: int = 0  # bytes on disk without a record, and abandoned uploads
    removed: list[str] = field(default_factory=list, repr=False)

    def to_json(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if k != "removed"}


class Lifecycle:
    def __init__(self, services: Services):
        self.services = services
        self.settings = services.settings.retention
        self.repo = LifecycleRepository(services.db)
        self.exporter = DataExport(UserDataRepository(services.db), services.artifacts)
        #: the first sweep comes FIRST_SWEEP_S after the start, then one every `sweep_hours`
        self._next_sweep = time.monotonic() + FIRST_SWEEP_S

    @classmethod
    def build(cls, services: Services) -> Lifecycle:
        """The lifecycle service, its sweep hooked into the scheduler's loop."""
        lifecycle = cls(services)
        services.scheduler.chores.append(lifecycle.maybe_sweep)
        return lifecycle

    # --- the sweep ---------------------------------------------------------------------------------------------

    def maybe_sweep(self) -> None:
        """Called on every scheduler tick: sweeps once every `retention.sweep_hours`."""
        if time.monotonic() < self._next_sweep:
            return
        self._next_sweep = time.monotonic() + self.settings.sweep_hours * 3600
        report = self.sweep()
        if report.files_removed or report.stray_files_removed or report.grants_expired:
            log.info("Data sweep: %s", report.to_json())

    def sweep(self, *, dry_run: bool = False, now: datetime | None = None) -> SweepReport:
        """Apply retention, then remove the stored files nothing refers to (docs/data.md)."""
        now = now or utcnow()
        report = SweepReport(dry_run)
        cutoff = now - timedelta(days=self.settings.artifact_days) if self.settings.artifact_days else None
        usage = self.repo.usage(live_since=cutoff, cache_before=cutoff)
        expired: list[tuple[str, str]] = []
        if cutoff is not None:
            expired = [(ws, sha) for ws, sha in self.repo.old_grants(cutoff) if sha not in usage.by_workspace[ws]]
            old_cache = self.repo.old_cache_keys(cutoff)
            report.grants_expired, report.cache_entries_expired = len(expired), len(old_cache)
            if not dry_run:
                self.repo.drop_grants(expired)
                self.repo.drop_cache(old_cache)
        grace = now - timedelta(hours=self.settings.orphan_grace_hours)
        self._remove_unreferenced(usage.all(without_grants=expired), grace, report, dry_run)
        self._remove_strays(grace, report, dry_run)
        return report

    def _remove_unreferenced(self, referenced: set[str], before: datetime, report: SweepReport, dry_run: bool,
                             only: set[str] | None = None) -> None:
        for sha, size in self.repo.artifacts(before=before):
            if sha in referenced or (only is not None and sha not in only):
                continue
            # the record goes only if nobody stored the same file again meanwhile; then the bytes
            if not dry_run:
                if not self.repo.forget_artifact(sha, before=before):
                    continue
                self.services.artifacts.backend.remove(sha)
            report.files_removed += 1
            report.bytes_freed += size
            report.removed.append(sha)

    def _remove_strays(self, before: datetime, report: SweepReport, dry_run: bool) -> None:
        """Files under the artifacts folder without a record, and abandoned uploads in tmp/, past the grace."""
        root = self.services.artifacts.backend.root
        limit = before.timestamp()
        candidates: list[Path] = []
        for path in _files(root, self.services.artifacts.backend.tmp):
            try:
                if path.stat().st_mtime < limit:
                    candidates.append(path)
            except FileNotFoundError:
                continue
        named = {p.name for p in candidates if SHA256.fullmatch(p.name) and p.parent.parent.parent == root}
        recorded = self.repo.recorded(named)
        for path in candidates:
            if path.name in recorded and path.parent.parent.parent == root:
                continue
            if not dry_run:
                path.unlink(missing_ok=True)
            report.stray_files_removed += 1

    # --- workspaces --------------------------------------------------------------------------------------------

    def delete_workspace(self, scope: Scope, workspace_id: str) -> None:
        """A team workspace and everything in it (owners only; a personal workspace goes with its person)."""
        row = self.services.workspaces.get(scope, workspace_id)  # NotFound for non-members
        scope.require("workspace.manage", workspace_id, what="workspace")
        if row.personal_of is not None:
            self.services.workspaces.delete(scope, workspace_id)  # refuses, with the sentence
            return
        self._empty(workspace_id, lambda: self.services.workspaces.delete(scope, workspace_id))

    def _empty(self, workspace_id: str, delete: Callable[[], None]) -> None:
        started = utcnow()  # a file stored (again) after this may be an upload elsewhere: the sweep decides
        for run_id in self.repo.active_runs(workspace_id):
            self.services.engine.cancel(run_id)
        held = self.repo.usage(live_since=None, workspace_id=workspace_id)
        files = held.all()
        cache = self.repo.cache_keys_of(workspace_id)
        delete()
        self.repo.drop_cache(cache)
        referenced = self.repo.usage(live_since=self._cutoff()).all()
        report = SweepReport(dry_run=False)
        self._remove_unreferenced(referenced, started, report, False, only=files)

    def _cutoff(self) -> datetime | None:
        days = self.settings.artifact_days
        return utcnow() - timedelta(days=days) if days else None

    # --- people ------------------------------------------------------------------------------------------------

    def export_user(self, scope: Scope, user_id: str | None = None) -> Iterator[bytes]:
        """The ZIP of a person's data, streamed: their own (or anyone's, for an instance administrator)."""
        return self.exporter.stream(self._person(scope, user_id))

    def write_export(self, scope: Scope, user_id: str, target: IO[bytes]) -> None:
        self.exporter.write(self._person(scope, user_id), target)

    def delete_user(self, scope: Scope, user_id: str | None = None, *, password: str | None = None,
                    confirm: str | None = None) -> None:
        """Delete a person and their data (module docstring). Asking for oneself needs the password, or for an
        account without one, `confirm` = the account's email; administrators and the system need neither."""
        user_id = self._person(scope, user_id)
        repo = self.services.accounts_repo
        user = repo.user(user_id)
        assert user is not None
        if scope.actor.kind != "system" and user_id == scope.user_id:
            if user.password_hash is not None:
                if not password or not verify_password(user.password_hash, password):
                    raise InvalidAccount("The password is not right; type your current password to delete your "
                                         "account.", code="bad_credentials", details={"field": "password"})
            elif (confirm or "").strip().lower() != user.email:
                raise InvalidAccount(f"Type your email address ({user.email}) to confirm the deletion.",
                                     code="confirmation_required", details={"field": "confirm"})
        alone = self.repo.workspaces_owned_alone(user_id)
        if alone:
            names = ", ".join(f"'{name}'" for _, name in alone)
            raise Conflict(f"You are the last owner of {names}; make another member an owner, or delete the "
                           "workspace, before deleting the account.", code="last_owner",
                           details={"workspaces": [w for w, _ in alone]})
        if user.is_admin and not any(u.is_admin and u.is_active and u.id != user_id and u.claimed
                                     for u in repo.users()):
            raise Conflict("This is the only administrator of the installation; make another account an "
                           "administrator first.", code="last_admin")
        personal = repo.personal_workspace(user_id)
        teams = (set(repo.roles(user_id)) | self.repo.workspaces_with_work_of(user_id)) - {personal}
        heirs = {workspace_id: self.repo.oldest_owner(workspace_id, besides=user_id) for workspace_id in teams}
        orphaned = sorted(w for w, heir in heirs.items() if heir is None)
        if orphaned:
            raise Conflict("Some workspaces with this person's work have nobody else in them to hand it to; "
                           "delete those workspaces first.", code="no_heir", details={"workspaces": orphaned})
        for workspace_id, heir in sorted(heirs.items()):
            moved = self.repo.hand_over(user_id, workspace_id, heir)  # type: ignore[arg-type]
            self.services.audit.record(scope.actor, "member.deleted", workspace_id=workspace_id,
                                       target_type="user", target_id=user_id,
                                       details={"handed_over_to": heir, **moved})
        if personal:
            self._empty(personal, lambda: repo.delete_workspace(personal))
        self.repo.forget_user(user_id, user.email, f"deleted user {user_id[:8]}")
        self.services.audit.record(scope.actor if user_id != scope.user_id else None, "user.deleted",
                                   target_type="user", target_id=user_id,
                                   label=None if user_id != scope.user_id else f"deleted user {user_id[:8]}")

    def _person(self, scope: Scope, user_id: str | None) -> str:
        """`user_id` (default: the caller) when the caller may act on that account: themselves, an instance
        administrator, or the system (CLI)."""
        user_id = user_id or scope.user_id
        if user_id != scope.user_id and not scope.actor.is_admin:
            raise Forbidden("Only an administrator of the installation may export or delete another person's "
                            "data.")
        user = self.services.accounts_repo.user(user_id)
        if user is None or not user.claimed:
            raise NotFound("There is no such account.")
        return user_id


def _files(root: Path, tmp: Path) -> Iterator[Path]:
    """The artifact store's own files: <root>/ab/cd/<sha256>, and uploads in progress in <root>/tmp/; nothing
    else that may lie in the folder."""
    for dirpath, _dirs, names in os.walk(root):
        folder = Path(dirpath)
        for name in names:
            path = folder / name
            if folder == tmp or (SHA256.fullmatch(name) and folder.parent.parent == root
                                 and folder.name == name[2:4] and folder.parent.name == name[:2]):
                yield path
