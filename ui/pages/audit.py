"""The audit log of the current workspace, for its owners: who did what, when, from where; filterable by
kind of action, person and dates, newest first, a page at a time."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

from fastapi import Request
from nicegui import ui

from app.errors import AppError

from ..components.frame import frame
from ..i18n import t
from ..state import base_services, current_scope

PAGE = 50
#: action prefixes offered in the filter (app/audit.py lists the actions)
KINDS = ("auth.", "member.", "workspace.", "token.", "share_link.", "secret.", "graph.", "listing.")


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _details(details: dict) -> str:
    return json.dumps(details, ensure_ascii=False, sort_keys=True)[:300] if details else ""


@ui.page("/audit")
def audit_page(request: Request) -> None:
    svc = base_services()
    with frame(request, "audit.title", wide=True):
        scope = current_scope()
        if scope is None:
            return
        if not scope.can("audit.read"):
            ui.label(t("audit.owners_only")).classes("text-gray-600").mark("audit-refused")
            return
        people = {m.user_id: m.email for m in svc.workspaces.members(scope, scope.workspace_id)}
        ui.label(t("audit.intro")).classes("text-sm text-gray-600")
        cursors: list[int | None] = [None]  # before_id of each page shown so far (paging back and forth)

        with ui.row().classes("w-full items-end gap-3").mark("audit-filters"):
            kind = ui.select({"": t("common.all"), **{k: t(f"audit.kind.{k.rstrip('.')}") for k in KINDS}},
                             value="", label=t("audit.kind")).classes("w-48").mark("audit-kind")
            person = ui.select({"": t("common.all"), **people}, value="", label=t("audit.person")) \
                .classes("w-64").mark("audit-person")
            since = ui.input(t("audit.since")).props("type=date stack-label").classes("w-44").mark("audit-since")
            until = ui.input(t("audit.until")).props("type=date stack-label").classes("w-44").mark("audit-until")
            for element in (kind, person, since, until):
                element.on_value_change(lambda: first_page())

        columns = [
            {"name": "at", "label": t("audit.when"), "field": "at", "align": "left"},
            {"name": "actor", "label": t("audit.person"), "field": "actor", "align": "left"},
            {"name": "action", "label": t("audit.action"), "field": "action", "align": "left"},
            {"name": "target", "label": t("audit.target"), "field": "target", "align": "left"},
            {"name": "ip", "label": t("audit.ip"), "field": "ip", "align": "left"},
            {"name": "details", "label": t("audit.details"), "field": "details", "align": "left"},
        ]
        table = ui.table(columns=columns, rows=[], row_key="id", pagination=0).classes("w-full") \
            .props("flat bordered dense").mark("audit-table")
        empty = ui.label(t("audit.empty")).classes("text-gray-500").mark("audit-empty")
        with ui.row().classes("gap-2"):
            newer = ui.button(t("audit.newer"), icon="chevron_left", on_click=lambda: turn(-1)) \
                .props("flat no-caps").mark("audit-newer")
            older = ui.button(t("audit.older"), icon="chevron_right", on_click=lambda: turn(+1)) \
                .props("flat no-caps").mark("audit-older")

        def load() -> None:
            start, end = _day(since.value), _day(until.value)
            try:
                rows = svc.audit.list(
                    scope, workspace_id=scope.workspace_id, action=kind.value or None,
                    actor_id=person.value or None,
                    since=datetime.combine(start, time(), UTC) if start else None,
                    until=datetime.combine(end + timedelta(days=1), time(), UTC) if end else None,
                    before_id=cursors[-1], limit=PAGE + 1)
            except AppError as exc:
                ui.notify(t("common.error", message=exc.message), type="negative")
                return
            more = len(rows) > PAGE
            rows = rows[:PAGE]
            table.rows = [{"id": r.id, "at": r.at.strftime("%Y-%m-%d %H:%M:%S"), "actor": r.actor_label or "—",
                           "action": r.action, "target": f"{r.target_type} {r.target_id}".strip(), "ip": r.ip,
                           "details": _details(r.details)} for r in rows]
            table.update()
            empty.set_visibility(not rows)
            older.set_enabled(more)
            newer.set_enabled(len(cursors) > 1)

        def turn(step: int) -> None:
            if step > 0 and table.rows:
                cursors.append(table.rows[-1]["id"])
            elif step < 0 and len(cursors) > 1:
                cursors.pop()
            load()

        def first_page() -> None:
            del cursors[1:]
            load()

        load()
