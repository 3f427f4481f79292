"""The graph editor: palette, canvas (Vue Flow), settings panel, validation, save, undo/redo, run.

Run opens the run form in a dialog; the canvas then follows the run: a server-side timer reads the node
states and pushes them to the canvas over NiceGUI's websocket (`FlowEditor.set_run`). `?run=<id>` follows a
run from the start (the run page's "Show on canvas").
"""

from __future__ import annotations

import json
from itertools import groupby

from fastapi import Request
from nicegui import app, events, ui

from app import ui_support
from app.errors import AppError

from .. import theme
from ..components import flow_editor
from ..components.config_form import config_form
from ..components.frame import ensure_language, frame, not_found_page
from ..components.run_follow import RunFollower
from ..components.share_dialog import share_button
from ..editor_model import EditorModel
from ..i18n import config_problem_text, t
from ..state import services
from .run_form import inputs_form, issues_card, start_run

STATES = ("pending", "queued", "running", "succeeded", "failed", "skipped", "cancelled")


def palette_item(entry: dict, add) -> None:
    type_id = entry["type_id"]
    drag = f"event.dataTransfer.setData('application/x-minddocs-node', '{type_id}')"
    with ui.element("div").props(f'draggable=true ondragstart="{drag}" data-testid=palette-{type_id}') \
            .classes("w-full cursor-grab rounded border px-2 py-1 hover:bg-blue-50") \
            .on("click", lambda: add(type_id)).mark(f"palette-{type_id}") as item:
        with ui.row().classes("items-center gap-1 no-wrap"):
            for port in entry["outputs"][:1] or entry["inputs"][:1]:
                ui.element("span").classes("inline-block w-2 h-2 rounded-full") \
                    .style(f"background:{theme.port_colour(port['type'])}")
            ui.label(entry["display_name"]).classes("text-sm font-medium")
        ui.label(entry["description"]).classes("text-xs text-gray-500 leading-tight")
    item.tooltip(entry["doc"] or entry["description"])


