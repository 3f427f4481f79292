"""The signed-in person's account: name, language, password, sign out (here or everywhere)."""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from app.errors import AppError

from ..components.auth_form import (
    current_session,
    error_banner,
    field,
    hidden,
    native_form,
    notice,
    submit_button,
)
from ..components.frame import frame
from ..components.my_data import my_data_card
from ..i18n import LANGUAGES, language, set_language, t
from ..state import base_services, current_scope


@ui.page("/account")
def account_page(request: Request) -> None:
    svc = base_services()
    with frame(request, "account.title"):
        scope, session = current_scope(), current_session()
        if scope is None or session is None:
            return
        me = svc.accounts.user(scope.user_id)
        error_banner(request, min=str(svc.settings.auth.min_password_length))

        with ui.card().classes("w-full max-w-xl gap-3").mark("profile"):
            ui.label(t("account.profile")).classes("text-lg font-medium")
            ui.label(me.email).classes("text-gray-600").mark("account-email")
            name = ui.input(t("auth.name"), value=me.name).classes("w-full").mark("account-name")
            lang = ui.select(LANGUAGES, value=language(), label=t("nav.language")).classes("w-48") \
                .mark("account-language")

            def save_profile() -> None:
                try:
                    svc.accounts.update_profile(scope, name=name.value or "", locale=lang.value)
                except AppError as exc:
                    ui.notify(t("common.error", message=exc.message), type="negative")
                    return
                if lang.value != language():
                    set_language(lang.value)
                    ui.navigate.reload()
                    return
                ui.notify(t("account.saved"), type="positive")

            ui.button(t("account.save"), icon="save", on_click=save_profile).props("unelevated no-caps") \
                .mark("account-save")

        with ui.card().classes("w-full max-w-xl gap-3").mark("password"):
            # a native form: changing the password ends the person's sessions, and the new one is a new cookie
            ui.label(t("account.change_password")).classes("text-lg font-medium")
            if request.query_params.get("changed"):
                notice(t("account.password_changed"), mark="password-changed")
            if me.password_hash is None:
                ui.label(t("account.no_password")).classes("text-sm text-gray-600")
            with native_form("/auth/password", session.csrf_token, mark="password-form"):
                field("account.current_password", "old", kind="password", autocomplete="current-password",
                      required=me.password_hash is not None)
                field("auth.new_password", "password", kind="password", autocomplete="new-password")
                field("auth.new_password_again", "password2", kind="password", autocomplete="new-password")
                ui.label(t("auth.password_rule", min=str(svc.settings.auth.min_password_length))) \
                    .classes("text-xs text-gray-500")
                submit_button("account.change_password", mark="change-password", icon="lock")

        with ui.card().classes("w-full max-w-xl gap-3").mark("sessions"):
            ui.label(t("account.sessions")).classes("text-lg font-medium")
            ui.label(t("account.everywhere_intro")).classes("text-sm text-gray-600")
            with ui.row().classes("gap-2"):
                with native_form("/auth/logout", session.csrf_token, mark="logout-form", classes=""):
                    submit_button("menu.sign_out", mark="sign-out", icon="logout", color="primary")
                with native_form("/auth/logout", session.csrf_token, mark="logout-everywhere-form", classes=""):
                    hidden("everywhere", "1")
                    submit_button("account.sign_out_everywhere", mark="sign-out-everywhere", icon="devices",
                                  color="negative")

        my_data_card(svc, scope, me)  # export / delete my data (docs/data.md)
