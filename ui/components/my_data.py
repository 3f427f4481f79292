"""The account page's "Your data" card: download everything MindDocs keeps about you, or delete your account
and your data (docs/data.md). The deletion asks for the password (or, without one, the email) again."""

from __future__ import annotations

from nicegui import ui

from app.errors import AppError
from app.policy import Scope
from storage.accounts import UserRow

from ..i18n import t


def my_data_card(svc, scope: Scope, me: UserRow) -> None:
    with ui.card().classes("w-full max-w-xl gap-3").mark("my-data"):
        ui.label(t("data.title")).classes("text-lg font-medium")
        ui.label(t("data.export_intro")).classes("text-sm text-gray-600")
        ui.link(t("data.export"), "/api/v1/me/export").props("download").classes("text-primary") \
            .mark("export-my-data")
        ui.label(t("data.delete_intro")).classes("text-sm text-gray-600")
        ui.button(t("data.delete"), icon="delete_forever", color="negative", on_click=lambda: dialog.open()) \
            .props("unelevated no-caps").mark("delete-my-data")

        with ui.dialog() as dialog, ui.card().classes("gap-3").mark("delete-dialog"):
            ui.label(t("data.delete_confirm")).classes("font-medium")
            if me.password_hash is not None:
                secret = ui.input(t("data.delete_password"), password=True).classes("w-80").mark("delete-password")
            else:
                secret = ui.input(t("data.delete_email", email=me.email)).classes("w-80").mark("delete-email")

            def delete() -> None:
                try:
                    if me.password_hash is not None:
                        svc.lifecycle.delete_user(scope, password=secret.value or "")
                    else:
                        svc.lifecycle.delete_user(scope, confirm=secret.value or "")
                except AppError as exc:
                    ui.notify(t("common.error", message=exc.message), type="negative")
                    return
                dialog.close()
                ui.navigate.to("/login")

            with ui.row().classes("gap-2"):
                ui.button(t("data.cancel"), on_click=dialog.close).props("flat no-caps").mark("delete-cancel")
                ui.button(t("data.delete_button"), icon="delete_forever", color="negative", on_click=delete) \
                    .props("unelevated no-caps").mark("delete-confirm")
