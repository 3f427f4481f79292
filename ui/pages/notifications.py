"""Notifications: the runs that finished or failed, newest first; open one, or mark them all read."""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from ..components.frame import frame
from ..components.notification_bell import run_ended, unread_changed
from ..components.run_state import state_badge
from ..i18n import t
from ..state import services


@ui.page("/notifications")
def notifications_page(request: Request) -> None:
    notifications = services().hooks.notifications
    with frame(request, "notifications.title"):
        with ui.row().classes("w-full items-center"):
            ui.label(t("notifications.intro")).classes("text-sm text-gray-600 grow")
            ui.button(t("notifications.mark_all"), icon="done_all", on_click=lambda: mark(None)) \
                .props("flat").mark("mark-all-read")

        @ui.refreshable
        def notification_list() -> None:
            rows = notifications.list(limit=100)
            if not rows:
                ui.label(t("notifications.empty")).classes("text-gray-500").mark("no-notifications")
                return
            with ui.column().classes("w-full gap-1"):
                for row in rows:
                    weight = "font-normal text-gray-600" if row.read else "font-semibold"
                    with ui.row().classes("w-full items-center gap-4 border-b py-1").mark(f"notification-{row.id}"):
                        ui.icon("circle", size="xs", color="primary" if not row.read else "grey-4")
                        state_badge(row.state)
                        key = "notifications.succeeded" if row.state == "succeeded" else "notifications.failed"
                        ui.label(t(key, graph=row.graph_name or "—")).classes(f"grow {weight}")
                        if row.message:
                            ui.label(row.message[:200]).classes("text-sm text-red-700")
                        ui.label(row.created_at.strftime("%Y-%m-%d %H:%M UTC")).classes("text-xs text-gray-500")
                        ui.button(t("common.open"), on_click=lambda r=row: open_run(r.id, r.run_id)) \
                            .props("flat dense").mark(f"open-{row.id}")

        def mark(ids: list[int] | None) -> None:
            notifications.mark_read(ids)
            notification_list.refresh()
            unread_changed.emit()

        def open_run(notification_id: int, run_id: str) -> None:
            notifications.mark_read([notification_id])
            unread_changed.emit()
            ui.navigate.to(f"/runs/{run_id}")

        notification_list()
        run_ended.subscribe(lambda: notification_list.refresh())
