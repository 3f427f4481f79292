"""One run of any workspace as an instance administrator sees it from the admin area: read-only (state, error,
node runs, log); nothing can be changed, rerun or downloaded from here."""

from __future__ import annotations

import json

from fastapi import Request
from fastapi.responses import Response
from nicegui import ui

from app.errors import NotFound

from ..components.frame import frame, not_found_page
from ..i18n import t
from ..state import base_services, current_scope
from .admin import refused


@ui.page("/admin/runs/{run_id}")
def admin_run_page(request: Request, run_id: str) -> Response | None:
    scope = current_scope()
    if scope is None or not scope.actor.is_admin:
        return refused(f"/admin/runs/{run_id}", scope)
    svc = base_services()
    try:
        run = svc.admin.run(scope, run_id)
    except NotFound as exc:
        not_found_page(request, "admin.title", exc.message)
        return None
    workspace = svc.accounts_repo.workspace(run.workspace_id)
    with frame(request, "admin.run.title", run_id=run.id):
        ui.link(t("admin.back"), "/admin").mark("admin-back")
        ui.label(t("admin.run.workspace", name=workspace.name if workspace else run.workspace_id))
        ui.label(t("admin.run.state", state=run.state)).classes("font-medium").mark("admin-run-state")
        if run.error_message:
            ui.label(run.error_message).classes("text-red-700").mark("admin-run-error")
        columns = [{"name": k, "label": label, "field": k, "align": "left"} for k, label in (
            ("node", t("admin.run.node")), ("type", t("admin.run.type")), ("state", t("admin.run.state_column")),
            ("error", t("admin.failed.error")))]
        rows = [{"id": n.node_id, "node": n.node_id, "type": n.node_type, "state": n.state,
                 "error": (n.error_message or "")[:300]} for n in run.nodes]
        ui.table(columns=columns, rows=rows, row_key="id").classes("w-full").mark("admin-run-nodes")
        ui.label(t("admin.run.log")).classes("font-medium")
        lines = [json.dumps(entry, ensure_ascii=False, default=str)[:500] for entry in svc.admin.run_logs(scope, run.id)]
        ui.code("\n".join(lines[-200:]) or "–", language="text").classes("w-full").mark("admin-run-log")
    return None
