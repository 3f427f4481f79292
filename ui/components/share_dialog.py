"""The editors' share dialog: create a share link for a graph (docs/share-links.md), list its links with their
addresses and embed code, turn one off. `share_button(graph_id)` is the button that opens it; it shows only
for people who may share the graph (editors and owners of its workspace)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from nicegui import ui

from app.errors import AppError
from app.share_models import ShareLinkView

from ..i18n import t
from ..state import base_services, current_scope, services


def share_button(graph_id: str) -> ui.button | None:
    """A "Share" button for the graph, or nothing for people whose role does not allow sharing it."""
    scope = current_scope()
    try:
        workspace_id = services().graphs.get(graph_id).workspace_id
    except AppError:
        return None
    if scope is None or not scope.can("share.write", workspace_id):
        return None
    return ui.button(t("share.dialog.button"), icon="share", on_click=lambda: share_dialog(graph_id).open()) \
        .props("outline no-caps").props("data-testid=share").mark("share")


def share_dialog(graph_id: str) -> ui.dialog:
    share, scope = base_services().share_links, current_scope()
    with ui.dialog() as dialog, ui.card().classes("w-[46rem] max-w-full gap-2").mark("share-dialog"):
        ui.label(t("share.dialog.title")).classes("text-lg font-semibold")
        ui.label(t("share.dialog.intro")).classes("text-sm text-gray-600")
        name = ui.input(t("share.dialog.name")).classes("w-full").mark("share-name")
        with ui.row().classes("w-full gap-4"):
            expires = ui.input(t("share.dialog.expires")).props("type=date stack-label").classes("w-56") \
                .mark("share-expires")
            max_runs = ui.number(t("share.dialog.max_runs"), min=1, precision=0).classes("w-56").mark("share-max-runs")
        password = ui.input(t("share.dialog.password"), password=True, password_toggle_button=True) \
            .classes("w-full").mark("share-password")
        show = ui.switch(t("share.dialog.show_outputs"), value=True).mark("share-show-outputs")
        ui.label(t("share.dialog.show_outputs_help")).classes("text-xs text-gray-500")
        origins = ui.textarea(t("share.dialog.origins")).props("autogrow").classes("w-full").mark("share-origins")

        def create() -> None:
            until = None
            if expires.value:
                try:
                    day = date.fromisoformat(expires.value)
                except ValueError:
                    ui.notify(t("share.dialog.bad_date"), type="negative")
                    return
                until = datetime.combine(day, time(23, 59, 59), tzinfo=UTC)  # the end of that day (UTC)
            try:
                share.create(scope, graph_id, name=name.value or "", expires_at=until,
                             max_runs=int(max_runs.value) if max_runs.value else None,
                             password=password.value or None, show_outputs=show.value,
                             allowed_origins=[line for line in (origins.value or "").splitlines() if line.strip()])
            except AppError as exc:
                ui.notify(exc.message, type="negative", multi_line=True)
                return
            password.value = ""
            ui.notify(t("share.dialog.created"), type="positive")
            links.refresh()

        ui.button(t("share.dialog.create"), icon="add_link", on_click=create).mark("share-create")
        ui.separator()
        ui.label(t("share.dialog.links")).classes("font-medium")

        @ui.refreshable
        def links() -> None:
            try:
                views = share.list(scope, graph_id)
            except AppError as exc:
                ui.label(exc.message).classes("text-negative")
                return
            if not views:
                ui.label(t("share.dialog.none")).classes("text-sm text-gray-500").mark("share-none")
            for view in views:
                link_row(view)

        def link_row(view: ShareLinkView) -> None:
            link = view.link
            state = link.state()
            with ui.card().classes("w-full p-2 gap-1").mark(f"share-link-{link.id}"):
                with ui.row().classes("w-full items-center gap-2"):
                    ui.label(link.name).classes("font-medium")
                    colour = "positive" if state == "active" else "grey"
                    ui.badge(t(f"share.state.{state}"), color=colour).mark("share-state")
                    ui.space()
                    if state != "revoked":
                        ui.button(t("share.dialog.revoke"), icon="link_off", color="negative",
                                  on_click=lambda lid=link.id: revoke(lid)).props("flat dense no-caps") \
                            .mark("share-revoke")
                ui.label(" · ".join(facts(view))).classes("text-xs text-gray-600")
                if view.url is None:
                    ui.label(t("share.dialog.unreadable")).classes("text-xs text-negative")
                elif state != "revoked":
                    ui.label(view.url).classes("font-mono text-xs break-all").mark("share-url")
                    with ui.row().classes("gap-1"):
                        copy(t("share.dialog.copy_link"), view.url, "content_copy")
                        copy(t("share.dialog.copy_embed"), view.to_json()["embed_html"], "code")
                        ui.link(t("common.open"), view.url, new_tab=True).classes("text-sm self-center")

        def revoke(link_id: str) -> None:
            try:
                share.revoke(scope, link_id)
            except AppError as exc:
                ui.notify(exc.message, type="negative")
                return
            ui.notify(t("share.dialog.revoked"))
            links.refresh()

        with ui.column().classes("w-full gap-2").mark("share-links"):
            links()
        with ui.row().classes("w-full justify-end"):
            ui.button(t("common.close"), on_click=dialog.close).props("flat")
    return dialog


def facts(view: ShareLinkView) -> list[str]:
    link = view.link
    out = [t("share.dialog.runs_of", count=str(link.runs_count), max=str(link.max_runs)) if link.max_runs
           else t("share.dialog.runs", count=str(link.runs_count))]
    if link.expires_at:
        out.append(t("share.dialog.expires_on", date=link.expires_at.date().isoformat()))
    if link.password_hash:
        out.append(t("share.dialog.protected"))
    if not link.show_outputs:
        out.append(t("share.dialog.owner_only"))
    if link.allowed_origins:
        out.append(", ".join(link.allowed_origins))
    return out


def copy(label: str, text: str, icon: str) -> None:
    def clicked() -> None:
        ui.clipboard.write(text)
        ui.notify(t("common.copied"))

    ui.button(label, icon=icon, on_click=clicked).props("flat dense no-caps")
