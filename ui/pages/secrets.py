"""Secrets: the API keys and passwords that nodes use. List, create, replace a value, delete; values are
typed in and never shown again."""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from app.errors import AppError

from ..components.frame import frame
from ..components.secret_dialog import secret_dialog
from ..i18n import t
from ..state import services


@ui.page("/secrets")
def secrets_page(request: Request) -> None:
    svc = services()
    with frame(request, "secrets.title"):
        with ui.row().classes("w-full items-center gap-2"):
            ui.label(t("secrets.intro")).classes("text-sm text-gray-600 grow")
            ui.button(t("secrets.new"), icon="add",
                      on_click=lambda: secret_dialog(lambda _name: secret_list.refresh())).mark("new-secret")

        @ui.refreshable
        def secret_list() -> None:
            rows = svc.secrets.list()
            if not rows:
                ui.label(t("secrets.empty")).classes("text-gray-500").mark("no-secrets")
                return
            for row in rows:
                with ui.card().classes("w-full").mark(f"secret-{row.name}"), \
                        ui.row().classes("w-full items-center no-wrap"):
                    ui.icon("key").classes("text-gray-500")
                    with ui.column().classes("gap-0 grow"):
                        ui.label(row.name).classes("font-mono font-medium")
                        if row.description:
                            ui.label(row.description).classes("text-sm text-gray-600")
                        ui.label(t("secrets.updated", when=row.updated_at.strftime("%Y-%m-%d %H:%M UTC"))) \
                            .classes("text-xs text-gray-500")
                    ui.button(t("secrets.replace"), icon="edit",
                              on_click=lambda r=row: secret_dialog(lambda _n: secret_list.refresh(), replace=r.name)) \
                        .props("flat").mark(f"replace-{row.name}")
                    ui.button(t("common.delete"), icon="delete", color="negative",
                              on_click=lambda r=row: confirm_delete(r.name)).props("flat").mark(f"delete-{row.name}")

        secret_list()

    def confirm_delete(name: str) -> None:
        with ui.dialog() as dialog, ui.card():
            ui.label(t("secrets.delete_confirm", name=name))
            with ui.row().classes("w-full justify-end"):
                ui.button(t("common.cancel"), on_click=dialog.close).props("flat")

                def really() -> None:
                    dialog.close()
                    try:
                        svc.secrets.delete(name)
                    except AppError as exc:
                        ui.notify(t("common.error", message=exc.message), type="negative")
                    secret_list.refresh()
                    ui.notify(t("secrets.deleted", name=name))

                ui.button(t("common.delete"), color="negative", on_click=really).mark("confirm-delete")
        dialog.open()
