"""The public account pages: sign in, first administrator, register, forgotten password, reset, invitation.

Each is a native HTML form that posts to app/auth_routes.py (which sets the session cookie and answers with a
redirect); a failed attempt comes back here with `?error=<code>`, shown as a sentence.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from app.auth_routes import safe_next
from app.errors import AppError
from app.oidc import oidc_buttons

from ..components.auth_form import (
    auth_card,
    current_session,
    error_banner,
    field,
    form_csrf_token,
    hidden,
    link_button,
    native_form,
    notice,
    submit_button,
    with_csrf_cookie,
)
from ..components.frame import frame
from ..i18n import language, t
from ..state import base_services, current_scope


def _errors(request: Request) -> None:
    error_banner(request, min=str(base_services().settings.auth.min_password_length))


def _oidc_buttons(next_path: str) -> None:
    """One button per configured single sign-on provider (app/oidc.py), to /auth/oidc/<name>/login."""
    buttons = oidc_buttons(base_services().settings)
    if not buttons:
        return
    ui.label(t("auth.login.or")).classes("text-sm text-gray-500 self-center")
    for name, label in buttons:
        url = f"/auth/oidc/{name}/login" + (f"?{urlencode({'next': next_path})}" if next_path != "/" else "")
        link_button(t("auth.login.with", provider=label), url, icon="login", mark=f"oidc-{name}", outline=True) \
            .classes("w-full")


@ui.page("/login")
def login_page(request: Request):
    svc = base_services()
    if svc.accounts.needs_setup() and svc.settings.auth.setup_in_browser:
        return RedirectResponse("/setup", status_code=303)
    next_path = safe_next(request.query_params.get("next"))
    if current_scope() is not None and not request.query_params.get("error"):  # signed in already: go on
        return RedirectResponse(next_path, status_code=303)
    token = form_csrf_token(request)
    with frame(request, "auth.login.title", public=True), auth_card():
        _errors(request)
        with native_form("/auth/login", token, mark="login-form"):
            hidden("next", next_path)
            field("auth.email", "email", kind="email", value=request.query_params.get("email", ""),
                  autocomplete="username")
            field("auth.password", "password", kind="password", autocomplete="current-password")
            submit_button("auth.login.submit", mark="login-submit", icon="login")
        with ui.row().classes("w-full justify-between"):
            ui.link(t("auth.login.forgot"), "/forgot").mark("forgot-link")
            if svc.settings.auth.registration == "open":
                query = f"?{urlencode({'next': next_path})}" if next_path != "/" else ""
                ui.link(t("auth.login.register"), f"/register{query}").mark("register-link")
        _oidc_buttons(next_path)
    return with_csrf_cookie(request, token, svc.settings)


@ui.page("/setup")
def setup_page(request: Request):
    svc = base_services()
    if not svc.accounts.needs_setup():
        return RedirectResponse("/login", status_code=303)
    token = form_csrf_token(request)
    with frame(request, "auth.setup.title", public=True), auth_card():
        if not svc.settings.auth.setup_in_browser:
            notice(t("auth.setup.cli"), mark="setup-cli")
            return None
        ui.label(t("auth.setup.intro")).classes("text-sm text-gray-600")
        _errors(request)
        with native_form("/auth/setup", token, mark="setup-form"):
            hidden("lang", language())
            field("auth.email", "email", kind="email", value=request.query_params.get("email", ""),
                  autocomplete="username")
            field("auth.name", "name", value=request.query_params.get("name", ""), autocomplete="name")
            _new_password_fields()
            submit_button("auth.setup.submit", mark="setup-submit", icon="admin_panel_settings")
    return with_csrf_cookie(request, token, svc.settings)


def _new_password_fields() -> None:
    field("auth.new_password", "password", kind="password", autocomplete="new-password")
    field("auth.new_password_again", "password2", kind="password", autocomplete="new-password")
    ui.label(t("auth.password_rule", min=str(base_services().settings.auth.min_password_length))) \
        .classes("text-xs text-gray-500")


@ui.page("/register")
def register_page(request: Request):
    svc = base_services()
    invite_token = request.query_params.get("token", "")
    invitation = svc.workspaces.invitation(invite_token) if invite_token else None
    token = form_csrf_token(request)
    with frame(request, "auth.register.title", public=True), auth_card():
        _errors(request)
        if invite_token and (invitation is None or invitation.state != "valid"):
            notice(t(f"auth.invite.state.{invitation.state if invitation else 'invalid'}"), mark="invite-state")
            return with_csrf_cookie(request, token, svc.settings)
        if invitation is None and svc.settings.auth.registration != "open":
            notice(t("auth.error.registration_closed"), mark="registration-closed")
            ui.link(t("auth.register.have_account"), "/login")
            return with_csrf_cookie(request, token, svc.settings)
        if invitation is not None:
            ui.label(t("auth.invite.summary", workspace=invitation.workspace_name,
                       role=t(f"role.{invitation.role}"))).mark("invite-summary")
        with native_form("/auth/register", token, mark="register-form"):
            hidden("token", invite_token)
            hidden("next", safe_next(request.query_params.get("next")))
            hidden("lang", language())
            field("auth.email", "email", kind="email", autocomplete="username", readonly=invitation is not None,
                  value=invitation.email if invitation else request.query_params.get("email", ""))
            field("auth.name", "name", value=request.query_params.get("name", ""), autocomplete="name")
            _new_password_fields()
            submit_button("auth.register.submit", mark="register-submit", icon="person_add")
        ui.link(t("auth.register.have_account"), "/login")
    return with_csrf_cookie(request, token, svc.settings)


@ui.page("/forgot")
def forgot_page(request: Request):
    token = form_csrf_token(request)
    with frame(request, "auth.forgot.title", public=True), auth_card():
        _errors(request)
        if request.query_params.get("sent"):
            notice(t("auth.forgot.sent"), mark="forgot-sent")
        ui.label(t("auth.forgot.intro")).classes("text-sm text-gray-600")
        with native_form("/auth/forgot", token, mark="forgot-form"):
            field("auth.email", "email", kind="email", value=request.query_params.get("email", ""),
                  autocomplete="username")
            submit_button("auth.forgot.submit", mark="forgot-submit", icon="mail")
        ui.link(t("auth.back_to_login"), "/login")
    return with_csrf_cookie(request, token, base_services().settings)


@ui.page("/reset")
def reset_page(request: Request):
    reset_token = request.query_params.get("token", "")
    token = form_csrf_token(request)
    with frame(request, "auth.reset.title", public=True), auth_card():
        _errors(request)
        if not reset_token:
            notice(t("auth.error.token_invalid"), mark="reset-no-token")
            ui.link(t("auth.forgot.title"), "/forgot")
            return with_csrf_cookie(request, token, base_services().settings)
        with native_form("/auth/reset", token, mark="reset-form"):
            hidden("token", reset_token)
            _new_password_fields()
            submit_button("auth.reset.submit", mark="reset-submit", icon="lock_reset")
        ui.link(t("auth.forgot.again"), "/forgot")
    return with_csrf_cookie(request, token, base_services().settings)


@ui.page("/invite")
def invite_page(request: Request):
    svc = base_services()
    invite_token = request.query_params.get("token", "")
    invitation = svc.workspaces.invitation(invite_token) if invite_token else None
    here = f"/invite?{urlencode({'token': invite_token})}"
    with frame(request, "auth.invite.title", public=True), auth_card():
        if invitation is None or invitation.state != "valid":
            notice(t(f"auth.invite.state.{invitation.state if invitation else 'invalid'}"), mark="invite-state")
            return
        ui.label(t("auth.invite.summary", workspace=invitation.workspace_name,
                   role=t(f"role.{invitation.role}"))).classes("text-lg").mark("invite-summary")
        ui.label(t("auth.invite.for", email=invitation.email)).classes("text-sm text-gray-600")
        scope, session = current_scope(), current_session()
        if scope is None or session is None:
            ui.label(t("auth.invite.sign_in_first")).classes("text-sm")
            with ui.row().classes("gap-2"):
                link_button(t("auth.login.submit"), f"/login?{urlencode({'next': here})}", icon="login",
                            mark="invite-login")
                link_button(t("auth.register.submit"), f"/register?{urlencode({'token': invite_token})}",
                            icon="person_add", mark="invite-register", outline=True)
            return

        def accept() -> None:
            try:
                workspace = svc.workspaces.accept_invitation(invite_token, scope.user_id)
            except AppError as exc:
                ui.notify(t("common.error", message=exc.message), type="negative", multi_line=True)
                return
            svc.accounts.set_session_workspace(session.session_id, workspace.id)
            ui.navigate.to("/")

        ui.button(t("auth.invite.accept"), icon="group_add", on_click=accept) \
            .props("unelevated no-caps").mark("invite-accept")
    return
