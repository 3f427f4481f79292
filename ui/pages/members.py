"""The current workspace: its members and their roles, invitations, and (for owners) rename and delete;
anyone may create a team workspace. Every change goes through services.workspaces, which checks the role."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from nicegui import ui

from ..components.attempt import attempt
from ..components.auth_form import current_session
from ..components.frame import frame
from ..i18n import t
from ..state import base_services, current_scope

ROLES = ("owner", "editor", "runner", "viewer")


def _roles() -> dict[str, str]:
    return {role: t(f"role.{role}") for role in ROLES}



def _confirm(question: str, label: str, then: Callable[[], None], *, mark: str) -> None:
    with ui.dialog() as dialog, ui.card():
        ui.label(question)
        with ui.row().classes("w-full justify-end"):
            ui.button(t("common.cancel"), on_click=dialog.close).props("flat")

            def really() -> None:
                dialog.close()
                then()

            ui.button(label, color="negative", on_click=really).mark(mark)
    dialog.open()


@ui.page("/members")
def members_page(request: Request) -> None:
    svc = base_services()
    with frame(request, "members.title"):
        scope, session = current_scope(), current_session()
        if scope is None or session is None:
            return
        workspaces = svc.workspaces.list(scope)
        current = next((w for w in workspaces if w.id == scope.workspace_id), None)
        personal = next((w for w in workspaces if w.personal_of == scope.user_id), None)
        if current is None:
            return
        # a personal workspace has one member for good: nothing to manage there but its graphs
        owner = scope.can("members.manage", current.id) and not current.personal_of

        def work_in(workspace_id: str, path: str = "/members") -> None:
            svc.accounts.set_session_workspace(session.session_id, workspace_id)
            ui.navigate.to(path)

        with ui.row().classes("w-full items-center gap-2"):
            ui.icon("person" if current.personal_of else "groups").classes("text-2xl text-gray-600")
            ui.label(current.name).classes("text-xl font-medium").mark("workspace-name")
            ui.badge(t(f"role.{current.role}") if current.role else "").props("outline").mark("my-role")
            ui.space()
            if owner:
                ui.button(t("members.rename"), icon="edit", on_click=lambda: rename_dialog()) \
                    .props("flat no-caps").mark("rename-workspace")
                ui.button(t("members.delete_workspace"), icon="delete", color="negative",
                          on_click=lambda: _confirm(t("members.delete_confirm", name=current.name),
                                                    t("common.delete"), delete_workspace,
                                                    mark="confirm-delete-workspace")) \
                    .props("flat no-caps").mark("delete-workspace")
            elif not current.personal_of:
                ui.button(t("members.leave"), icon="logout", color="negative",
                          on_click=lambda: _confirm(t("members.leave_confirm", name=current.name),
                                                    t("members.leave"), leave, mark="confirm-leave")) \
                    .props("flat no-caps").mark("leave-workspace")
            ui.button(t("members.new_workspace"), icon="add", on_click=lambda: create_dialog()) \
                .props("unelevated no-caps").mark("new-workspace")
        if current.personal_of:
            ui.label(t("members.personal_intro")).classes("text-sm text-gray-600")

        @ui.refreshable
        def member_list() -> None:
            with ui.card().classes("w-full gap-1").mark("member-list"):
                ui.label(t("members.members")).classes("text-lg font-medium")
                for member in svc.workspaces.members(scope, current.id):
                    with ui.row().classes("w-full items-center no-wrap gap-3").mark(f"member-{member.email}"):
                        ui.icon("person").classes("text-gray-500")
                        with ui.column().classes("gap-0 grow"):
                            ui.label(member.name or member.email).classes("font-medium")
                            ui.label(member.email).classes("text-sm text-gray-600")
                        if owner:
                            ui.select(_roles(), value=member.role,
                                      on_change=lambda e, m=member: change_role(m.user_id, e.value)) \
                                .props("dense outlined options-dense").classes("w-36").mark(f"role-{member.email}")
                            if member.user_id != scope.user_id:
                                ui.button(icon="person_remove", color="negative",
                                          on_click=lambda m=member: _confirm(
                                              t("members.remove_confirm", email=m.email), t("members.remove"),
                                              lambda: remove(m.user_id), mark="confirm-remove")) \
                                    .props("flat round").mark(f"remove-{member.email}") \
                                    .tooltip(t("members.remove"))
                        else:
                            ui.label(t(f"role.{member.role}")).classes("text-sm").mark(f"role-{member.email}")

        def change_role(user_id: str, role: str) -> None:
            attempt(lambda: svc.workspaces.set_role(scope, current.id, user_id, role), t("members.role_changed"))
            member_list.refresh()

        def remove(user_id: str) -> None:
            attempt(lambda: svc.workspaces.remove_member(scope, current.id, user_id), t("members.removed"))
            member_list.refresh()

        member_list()
        if owner:
            invitation_panel(svc, scope, current.id)

        def leave() -> None:
            if attempt(lambda: svc.workspaces.remove_member(scope, current.id, scope.user_id)) and personal:
                work_in(personal.id, "/")

        def delete_workspace() -> None:
            if personal and attempt(lambda: svc.lifecycle.delete_workspace(scope, current.id)):
                work_in(personal.id, "/")

        def rename_dialog() -> None:
            name_dialog(t("members.rename"), current.name,
                        lambda name: attempt(lambda: svc.workspaces.rename(scope, current.id, name))
                        and ui.navigate.reload())

        def create_dialog() -> None:
            def create(name: str) -> None:
                created: list = []
                if attempt(lambda: created.append(svc.workspaces.create(scope, name))):
                    work_in(created[0].id)

            name_dialog(t("members.new_workspace"), "", create)


def name_dialog(title: str, value: str, then: Callable[[str], object]) -> None:
    with ui.dialog() as dialog, ui.card().classes("w-96"):
        ui.label(title).classes("text-lg font-medium")
        name = ui.input(t("members.workspace_name"), value=value).classes("w-full").mark("workspace-name-input")
        with ui.row().classes("w-full justify-end"):
            ui.button(t("common.cancel"), on_click=dialog.close).props("flat")

            def save() -> None:
                if not (name.value or "").strip():
                    ui.notify(t("members.name_needed"), type="warning")
                    return
                dialog.close()
                then(name.value.strip())

            ui.button(t("common.save"), on_click=save).mark("workspace-name-save")
    dialog.open()


def invitation_panel(svc, scope, workspace_id: str) -> None:
    """Invite by email with a role; the pending invitations, each revocable."""
    with ui.card().classes("w-full gap-2").mark("invite-panel"):
        ui.label(t("members.invite")).classes("text-lg font-medium")
        with ui.row().classes("w-full items-center gap-2"):
            email = ui.input(t("auth.email")).props("type=email").classes("grow").mark("invite-email")
            role = ui.select(_roles(), value="editor", label=t("members.role")).classes("w-40").mark("invite-role")

            def invite() -> None:
                sent: list = []
                address = (email.value or "").strip()
                if not attempt(lambda: sent.append(svc.workspaces.invite(scope, workspace_id, address, role.value))):
                    return
                email.set_value("")
                pending.refresh()
                if sent[0].emailed:
                    ui.notify(t("members.invite_sent", email=sent[0].row.email), type="positive")
                else:  # no SMTP server, or it refused: the owner passes the link on
                    link_dialog(sent[0].link)

            ui.button(t("members.invite_button"), icon="send", on_click=invite).props("unelevated no-caps") \
                .mark("invite-send")

        @ui.refreshable
        def pending() -> None:
            rows = svc.workspaces.invitations(scope, workspace_id)
            if not rows:
                ui.label(t("members.no_invitations")).classes("text-sm text-gray-500").mark("no-invitations")
                return
            ui.label(t("members.pending")).classes("font-medium")
            for row in rows:
                with ui.row().classes("w-full items-center no-wrap gap-3").mark(f"invitation-{row.email}"):
                    ui.icon("mail").classes("text-gray-500")
                    ui.label(row.email).classes("grow")
                    ui.label(t(f"role.{row.role}")).classes("text-sm")
                    ui.label(t("members.expired") if row.state == "expired" else
                             t("members.expires", when=row.expires_at.strftime("%Y-%m-%d %H:%M UTC"))) \
                        .classes("text-xs text-gray-500")
                    ui.button(t("members.revoke"), icon="block", color="negative",
                              on_click=lambda r=row: revoke(r.id)).props("flat no-caps").mark(f"revoke-{row.email}")

        def revoke(invitation_id: str) -> None:
            attempt(lambda: svc.workspaces.revoke_invitation(scope, invitation_id), t("members.revoked"))
            pending.refresh()

        pending()


def link_dialog(link: str) -> None:
    """The invitation link to copy (no SMTP server configured, so nobody emailed it)."""
    with ui.dialog() as dialog, ui.card().classes("w-[36rem] max-w-full"):
        ui.label(t("members.link_intro")).classes("text-sm")
        ui.input(value=link).props("readonly outlined").classes("w-full font-mono").mark("invite-link")
        with ui.row().classes("w-full justify-end"):
            ui.button(t("common.copy"), icon="content_copy",
                      on_click=lambda: ui.clipboard.write(link)).props("flat no-caps").mark("copy-link")
            ui.button(t("common.close"), on_click=dialog.close).mark("close-link")
    dialog.open()
