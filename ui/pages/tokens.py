"""API tokens: the signed-in person's personal access tokens for scripts and other programs. List, create
(the token is shown once, with a copy button), revoke. docs/api.md, "Authentication"."""

from __future__ import annotations

from datetime import datetime

from fastapi import Request
from nicegui import ui

from app.errors import AppError
from app.policy import SCOPES

from ..components.frame import frame
from ..components.output_view import copy_button
from ..i18n import t
from ..state import current_scope, services

EXPIRY_DAYS = (None, 7, 30, 90, 365)
STATE_COLOURS = {"active": "positive", "expired": "grey", "revoked": "negative"}


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else t("tokens.never")


def show_token(plaintext: str) -> None:
    """The dialog that shows a new token this one time."""
    with ui.dialog().props("persistent") as dialog, ui.card().classes("w-[40rem]"):
        ui.label(t("tokens.shown_once")).classes("font-medium")
        ui.input(t("tokens.token"), value=plaintext).props("readonly").classes("w-full font-mono") \
            .mark("token-value")
        with ui.row().classes("w-full justify-end items-center"):
            copy_button(plaintext)
            ui.button(t("common.close"), on_click=dialog.close).mark("token-close")
    dialog.open()


@ui.page("/tokens")
def tokens_page(request: Request) -> None:
    svc = services()
    scope = current_scope()
    with frame(request, "tokens.title"):
        with ui.row().classes("w-full items-center gap-2"):
            ui.label(t("tokens.intro")).classes("text-sm text-gray-600 grow")
            ui.button(t("tokens.new"), icon="add", on_click=lambda: create_dialog()).mark("new-token")

        @ui.refreshable
        def token_list() -> None:
            rows = svc.tokens.list(scope)
            spaces = {w.id: w.name for w in svc.workspaces.list(scope)}
            if not rows:
                ui.label(t("tokens.empty")).classes("text-gray-500").mark("no-tokens")
                return
            for row in rows:
                state = row.state()
                with ui.card().classes("w-full").mark(f"token-{row.name}"), \
                        ui.row().classes("w-full items-center no-wrap"):
                    ui.icon("vpn_key").classes("text-gray-500")
                    with ui.column().classes("gap-0 grow"):
                        with ui.row().classes("items-center gap-2"):
                            ui.label(row.name).classes("font-medium")
                            ui.badge(t(f"tokens.state.{state}"), color=STATE_COLOURS[state]).mark(f"state-{row.name}")
                            for name in row.scopes:
                                ui.badge(t(f"tokens.scope.{name}"), color="primary").props("outline")
                            if row.workspace_id:
                                ui.badge(t("tokens.only_in", name=spaces.get(row.workspace_id, "?")),
                                         color="grey").props("outline")
                        ui.label(t("tokens.details", created=_when(row.created_at), expires=_when(row.expires_at),
                                   used=_when(row.last_used_at))).classes("text-xs text-gray-500")
                    if state == "active":
                        ui.button(t("tokens.revoke"), icon="block", color="negative",
                                  on_click=lambda r=row: confirm_revoke(r.id, r.name)).props("flat") \
                            .mark(f"revoke-{row.name}")

        token_list()

    def create_dialog() -> None:
        workspaces = {"": t("tokens.any_workspace")}
        workspaces.update({w.id: w.name for w in svc.workspaces.list(scope)})
        with ui.dialog() as dialog, ui.card().classes("w-[32rem]"):
            ui.label(t("tokens.new")).classes("text-lg font-medium")
            name = ui.input(t("common.name"), placeholder=t("tokens.name_hint")).classes("w-full").mark("token-name")
            ui.label(t("tokens.scopes")).classes("text-sm")
            boxes = {s: ui.checkbox(t(f"tokens.scope.{s}"), value=s == "read").mark(f"scope-{s}") for s in SCOPES}
            expiry = ui.select({d or 0: t("tokens.expiry_days", days=d) if d else t("tokens.no_expiry")
                                for d in EXPIRY_DAYS}, value=90, label=t("tokens.expiry")).classes("w-full") \
                .mark("token-expiry")
            workspace = ui.select(workspaces, value="", label=t("tokens.workspace")).classes("w-full") \
                .mark("token-workspace")

            def save() -> None:
                chosen = [s for s, box in boxes.items() if box.value]
                try:
                    _row, plaintext = svc.tokens.create(scope, name.value or "", chosen,
                                                        expires_days=expiry.value or None,
                                                        workspace_id=workspace.value or None)
                except AppError as exc:
                    field = exc.details.get("field") if isinstance(exc.details, dict) else None
                    ui.notify(t(f"tokens.bad_{field}") if field in ("name", "scopes") else exc.message,
                              type="negative")
                    return
                dialog.close()
                token_list.refresh()
                show_token(plaintext)

            with ui.row().classes("w-full justify-end"):
                ui.button(t("common.cancel"), on_click=dialog.close).props("flat").mark("token-cancel")
                ui.button(t("tokens.create"), on_click=save).mark("token-save")
        dialog.open()

    def confirm_revoke(token_id: str, token_name: str) -> None:
        with ui.dialog() as dialog, ui.card():
            ui.label(t("tokens.revoke_confirm", name=token_name))
            with ui.row().classes("w-full justify-end"):
                ui.button(t("common.cancel"), on_click=dialog.close).props("flat")

                def really() -> None:
                    dialog.close()
                    try:
                        svc.tokens.revoke(scope, token_id)
                    except AppError as exc:
                        ui.notify(t("common.error", message=exc.message), type="negative")
                        return
                    token_list.refresh()
                    ui.notify(t("tokens.revoked", name=token_name))

                ui.button(t("tokens.revoke"), color="negative", on_click=really).mark("confirm-revoke")
        dialog.open()