@ui.page("/graphs/{graph_id}/edit")
def editor_page(request: Request, graph_id: str, run: str | None = None) -> None:
    svc = services()
    try:
        graph = svc.graphs.get(graph_id)
    except AppError as exc:
        not_found_page(request, "nav.library", exc.message)
        return
    saved = svc.graphs.latest(graph_id)
    lang = ensure_language(request)
    catalogue = ui_support.catalogue(svc, lang)  # node types' texts in the person's language
    drafts = app.storage.user.setdefault("drafts", {})
    draft = drafts.get(graph_id)
    restored = bool(draft and draft.get("base") == saved.id and draft.get("spec") != saved.spec)
    model = EditorModel(svc, draft["spec"] if restored else saved.spec, catalogue, lang)
    model.dirty = restored
    labels = {s: t(f"state.{s}") for s in STATES}
    panel_errors: dict[str, ui.label] = {}
    with frame(request, "editor.title", wide=True, name=graph.name):
        with ui.row().classes("w-full items-center gap-2"):
            name = ui.input(t("editor.graph_name"), value=model.spec["meta"]["name"]).classes("w-72") \
                .props("dense outlined").mark("graph-name")
            dirty_badge = ui.badge(t("editor.unsaved"), color="orange").mark("unsaved")
            ui.space()
            ui.button(icon="undo", on_click=lambda: (model.undo() and changed())).props("flat round") \
                .tooltip(t("editor.undo") + " (Ctrl+Z)").mark("undo")
            ui.button(icon="redo", on_click=lambda: (model.redo() and changed())).props("flat round") \
                .tooltip(t("editor.redo") + " (Ctrl+Y)").mark("redo")
            ui.button(icon="content_copy", on_click=lambda: duplicate(model.selected)).props("flat round") \
                .tooltip(t("editor.duplicate") + " (Ctrl+D)").mark("duplicate")
            ui.button(icon="delete", on_click=lambda: delete(model.selected, [])).props("flat round") \
                .tooltip(t("editor.delete") + f" ({t('editor.delete_key')})").mark("delete")
            ui.button(icon="account_tree", on_click=lambda: layout()).props("flat round") \
                .tooltip(t("editor.layout")).mark("auto-layout")
            ui.button(icon="fit_screen", on_click=lambda: canvas and canvas.fit_view()).props("flat round") \
                .tooltip(t("editor.fit"))
            snap = ui.switch(t("editor.snap"), value=True).props("dense")
            minimap = ui.switch(t("editor.minimap"), value=True).props("dense")
            ui.button(icon="file_download", on_click=lambda: ui.download.content(
                json.dumps(model.spec, indent=2, ensure_ascii=False), f"{graph_id}.json", "application/json")) \
                .props("flat round").tooltip(t("editor.export"))
            share_button(graph_id)  # share links and embedding (saved versions only); nothing for viewers
            ui.button(t("editor.save"), icon="save", on_click=lambda: save()).props("data-testid=save").mark("save")
            ui.button(t("editor.run"), icon="play_arrow", color="positive", on_click=lambda: run_graph()) \
                .props("data-testid=run").mark("run")
        if restored:
            with ui.row().classes("items-center gap-2 text-sm text-orange-800").mark("draft-restored"):
                ui.label(t("editor.draft_restored"))
                ui.button(t("editor.discard_draft"), on_click=lambda: discard_draft()).props("flat dense")

        with ui.row().classes("w-full no-wrap gap-2 items-stretch").style("height: calc(100vh - 190px)"):
            with ui.column().classes("w-60 shrink-0 h-full overflow-auto gap-1"):
                ui.label(t("editor.palette")).classes("font-medium")
                ui.label(t("editor.palette_hint")).classes("text-xs text-gray-500")
                search = ui.input(t("common.search")).props("dense clearable outlined").classes("w-full") \
                    .mark("palette-search")

                @ui.refreshable
                def palette() -> None:
                    needle = (search.value or "").lower()
                    items = [c for c in catalogue if needle in f"{c['type_id']} {c['display_name']} "
                             f"{c['description']} {c['category']} {c.get('category_label', '')}".lower()]
                    for category, group in groupby(items, key=lambda c: c.get("category_label", c["category"])):
                        ui.label(category).classes("text-xs uppercase text-gray-500 mt-2")
                        for entry in group:
                            palette_item(entry, lambda type_id: add_node(type_id))

                palette()
                search.on_value_change(palette.refresh)

            with ui.card().classes("grow h-full p-0 overflow-hidden").mark("canvas-card"):
                canvas = None
                if flow_editor.installed():
                    nodes, edges = model.flow(labels)
                    canvas = flow_editor.FlowEditor(nodes=nodes, edges=edges, compat=model.compat()) \
                        .classes("w-full h-full").mark("canvas")
                else:
                    ui.label("node_modules/@vue-flow is missing: run `npm ci` in the repository root.") \
                        .classes("p-4 text-negative")
                follower = RunFollower(canvas=canvas, graph_id=graph_id, selected=lambda: model.selected,
                                       node_of=model.node, save_first=lambda: not model.dirty or save())
                follower.bar()

            with ui.column().classes("w-80 shrink-0 h-full overflow-auto gap-2"):
                follower.node_panel()

                @ui.refreshable
                def side_panel() -> None:
                    panel_errors.clear()
                    selected = [model.node(i) for i in model.selected if model.node(i)]
                    if len(selected) != 1:
                        ui.label(t("editor.no_selection")).classes("text-sm text-gray-500").mark("no-selection")
                        return
                    node = selected[0]
                    entry = next((c for c in catalogue if c["type_id"] == node["type"]), None)
                    with ui.column().classes("w-full gap-1").mark("node-panel"):
                        ui.label(entry["display_name"] if entry else node["type"]).classes("font-medium")
                        ui.label(f"{node['type']} · #{node['id']}").classes("text-xs font-mono text-gray-500")
                        if entry:
                            ui.label(entry["description"]).classes("text-xs")
                        ui.input(t("editor.label"), value=node.get("label") or "",
                                 on_change=lambda e, nid=node["id"]: (model.set_label(nid, e.value),
                                                                      changed(panel=False))) \
                            .classes("w-full").mark("node-label")
                        if entry:
                            panel_errors.update(config_form(
                                entry["config_schema"], node.get("config") or {},
                                on_change=lambda field, value, nid=node["id"]: config_changed(nid, field, value),
                                problems=ui_support.config_problems(svc, node["type"], node.get("config") or {},
                                                                    config_problem_text)))

                side_panel()
                ui.separator()
                ui.label(t("editor.issues")).classes("font-medium")

                @ui.refreshable
                def issue_list() -> None:
                    if not model.issues:
                        ui.label(t("editor.valid")).classes("text-sm text-positive").mark("valid")
                    for issue in model.issues:
                        with ui.row().classes("no-wrap gap-1 items-start cursor-pointer").mark("issue") \
                                .on("click", lambda i=issue: select([i["node_id"]] if i.get("node_id") else [])):
                            ui.icon("warning", color="orange").classes("text-sm")
                            ui.label(model.issue_text(issue)).classes("text-xs")

                issue_list()

    def changed(*, panel: bool = True) -> None:
        """Push the model to the canvas, the panels and the autosaved draft."""
        if canvas is not None:
            canvas.set_graph(*model.flow(labels))
        dirty_badge.visible = model.dirty
        issue_list.refresh()
        if panel:
            side_panel.refresh()
            follower.node_panel.refresh()
        if name.value != model.spec["meta"]["name"]:
            name.value = model.spec["meta"]["name"]
        if model.dirty:
            app.storage.user.setdefault("drafts", {})[graph_id] = {"base": saved.id, "spec": model.spec}
            app.storage.user["drafts"] = app.storage.user["drafts"]  # persist the nested change

    def config_changed(node_id: str, field: str, value) -> None:
        model.set_config(node_id, field, value)
        node = model.node(node_id)
        problems = ui_support.config_problems(svc, node["type"], node.get("config") or {}, config_problem_text)
        for key, label in panel_errors.items():
            label.text = problems.get(key, "")
        changed(panel=False)

    def select(node_ids: list[str]) -> None:
        model.selected = node_ids
        side_panel.refresh()
        follower.node_panel.refresh()
        if canvas is not None:
            canvas.set_graph(*model.flow(labels))

    def add_node(type_id: str, x: float | None = None, y: float | None = None) -> None:
        if x is None or y is None:
            xs = [n.get("position", {}).get("x", 0) for n in model.spec["nodes"]]
            x, y = (max(xs) + 300 if xs else 0), 0
        model.add_node(type_id, x, y)
        changed()

    def delete(node_ids: list[str], edge_ids: list[str]) -> None:
        if model.delete(node_ids, edge_ids):
            changed()

    def duplicate(node_ids: list[str]) -> None:
        if model.duplicate(node_ids):
            changed()

    def layout() -> None:
        model.auto_layout()
        changed(panel=False)
        if canvas is not None:
            canvas.fit_view()

    def save() -> None:
        nonlocal saved
        try:  # based on the version this editor loaded: a newer save by someone else is a conflict
            version = svc.graphs.save(model.spec, graph_id=graph_id, expected_version=saved.number)
        except AppError as exc:
            stale = exc.code == "version_conflict"
            ui.notify(t("editor.conflict", mine=saved.number, latest=(exc.details or {}).get("latest_version"))
                      if stale else exc.message, type="negative", multi_line=True,
                      **({"timeout": 0, "close_button": True} if stale else {}))  # stays until read
            return False
        saved = version
        model.dirty = False
        app.storage.user.setdefault("drafts", {}).pop(graph_id, None)
        app.storage.user["drafts"] = app.storage.user["drafts"]
        dirty_badge.visible = False
        ui.notify(t("editor.saved", number=version.number), type="positive")
        return True

    def run_graph() -> None:
        """Ask for the inputs in a dialog (none asked: start at once); the canvas then follows the run."""
        if model.dirty and not save():
            return
        issues = svc.graphs.validate(saved.spec)
        interface = svc.graphs.interface(saved.id)["inputs"]
        if not issues and not interface:
            follower.follow(start_run(saved.id, {}))
            return
        run_dialog_card.clear()
        with run_dialog_card:
            ui.label(t("run_form.title", name=model.spec["meta"]["name"])).classes("text-lg font-medium")
            if issues:
                issues_card(issues)
            inputs_form(saved.id, lambda run_id: (run_dialog.close(), follower.follow(run_id)))
        run_dialog.open()

    def discard_draft() -> None:
        app.storage.user.setdefault("drafts", {}).pop(graph_id, None)
        app.storage.user["drafts"] = app.storage.user["drafts"]
        ui.navigate.reload()

    def on_connect(e: events.GenericEventArguments) -> None:
        a = e.args
        reason = model.connect(a["source"], a["source_port"], a["target"], a["target_port"])
        if reason:
            ui.notify(t("editor.refused", reason=reason), type="warning", multi_line=True)
            if canvas is not None:  # Vue Flow may have drawn a loose wire: redraw from the model
                canvas.set_graph(*model.flow(labels))
            return
        changed(panel=False)

    def on_moved(e: events.GenericEventArguments) -> None:
        model.move(e.args)
        dirty_badge.visible = model.dirty
        if model.dirty:
            app.storage.user.setdefault("drafts", {})[graph_id] = {"base": saved.id, "spec": model.spec}
            app.storage.user["drafts"] = app.storage.user["drafts"]
        if canvas is not None:
            canvas.nodes[:] = model.flow(labels)[0]  # keep props in step without redrawing

    def on_selection(e: events.GenericEventArguments) -> None:
        if sorted(e.args.get("nodes", [])) != sorted(model.selected):
            model.selected = list(e.args.get("nodes", []))
            side_panel.refresh()
            follower.node_panel.refresh()

    def on_key(e: events.GenericEventArguments) -> None:
        key, nodes, edges_ = e.args["key"], e.args.get("nodes", []), e.args.get("edges", [])
        if not nodes and not edges_:
            nodes = list(model.selected)
        if key == "delete":
            delete(nodes, edges_)
        elif key == "undo" and model.undo() or key == "redo" and model.redo():
            changed()
        elif key == "copy":
            fragment = model.copy(nodes)
            if fragment:
                app.storage.user["clipboard"] = fragment  # per person, so it pastes into other graphs too
        elif key == "paste":
            if model.paste(app.storage.user.get("clipboard")):
                changed()
        elif key == "duplicate":
            duplicate(nodes)
        elif key == "save":
            save()

    name.on_value_change(lambda e: e.value.strip() and e.value != model.spec["meta"]["name"]
                         and (model.set_name(e.value.strip()), changed(panel=False)))
    snap.on_value_change(lambda e: canvas and canvas.set_options(snap=e.value))
    minimap.on_value_change(lambda e: canvas and canvas.set_options(minimap=e.value))
    if canvas is not None:
        canvas.on("connect", on_connect)
        canvas.on("moved", on_moved)
        canvas.on("selection", on_selection)
        canvas.on("key", on_key)
        canvas.on("drop", lambda e: add_node(e.args["type_id"], e.args["x"], e.args["y"]))
    dirty_badge.visible = model.dirty

    with ui.dialog() as run_dialog:
        run_dialog_card = ui.card().classes("w-[36rem] max-w-full").mark("run-dialog")
    if run:  # "Show on canvas" from a run's page
        follower.follow(run)
