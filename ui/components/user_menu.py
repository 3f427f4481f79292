"""The header's workspace switcher and user menu (signed-in people only).

Switching workspace and signing out are native form POSTs to app/auth_routes.py carrying the session's csrf
token: the session cookie is the server's to change, not a websocket event's.
"""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from ..i18n import t
from ..state import base_services, current_scope
from .auth_form import current_session, hidden, native_form


def _menu_link(label_key: str, path: str, icon: str) -> None:
    with ui.item(on_click=lambda: ui.navigate.to(path)).mark(f"menu-{path.strip('/')}"):
        with ui.item_section().props("avatar"):
            ui.icon(icon)
        ui.item_section(t(label_key))


def user_menu(request: Request | None) -> bool:
    """The menus, and True, for a signed-in person; nothing, and False, for anybody else."""
    scope, session = current_scope(), current_session()
    if scope is None or session is None:
        return False
    svc = base_services()
    here = request.url.path if request is not None else "/"
    workspaces = svc.workspaces.list(scope)
    current = next((w for w in workspaces if w.id == scope.workspace_id), None)
    me = svc.accounts.user(scope.user_id)

    with ui.button(current.name if current else "", icon="workspaces") \
            .props("flat no-caps color=white").mark("workspace-switcher"), ui.menu().classes("min-w-64"):
        ui.label(t("menu.workspaces")).classes("px-4 pt-2 text-xs text-gray-500 uppercase")
        for workspace in workspaces:
            with native_form("/auth/workspace", session.csrf_token, mark=f"switch-{workspace.id}",
                             classes="w-full"):
                hidden("workspace_id", workspace.id)
                hidden("next", here)
                active = workspace.id == scope.workspace_id
                ui.button(workspace.name, icon="check" if active else ("person" if workspace.personal_of
                                                                        else "groups")) \
                        .props("type=submit flat no-caps align=left" + (" color=primary" if active else "")) \
                        .classes("w-full").mark(f"workspace-{workspace.name}")
        ui.separator()
        _menu_link("menu.members", "/members", "group")

    with ui.button(icon="account_circle").props("flat round color=white").mark("user-menu") \
            .tooltip(me.email if me else "") as button:
        button.props["aria-label"] = t("menu.user")
        with ui.menu().classes("min-w-56"):
            if me is not None:
                with ui.column().classes("px-4 py-2 gap-0"):
                    ui.label(me.name or me.email).classes("font-medium").mark("menu-name")
                    ui.label(me.email).classes("text-xs text-gray-500")
                ui.separator()
            _menu_link("menu.account", "/account", "manage_accounts")
            _menu_link("menu.members", "/members", "group")
            if scope.can("audit.read"):
                _menu_link("menu.audit", "/audit", "history")
            _menu_link("menu.tokens", "/tokens", "vpn_key")
            if scope.can("usage.read"):
                _menu_link("menu.usage", "/usage", "data_usage")
            if scope.actor.is_admin:
                _menu_link("menu.admin", "/admin", "admin_panel_settings")
            ui.separator()
            with native_form("/auth/logout", session.csrf_token, mark="menu-logout-form", classes="w-full"):
                ui.button(t("menu.sign_out"), icon="logout").props("type=submit flat no-caps align=left") \
                    .classes("w-full").mark("menu-sign-out")
    return True
