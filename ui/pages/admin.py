"""The admin area (instance administrators; a 404 for everybody else): users, workspaces and their plans, queues,
failed runs across the instance, the settings in force. Every call goes through services.admin (app/admin.py),
which checks the administrator right again."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from nicegui import ui

from app.policy import Scope
from app.services import Services

from ..components.attempt import attempt
from ..components.frame import frame
from ..components.usage_panel import usage_panel
from ..i18n import t
from ..state import base_services, current_scope

TABS = ("users", "workspaces", "queues", "failed", "settings")


def refused(path: str, scope: Scope | None) -> Response:
    """Not signed in: to the sign-in page; signed in without the administrator right: a plain 404."""
    if scope is None:
        return RedirectResponse(f"/login?next={path}", status_code=303)
    return HTMLResponse(f"<!doctype html><meta charset='utf-8'><title>404</title><p>{t('admin.not_found')}</p>"
                        "<p><a href='/'>MindDocs</a></p>", status_code=404)



def show_link(email: str, link: str, minutes: int) -> None:
    with ui.dialog() as dialog, ui.card().classes("min-w-96"):
        ui.label(t("admin.users.link_title", email=email)).classes("font-medium")
        ui.label(t("admin.users.link_intro", minutes=minutes)).classes("text-sm text-gray-600")
        ui.input(value=link).props("readonly outlined dense").classes("w-full").mark("admin-link")
        ui.button(t("common.close"), on_click=dialog.close).props("flat").mark("admin-link-close")
    dialog.open()


@ui.page("/admin")
def admin_page(request: Request) -> Response | None:
    scope = current_scope()
    if scope is None or not scope.actor.is_admin:
        return refused("/admin", scope)
    svc = base_services()
    with frame(request, "admin.title", wide=True):
        with ui.tabs().classes("w-full") as tabs:
            for key in TABS:
                ui.tab(key, label=t(f"admin.tab.{key}")).mark(f"admin-tab-{key}")
        with ui.tab_panels(tabs, value="users").classes("w-full"):
            for key, build in (("users", users_tab), ("workspaces", workspaces_tab), ("queues", queues_tab),
                               ("failed", failed_tab), ("settings", settings_tab)):
                with ui.tab_panel(key):
                    build(svc, scope)
    return None


def users_tab(svc: Services, scope: Scope) -> None:
    minutes = svc.settings.auth.reset_token_minutes

    @ui.refreshable
    def table() -> None:
        for user in svc.admin.users(scope):
            with ui.row().classes("w-full items-center gap-3 border-b py-1").mark(f"admin-user-{user.email}"):
                ui.label(user.email).classes("w-72 font-medium")
                ui.label(user.name).classes("w-40 text-gray-600")
                if user.is_admin:
                    ui.badge(t("admin.users.admin")).props("outline")
                ui.badge(t("admin.users.active" if user.is_active else "admin.users.disabled"),
                         color="positive" if user.is_active else "negative").mark(f"admin-state-{user.email}")
                ui.label(t("admin.users.last_login") + ": " + (f"{user.last_login_at:%Y-%m-%d %H:%M}"
                                                               if user.last_login_at else t("admin.users.never"))) \
                    .classes("text-xs text-gray-500")
                ui.space()
                change(user.id, user.email, "is_active", not user.is_active,
                       "admin.users.enable" if not user.is_active else "admin.users.disable")
                change(user.id, user.email, "is_admin", not user.is_admin,
                       "admin.users.grant_admin" if not user.is_admin else "admin.users.revoke_admin")
                ui.button(t("admin.users.reset_link"), icon="link",
                          on_click=lambda u=user: reset(u.id, u.email)).props("flat dense no-caps") \
                    .mark(f"admin-reset-{user.email}")

    def change(user_id: str, email: str, field: str, value: bool, label_key: str) -> None:
        setter = svc.admin.set_active if field == "is_active" else svc.admin.set_admin

        def do() -> None:
            if attempt(lambda: setter(scope, user_id, value), t("admin.users.changed", email=email)):
                table.refresh()

        ui.button(t(label_key), on_click=do).props("flat dense no-caps") \
            .mark(f"admin-{label_key.rsplit('.', 1)[-1]}-{email}")

    def reset(user_id: str, email: str) -> None:
        links: list[str] = []
        if attempt(lambda: links.append(svc.admin.reset_link(scope, user_id))):
            show_link(email, links[0], minutes)

    with ui.expansion(t("admin.users.new"), icon="person_add").classes("w-full").mark("admin-new-user"):
        ui.label(t("admin.users.new_intro")).classes("text-sm text-gray-600")
        with ui.row().classes("items-end gap-3"):
            email = ui.input(t("admin.users.email")).classes("w-72").mark("admin-new-email")
            name = ui.input(t("admin.users.name")).classes("w-48").mark("admin-new-name")
            locale = ui.select({"es": "Español", "en": "English"}, value="es", label=t("admin.users.language")) \
                .classes("w-32")
            make_admin = ui.checkbox(t("admin.users.make_admin")).mark("admin-new-admin")

            def create() -> None:
                made = []
                if attempt(lambda: made.append(svc.admin.create_user(scope, email.value or "", name=name.value or "",
                                                                     is_admin=bool(make_admin.value),
                                                                     locale=locale.value or "es")),
                           t("admin.users.created", email=(email.value or "").strip().lower())):
                    show_link(made[0].user.email, made[0].link, minutes)
                    email.value, name.value, make_admin.value = "", "", False
                    table.refresh()

            ui.button(t("admin.users.create"), icon="add", on_click=create).mark("admin-create-user")
    table()


def workspaces_tab(svc: Services, scope: Scope) -> None:
    plans = sorted(svc.admin.plans(scope))

    @ui.refreshable
    def table() -> None:
        with ui.row().classes("w-full gap-3 text-xs text-gray-500 uppercase"):
            for key, width in (("name", "w-72"), ("plan", "w-32"), ("members", "w-24"), ("storage", "w-32")):
                ui.label(t(f"admin.workspaces.{key}")).classes(width)
        for w in svc.admin.workspaces(scope):
            with ui.row().classes("w-full items-center gap-3 border-b py-1").mark(f"admin-workspace-{w.name}"):
                ui.label(w.name + (f" ({t('admin.workspaces.personal')})" if w.personal_of else "")).classes("w-72")
                ui.label(w.plan).classes("w-32").mark(f"admin-plan-{w.name}")
                ui.label(str(w.members)).classes("w-24")
                ui.label(f"{w.storage_bytes / 1024 / 1024:.1f}").classes("w-32")
                ui.button(t("admin.workspaces.change_plan"), icon="sell",
                          on_click=lambda w=w: plan_dialog(w.id, w.name, w.plan)).props("flat dense no-caps") \
                    .mark(f"admin-change-plan-{w.name}")

    def plan_dialog(workspace_id: str, name: str, current: str) -> None:
        with ui.dialog() as dialog, ui.card():
            ui.label(t("admin.workspaces.plan_title", name=name)).classes("font-medium")
            usage_panel(svc.admin.usage(scope, workspace_id))
            choice = ui.select(plans, value=current if current in plans else None,
                               label=t("admin.workspaces.plan")).classes("w-64").mark("admin-plan-choice")

            def save() -> None:
                if attempt(lambda: svc.admin.set_plan(scope, workspace_id, choice.value or ""),
                           t("admin.workspaces.plan_changed", name=name, plan=choice.value)):
                    dialog.close()
                    table.refresh()

            with ui.row().classes("w-full justify-end"):
                ui.button(t("common.cancel"), on_click=dialog.close).props("flat")
                ui.button(t("admin.workspaces.change_plan"), on_click=save).mark("admin-plan-save")
        dialog.open()

    table()


def queues_tab(svc: Services, scope: Scope) -> None:
    @ui.refreshable
    def table() -> None:
        state = svc.admin.queues(scope)
        ui.label(t("admin.queues.intro", broker=state.broker_kind)).classes("text-sm text-gray-600")
        columns = [{"name": k, "label": t(f"admin.queues.{k}"), "field": k, "align": "left"}
                   for k in ("queue", "pending", "queued", "running", "broker_waiting", "broker_unfinished")]
        rows = [{"queue": q, **{s: state.node_runs.get(q, {}).get(s, 0) for s in ("pending", "queued", "running")},
                 "broker_waiting": state.broker.get(q, {}).get("waiting", "–"),
                 "broker_unfinished": state.broker.get(q, {}).get("unfinished", "–")}
                for q in sorted(set(state.node_runs) | set(state.broker))]
        ui.table(columns=columns, rows=rows, row_key="queue").classes("w-full").mark("admin-queues")
        ui.label(t("admin.queues.runs", states=", ".join(f"{k}: {v}" for k, v in sorted(state.runs.items()))
                   or "–")).classes("text-sm").mark("admin-run-states")

    table()
    ui.button(t("admin.queues.refresh"), icon="refresh", on_click=table.refresh).props("flat no-caps")


def failed_tab(svc: Services, scope: Scope) -> None:
    ui.label(t("admin.failed.intro")).classes("text-sm text-gray-600")
    rows = svc.admin.failed_runs(scope, 100)
    if not rows:
        ui.label(t("admin.failed.empty")).mark("admin-failed-empty")
    for run in rows:
        with ui.row().classes("w-full items-center gap-3 border-b py-1 no-wrap").mark(f"admin-failed-{run.id}"):
            ui.label(f"{run.finished_at or run.created_at:%Y-%m-%d %H:%M}").classes("w-36 text-xs text-gray-500")
            ui.label(run.workspace_name).classes("w-48")
            ui.label(run.graph_name).classes("w-48 font-medium")
            ui.label((run.error_message or run.error_code or "")[:300]).classes("grow text-sm text-red-700")
            ui.link(t("admin.failed.open"), f"/admin/runs/{run.id}").mark(f"admin-open-{run.id}")


def settings_tab(svc: Services, scope: Scope) -> None:
    ui.label(t("admin.settings.intro")).classes("text-sm text-gray-600")
    columns = [{"name": k, "label": t(f"admin.settings.{k}"), "field": k, "align": "left"}
               for k in ("key", "env", "value")]
    rows = [{"key": r.key, "env": r.env, "value": r.value} for r in svc.admin.settings(scope)]
    ui.table(columns=columns, rows=rows, row_key="key", pagination=0).props("dense flat") \
        .classes("w-full").mark("admin-settings")
