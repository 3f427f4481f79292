"""Graph library: search, create, rename, duplicate, delete, import and export graphs."""

from __future__ import annotations

import json

from fastapi import Request
from nicegui import events, ui

from app import ui_support
from app.errors import AppError

from ..components.frame import frame
from ..i18n import t
from ..state import services
from .marketplace import update_badge, workspace_updates


def blank_graph(name: str) -> dict:
    return {"format_version": 2, "meta": {"name": name, "description": "", "tags": []}, "nodes": [], "edges": []}


@ui.page("/")
def library_page(request: Request) -> None:
    svc = services()
    with frame(request, "library.title"):
        with ui.row().classes("w-full items-center gap-2"):
            search = ui.input(t("common.search")).props("clearable outlined dense").classes("w-72").mark("search")
            ui.space()
            ui.button(t("library.new"), icon="add", on_click=lambda: ask_name(t("library.new"),
                      t("library.new_name"), create)).mark("new-graph")
            importer = ui.upload(auto_upload=True, on_upload=lambda e: import_json(e)) \
                .props('accept=".json,application/json"').classes("hidden").mark("import")
            ui.button(t("library.import"), icon="upload_file", on_click=lambda: importer.run_method("pickFiles")) \
                .props("outline").mark("import-button")

        @ui.refreshable
        def graph_list() -> None:
            needle = (search.value or "").strip().lower()
            rows = [g for g in svc.graphs.list()
                    if not needle or needle in f"{g.name} {g.description} {' '.join(g.tags)}".lower()]
            if not rows:
                ui.label(t("library.empty")).classes("text-gray-500").mark("empty")
                return
            updates = workspace_updates()  # graphs installed from the marketplace with a newer version there
            for row in rows:
                graph_card(row, updates)

        def graph_card(row, updates: dict) -> None:
            with ui.card().classes("w-full").mark(f"graph-{row.id}"), \
                    ui.row().classes("w-full items-start no-wrap"):
                with ui.column().classes("gap-1 grow"):
                    ui.link(row.name, f"/graphs/{row.id}/edit").classes("text-lg font-medium")
                    if row.description:
                        ui.label(row.description).classes("text-sm text-gray-600")
                    with ui.row().classes("gap-2 text-xs text-gray-500"):
                        ui.label(t("library.version", number=row.latest_version))
                        ui.label(t("library.updated", when=row.updated_at.strftime("%Y-%m-%d %H:%M")))
                        for tag in row.tags:
                            ui.badge(tag).props("outline")
                        update_badge(row.id, updates)
                with ui.row().classes("gap-1"):
                    ui.button(t("library.edit"), icon="edit",
                              on_click=lambda r=row: ui.navigate.to(f"/graphs/{r.id}/edit")).props("flat")
                    ui.button(t("library.run"), icon="play_arrow",
                              on_click=lambda r=row: ui.navigate.to(f"/graphs/{r.id}/run")).props("flat") \
                        .mark(f"run-{row.id}")
                    with ui.button(icon="more_vert").props("flat round").mark(f"menu-{row.id}"), ui.menu():
                        ui.menu_item(t("library.rename"), lambda r=row: ask_name(
                            t("library.rename"), r.name, lambda name, r=r: rename(r.id, name))) \
                            .mark(f"rename-{row.id}")
                        ui.menu_item(t("library.duplicate"), lambda r=row: duplicate(r.id)) \
                            .mark(f"duplicate-{row.id}")
                        ui.menu_item(t("library.export"), lambda r=row: export(r.id))
                        ui.menu_item(t("publish.submit"), lambda r=row: ui.navigate.to(f"/graphs/{r.id}/publish")) \
                            .mark(f"publish-{row.id}")
                        ui.menu_item(t("common.delete"), lambda r=row: confirm_delete(r.id, r.name)) \
                            .mark(f"delete-{row.id}")

        graph_list()
        search.on_value_change(graph_list.refresh)

    def ask_name(title: str, value: str, then) -> None:
        with ui.dialog() as dialog, ui.card().classes("w-96"):
            ui.label(title).classes("text-lg")
            name = ui.input(t("common.name"), value=value).classes("w-full").mark("name-input")
            with ui.row().classes("w-full justify-end"):
                ui.button(t("common.cancel"), on_click=dialog.close).props("flat")

                def ok() -> None:
                    if name.value.strip():
                        dialog.close()
                        then(name.value.strip())

                ui.button(t("common.save"), on_click=ok).mark("name-ok")
            name.on("keydown.enter", ok)
        dialog.open()

    def create(name: str) -> None:
        version = svc.graphs.save(blank_graph(name))
        ui.navigate.to(f"/graphs/{version.graph_id}/edit")

    def rename(graph_id: str, name: str) -> None:
        spec = svc.graphs.latest(graph_id).spec
        spec["meta"]["name"] = name
        svc.graphs.save(spec, graph_id=graph_id)
        graph_list.refresh()
        ui.notify(t("library.renamed", name=name), type="positive")

    def duplicate(graph_id: str) -> None:
        spec = svc.graphs.latest(graph_id).spec
        spec["meta"]["name"] = f"{spec['meta']['name']} {t('library.copy_suffix')}"[:200]
        svc.graphs.save(spec)
        graph_list.refresh()
        ui.notify(t("library.duplicated", name=spec["meta"]["name"]), type="positive")

    def export(graph_id: str) -> None:
        spec = svc.graphs.latest(graph_id).spec
        ui.download.content(json.dumps(spec, indent=2, ensure_ascii=False), f"{graph_id}.json",
                            "application/json")

    def confirm_delete(graph_id: str, name: str) -> None:
        with ui.dialog() as dialog, ui.card():
            ui.label(t("library.delete_confirm", name=name))
            with ui.row().classes("w-full justify-end"):
                ui.button(t("common.cancel"), on_click=dialog.close).props("flat")

                def really() -> None:
                    dialog.close()
                    ui_support.delete_graph(svc, graph_id)
                    graph_list.refresh()
                    ui.notify(t("library.deleted", name=name))

                ui.button(t("common.delete"), color="negative", on_click=really).mark("confirm-delete")
        dialog.open()

    async def import_json(e: events.UploadEventArguments) -> None:
        try:
            version = svc.graphs.save(await e.file.read(), source_kind="import")
        except AppError as exc:
            details = "; ".join(d.get("message", "") for d in (exc.details or []) if isinstance(d, dict))
            ui.notify(t("library.import_failed", message=details or exc.message), type="negative", multi_line=True)
            return
        graph_list.refresh()
        e.sender.reset()
        ui.notify(t("library.import_done", name=version.spec["meta"]["name"]), type="positive")
