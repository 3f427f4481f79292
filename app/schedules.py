"""Schedules: run a graph on a cron timetable, or once for each new file dropped in a watched folder.

The scheduler ticks every `MINDDOCS_SCHEDULER__POLL_S` seconds, in `minddocs serve` (a thread) or in one or
more `minddocs scheduler` processes. Each tick of each schedule is claimed by inserting a row into
`schedule_fires` whose unique key is (schedule, fire time, key): whoever inserts it starts the run, so a tick
fires exactly once however many schedulers run. See docs/schedules.md.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import re
import threading
import unicodedata
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nodes.graph_io import coerce_input
from nodes.ports import FileRef
from storage.models import utcnow
from storage.schedules import FireRow, ScheduleRepository, ScheduleRow

from .cron import InvalidSchedule, fire_times, parse_cron, parse_timezone, previous_tick
from .errors import AppError, NotFound

if TYPE_CHECKING:
    from .graphs import GraphService
    from .runs import RunService

log = logging.getLogger("minddocs.scheduler")

MISFIRE_POLICIES = ("skip", "catch_up_one")
FILE_KINDS = ("file", "document", "image", "audio")
#: files a watched folder leaves alone: hidden, partial downloads, editors' lock and temporary files
_IGNORED = re.compile(r"^(\.|~\$|~lock\.)|(\.part|\.partial|\.crdownload|\.tmp|\.download|~)$", re.IGNORECASE)
_MIN_STABLE = timedelta(seconds=1)


# --- watched folders ---------------------------------------------------------------------------------------

def check_watch_dir(raw: str, roots: list[Path]) -> Path:
    """The folder, resolved (symbolic links followed), if it is inside one of `roots`; else InvalidSchedule."""
    if not raw or not raw.strip() or "\x00" in raw:
        raise InvalidSchedule("The watched folder is empty. Give a folder inside " + _roots_text(roots) + ".",
                              details={"field": "watch_dir"})
    path = Path(raw.strip()).expanduser()
    if not path.is_absolute():
        path = roots[0] / path
    resolved = path.resolve()
    if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
        raise InvalidSchedule(f"The folder {raw} is outside the folders MindDocs may watch ({_roots_text(roots)}). "
                              "Choose a folder inside one of them, or ask the administrator to add its parent "
                              "to MINDDOCS_SCHEDULER__WATCH_ROOTS.", details={"field": "watch_dir"})
    if resolved.exists() and not resolved.is_dir():
        raise InvalidSchedule(f"{raw} is a file, not a folder.", details={"field": "watch_dir"})
    return resolved


def _roots_text(roots: list[Path]) -> str:
    return ", ".join(str(r) for r in roots)


def safe_name(name: str) -> str:
    """A file name without path separators, control characters or leading dots; at most 200 characters."""
    name = unicodedata.normalize("NFC", name)
    name = "".join("_" if (c in "/\\:" or unicodedata.category(c).startswith("C")) else c for c in name)
    name = name.strip().lstrip(".") or "file"
    stem, dot, ext = name.rpartition(".")
    if len(name) > 200:
        name = (stem[:190] + dot + ext[:9]) if dot else name[:200]
    return name


def _unique(folder: Path, name: str) -> Path:
    target = folder / name
    stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
    count = 2
    while target.exists() or target.is_symlink():
        target = folder / f"{stem} ({count}){dot}{ext}"
        count += 1
    return target


def _done_dir(folder: Path, name: str) -> Path:
    path = folder / name
    if path.is_symlink():
        raise OSError(f"{path} is a symbolic link; MindDocs will not move files through it")
    path.mkdir(exist_ok=True)
    return path


# --- the service -------------------------------------------------------------------------------------------

class ScheduleService:
    """Create, change and fire schedules; `tick()` does one round of the scheduler."""

    def __init__(self, repo: ScheduleRepository, graphs: GraphService, runs: RunService, *,
                 watch_roots: list[Path], misfire_grace_s: float = 60,
                 clock: Callable[[], datetime] = utcnow, acting_as: Callable[[str, str], Any] | None = None):
        self.repo = repo
        self.graphs = graphs  # bound to the scope asking (the system's, for the scheduler)
        self.runs = runs
        self.watch_roots = [Path(r).resolve() for r in watch_roots]
        self.grace = timedelta(seconds=misfire_grace_s)
        self.clock = clock
        #: (user id, workspace id) -> services acting for them: fired runs are the schedule owner's
        self.acting_as = acting_as

    def bound(self, graphs: GraphService, runs: RunService) -> ScheduleService:
        """The same service for another scope (the graphs and runs services carry it)."""
        return ScheduleService(self.repo, graphs, runs, watch_roots=self.watch_roots,
                               misfire_grace_s=self.grace.total_seconds(), clock=self.clock,
                               acting_as=self.acting_as)

    def _owner_services(self, row: ScheduleRow) -> tuple[GraphService, RunService]:
        if self.acting_as is None:
            return self.graphs, self.runs
        owner = self.acting_as(row.owner_id, row.workspace_id)
        return owner.graphs, owner.runs

    # reading

    def list(self) -> list[ScheduleRow]:
        scope = self.graphs.scope
        scope.require("schedule.read", what="workspace")
        return self.repo.list(workspace_id=scope.workspace_id)

    def get(self, schedule_id: str, permission: str = "schedule.read") -> ScheduleRow:
        row = self.repo.get(schedule_id)
        if row is None or not self.graphs.scope.role(row.workspace_id):
            raise NotFound(f"There is no schedule with id {schedule_id}.")
        self.graphs.scope.require(permission, row.workspace_id, what="schedule")
        return row

    def fires(self, schedule_id: str, limit: int = 20) -> list[FireRow]:
        self.get(schedule_id)
        return self.repo.fires(schedule_id, limit)

    def next_fires(self, schedule_id: str, count: int = 5) -> list[datetime]:
        row = self.get(schedule_id)
        if row.watch_dir or row.paused:
            return []
        return self._next(row, count)

    def preview(self, cron: str, timezone: str, count: int = 5, *, start_at: datetime | None = None,
                end_at: datetime | None = None) -> list[datetime]:
        """The next `count` fire times of a timetable not saved yet (the form's preview)."""
        cron = parse_cron(cron)
        parse_timezone(timezone)
        result = []
        for moment in fire_times(cron, timezone, self.clock(), start_at=start_at, end_at=end_at):
            result.append(moment)
            if len(result) == count:
                break
        return result

    def _next(self, row: ScheduleRow, count: int) -> list[datetime]:
        after = max(self.clock(), row.checked_until or row.created_at)
        result = []
        for moment in fire_times(row.cron, row.timezone, after, start_at=row.start_at, end_at=row.end_at):
            result.append(moment)
            if len(result) == count:
                break
        return result

    def state(self, row: ScheduleRow) -> str:
        """paused, watching (a folder), ended (no tick left before its end date) or active."""
        if row.paused:
            return "paused"
        if row.watch_dir:
            return "watching"
        if not self._next(row, 1):
            return "ended"
        return "active"

    def to_json(self, row: ScheduleRow) -> dict[str, Any]:
        data = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.__dict__.items()
                if k not in ("watch_state", "owner_id", "workspace_id")}
        upcoming = [] if (row.paused or row.watch_dir) else self._next(row, 1)
        data["next_fire_at"] = upcoming[0].isoformat() if upcoming else None
        data["state"] = self.state(row)
        return data

    # changing

    def create(self, data: dict[str, Any]) -> ScheduleRow:
        self.graphs.scope.require("schedule.write", what="workspace")
        values = self._check(data, None)
        return self.repo.create(self.graphs.owner_id, values, workspace_id=self.graphs.scope.workspace_id,
                                created_at=self.clock())

    def update(self, schedule_id: str, data: dict[str, Any]) -> ScheduleRow:
        """Change some fields (those given). A changed timetable starts counting from now: no catch-up."""
        row = self.get(schedule_id, "schedule.write")
        values = self._check({**{k: getattr(row, k) for k in _FIELDS}, **data}, row)
        if any(values.get(k) != getattr(row, k) for k in ("cron", "timezone", "start_at", "watch_dir")) or (
                row.paused and not values["paused"]):  # resuming through an update: no catch-up either
            values["checked_until"] = max(self.clock(), row.checked_until or row.created_at)
        updated = self.repo.update(schedule_id, values)
        if updated is None:
            raise NotFound(f"There is no schedule with id {schedule_id}.")
        return updated

    def delete(self, schedule_id: str) -> None:
        self.get(schedule_id, "schedule.write")
        self.repo.delete(schedule_id)

    def pause(self, schedule_id: str) -> ScheduleRow:
        self.get(schedule_id, "schedule.write")
        return self.repo.update(schedule_id, {"paused": True})  # type: ignore[return-value]

    def resume(self, schedule_id: str) -> ScheduleRow:
        """Start firing again from now on; ticks that passed while paused are not caught up."""
        row = self.get(schedule_id, "schedule.write")
        if not row.paused:
            return row
        return self.repo.update(schedule_id, {"paused": False, "checked_until": self.clock()})  # type: ignore[return-value]

    def run_now(self, schedule_id: str) -> str:
        """Start one run of the schedule now, besides its timetable; the run id (or the reason it cannot start)."""
        row = self.get(schedule_id, "run.start")
        if row.watch_dir:
            raise InvalidSchedule("A watched folder starts a run for each file dropped in it; put a file in "
                                  f"{row.watch_dir} instead of running it now.")
        now = self.clock()
        fire_id = self.repo.claim(row.id, now, "manual", uuid.uuid4().hex, at=now)
        assert fire_id is not None  # a fresh random key cannot collide
        run_id, error = self._start(row, dict(row.inputs))
        self.repo.finish(fire_id, run_id=run_id, error=error)
        if error is not None:
            raise InvalidSchedule(error, code="run_not_started")
        return run_id  # type: ignore[return-value]

    def _check(self, data: dict[str, Any], existing: ScheduleRow | None) -> dict[str, Any]:
        unknown = set(data) - set(_FIELDS)
        if unknown:
            raise InvalidSchedule(f"Unknown field(s): {', '.join(sorted(unknown))}. A schedule has: "
                                  f"{', '.join(_FIELDS)}.")
        values = {k: data.get(k, d) for k, d in _FIELDS.items()}
        values["name"] = (values["name"] or "").strip()
        if not values["name"] or len(values["name"]) > 200:
            raise InvalidSchedule("Give the schedule a name (1 to 200 characters).", details={"field": "name"})
        graph = self.graphs.get(values["graph_id"] or "")
        if values["graph_version_id"]:
            version = self.graphs.version(values["graph_version_id"])
            if version.graph_id != graph.id:
                raise InvalidSchedule("The pinned version belongs to another graph; choose a version of "
                                      f"'{graph.name}', or none to always run its latest version.",
                                      details={"field": "graph_version_id"})
        else:
            values["graph_version_id"] = None
            version = self.graphs.latest(graph.id)
        if values["misfire"] not in MISFIRE_POLICIES:
            raise InvalidSchedule(f"The misfire policy must be 'skip' or 'catch_up_one', not {values['misfire']!r}.",
                                  details={"field": "misfire"})
        values["timezone"] = values["timezone"] or "UTC"
        tz = parse_timezone(values["timezone"])
        for key in ("start_at", "end_at"):
            moment = values[key]
            if isinstance(moment, str):
                try:
                    moment = datetime.fromisoformat(moment) if moment.strip() else None
                except ValueError:
                    raise InvalidSchedule(f"{key} must be a date and time like 2026-01-31T08:00 (ISO 8601).",
                                          details={"field": key}) from None
            if moment is not None and moment.tzinfo is None:
                moment = moment.replace(tzinfo=tz)  # a plain date and time is in the schedule's time zone
            values[key] = moment.astimezone(UTC) if moment is not None else None
        if values["start_at"] and values["end_at"] and values["end_at"] <= values["start_at"]:
            raise InvalidSchedule("The end date must be after the start date.", details={"field": "end_at"})
        interface = {d["name"]: d for d in self.graphs.interface(version.id)["inputs"]}
        values["inputs"] = dict(values["inputs"] or {})
        unknown_inputs = sorted(set(values["inputs"]) - set(interface))
        if unknown_inputs:
            raise InvalidSchedule(f"The graph has no input(s) {', '.join(unknown_inputs)}. Its inputs are: "
                                  f"{', '.join(interface) or 'none'}.", details={"field": "inputs"})
        for name, value in values["inputs"].items():
            try:
                values["inputs"][name] = coerce_input(interface[name]["kind"], value)
                if isinstance(values["inputs"][name], FileRef):
                    values["inputs"][name] = values["inputs"][name].model_dump()
            except ValueError as exc:
                raise InvalidSchedule(f"Input '{name}' {exc}.", details={"field": "inputs", "input": name}) from None
        if values["watch_dir"]:
            values["cron"] = (values["cron"] or "").strip()
            if values["cron"]:
                raise InvalidSchedule("A watched folder runs for each new file, not on a timetable: leave the cron "
                                      "expression empty, or make two schedules.", details={"field": "cron"})
            folder = check_watch_dir(values["watch_dir"], self.watch_roots)
            folder.mkdir(parents=True, exist_ok=True)
            values["watch_dir"] = str(folder)
            files = [n for n, d in interface.items() if d["kind"] in FILE_KINDS]
            if values["watch_input"] not in files:
                raise InvalidSchedule(
                    f"Choose which file input receives each dropped file: {', '.join(files)}." if files else
                    "The graph has no file input, so a watched folder cannot give it the files; add a file input "
                    "(io.input of kind file or document) to the graph.", details={"field": "watch_input"})
        else:
            values["cron"] = parse_cron(values["cron"])
            values["watch_dir"] = values["watch_input"] = None
        missing = [d["label"] or n for n, d in interface.items()
                   if d["required"] and d["default"] is None and n not in values["inputs"]
                   and n != values["watch_input"]]
        if missing:
            raise InvalidSchedule(f"Give a value for the required input(s): {', '.join(missing)}; a schedule has "
                                  "no one to ask when it fires.", details={"field": "inputs", "missing": missing})
        values["paused"] = bool(values["paused"])
        return values

    # firing

    def tick(self, now: datetime | None = None) -> list[FireRow]:
        """One round: fire every due tick and pick up every stable new file; the fires this process claimed."""
        now = now or self.clock()
        claimed: list[int] = []
        for row in self.repo.list(active_only=True):
            try:
                if row.watch_dir:
                    claimed += self._watch(row, now)
                else:
                    claimed += self._fire_due(row, now)
            except (OSError, InvalidSchedule) as exc:  # a folder gone or moved out of the roots: say so
                message = f"The watched folder cannot be read: {getattr(exc, 'message', None) or exc}"
                if row.last_error != message:
                    log.warning("Schedule %s (%s): %s", row.name, row.id, message)
                    self.repo.update(row.id, {"last_error": message})
            except Exception:  # one broken schedule must not stop the others
                log.exception("Schedule %s (%s) failed to tick", row.name, row.id)
        return self.repo.fires_by_id(claimed)

    def _fire_due(self, row: ScheduleRow, now: datetime) -> list[int]:
        cursor = row.checked_until or row.created_at
        limit = now - self.grace  # ticks before this are misfires: the scheduler was not running then
        on_time = []
        for moment in fire_times(row.cron, row.timezone, max(cursor, limit - timedelta(microseconds=1)),
                                 start_at=row.start_at, end_at=row.end_at):
            if moment > now:
                break
            on_time.append(moment)
        missed = None
        if cursor < limit:  # only the latest missed tick matters, however long the scheduler was away
            missed = previous_tick(row.cron, row.timezone, limit, start_at=row.start_at, end_at=row.end_at)
            if missed is not None and missed <= cursor:
                missed = None
        if missed is not None:
            log.warning("Schedule %s missed its tick(s) up to %s (the scheduler was not running); policy %s.",
                        row.name, missed.isoformat(), row.misfire)
        to_fire = on_time or ([missed] if missed is not None and row.misfire == "catch_up_one" else [])
        claimed = []
        for moment in to_fire:
            fire_id = self.repo.claim(row.id, moment, "cron", at=now)
            if fire_id is None:
                continue  # another scheduler won this tick
            claimed.append(fire_id)
            run_id, error = self._start(row, dict(row.inputs))
            self.repo.finish(fire_id, run_id=run_id, error=error)
        self.repo.advance(row.id, now)
        return claimed

    def _start(self, row: ScheduleRow, inputs: dict[str, Any]) -> tuple[str | None, str | None]:
        """Start the schedule's run: (run id, None), or (None, why it could not start)."""
        try:
            graphs, runs = self._owner_services(row)
            version_id = row.graph_version_id or graphs.latest(row.graph_id).id
            return runs.start(version_id, inputs), None
        except AppError as exc:
            details = exc.details if isinstance(exc.details, list) else []
            return None, exc.message + "".join(f" {d.get('message', '')}" for d in details if isinstance(d, dict))
        except Exception as exc:  # recorded on the fire for people to see; the traceback goes to the log
            ref = uuid.uuid4().hex[:4]
            log.exception("Schedule %s could not start its run (ref %s)", row.id, ref)
            return None, f"The run could not start: unexpected {type(exc).__name__} (ref {ref})."

    def _watch(self, row: ScheduleRow, now: datetime) -> list[int]:
        folder = check_watch_dir(row.watch_dir or "", self.watch_roots)  # again: it may have become a link
        if Path(row.watch_dir or "") != folder or not folder.is_dir():
            raise OSError(f"the folder {row.watch_dir} is missing, or was replaced by a link")
        previous = row.watch_state
        state: dict[str, Any] = {}
        stable = []
        with os.scandir(folder) as entries:
            for entry in entries:
                if _IGNORED.search(entry.name) or entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                    continue
                info = entry.stat(follow_symlinks=False)
                seen = [info.st_size, info.st_mtime_ns, info.st_ctime_ns]
                before = previous.get(entry.name)
                if before and before[:3] == seen and now - datetime.fromisoformat(before[3]) >= _MIN_STABLE:
                    stable.append((entry.name, info))
                else:
                    state[entry.name] = seen + [before[3] if before and before[:3] == seen else now.isoformat()]
        if state != previous:
            self.repo.set_watch_state(row.id, state)
        claimed = []
        for name, info in sorted(stable):
            # the change time is new for each file put in the folder (even a copy of an old one)
            changed = datetime.fromtimestamp(info.st_ctime_ns // 1000 / 1e6, UTC)
            fire_id = self.repo.claim(row.id, changed, "file", name[:300], at=now)
            if fire_id is None:
                continue
            claimed.append(fire_id)
            run_id, error = self._take_file(row, folder, name)
            self.repo.finish(fire_id, run_id=run_id, error=error)
        return claimed

    def _take_file(self, row: ScheduleRow, folder: Path, name: str) -> tuple[str | None, str | None]:
        path = folder / name
        clean = safe_name(name)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError as exc:
            return None, f"Cannot read {clean}: {exc.strerror}."
        try:
            with os.fdopen(fd, "rb") as stream:
                ref = self._owner_services(row)[1].upload(stream, name=clean,
                                                          media_type=mimetypes.guess_type(clean)[0])
            run_id, error = self._start(row, {**row.inputs, row.watch_input: ref.model_dump()})  # type: ignore[dict-item]
        except AppError as exc:
            run_id, error = None, exc.message
        try:
            if error is None:
                os.replace(path, _unique(_done_dir(folder, "processed"), clean))
            else:
                target = _unique(_done_dir(folder, "failed"), clean)
                os.replace(path, target)
                target.with_name(target.name + ".error.txt").write_text(error + "\n", encoding="utf-8")
        except OSError as exc:
            log.error("Schedule %s could not move %s out of the watched folder: %s", row.id, clean, exc)
            error = (error + " " if error else "") + f"The file could not be moved out of the folder: {exc}."
        return run_id, error


_FIELDS: dict[str, Any] = {"name": "", "graph_id": None, "graph_version_id": None, "inputs": {}, "cron": "",
                           "timezone": "UTC", "start_at": None, "end_at": None, "paused": False,
                           "misfire": "skip", "watch_dir": None, "watch_input": None}


class Scheduler:
    """Calls `ScheduleService.tick()` every `poll_s` seconds, in a thread (`start`) or here (`run`)."""

    def __init__(self, service: ScheduleService, poll_s: float):
        self.service = service
        self.poll_s = poll_s
        #: other periodic work done after each tick (the data sweep, app/lifecycle.py); each guards its own pace
        self.chores: list[Callable[[], None]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        """Tick until `stop()`."""
        while not self._stop.is_set():
            try:
                self.service.tick()
            except Exception:  # the database may be away for a moment; try again next time
                log.exception("The scheduler's tick failed")
            for chore in self.chores:
                try:
                    chore()
                except Exception:
                    log.exception("A scheduler chore failed")
            self._stop.wait(self.poll_s)

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self.run, name="minddocs-scheduler", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
