"""The current workspace's plan: its limits and what the workspace uses of them (for its owners)."""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from app.errors import AppError

from ..components.frame import frame
from ..components.usage_panel import usage_panel
from ..i18n import t
from ..state import base_services, current_scope


@ui.page("/usage")
def usage_page(request: Request) -> None:
    with frame(request, "usage.title"):
        scope = current_scope()
        if scope is None:
            return
        try:
            usage = base_services().quotas.usage_for(scope)
        except AppError:
            ui.label(t("usage.owners_only")).classes("text-gray-600").mark("usage-refused")
            return
        ui.label(t("usage.intro", plan=usage.plan)).classes("text-sm text-gray-600").mark("usage-plan")
        usage_panel(usage)
