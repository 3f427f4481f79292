"""Schedules: run a graph on a timetable or for each file dropped in a folder. A list with state, next run and
last run; a form with the graph's inputs (the run form's fields), the cron timetable in words and its next runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from nicegui import ui

from app.cron import describe, parse_cron, timezones
from app.errors import AppError
from app.schedules import FILE_KINDS, ScheduleRow

from ..components.frame import frame, not_found_page
from ..components.run_state import state_badge
from ..i18n import language, t
from ..state import services
from .run_form import collect, input_field


def when(moment: datetime, timezone: str) -> str:
    local = moment.astimezone(ZoneInfo(timezone))
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or timezone)


def error_text(exc: AppError) -> str:
    """A refusal in the person's language when it is about a field we know; the service's sentence otherwise."""
    field = exc.details.get("field") if isinstance(exc.details, dict) else None
    roots = ", ".join(str(r) for r in services().schedules.watch_roots)
    key = {"cron": "schedules.bad_cron", "timezone": "schedules.bad_timezone", "end_at": "schedules.bad_dates",
           "watch_input": "schedules.no_file_input"}.get(field or "")
    if field == "watch_dir" and "outside" in exc.message:
        return t("schedules.bad_folder", roots=roots)
    return t(key) if key else exc.message


@ui.page("/schedules")
def schedules_page(request: Request) -> None:
    svc = services()
    with frame(request, "schedules.title"):
        with ui.row().classes("w-full items-center gap-2"):
            ui.label(t("schedules.intro")).classes("text-sm text-gray-600 grow")
            ui.button(t("schedules.new"), icon="add", on_click=lambda: ui.navigate.to("/schedules/new")) \
                .mark("new-schedule")

        @ui.refreshable
        def schedule_list() -> None:
            rows = svc.schedules.list()
            if not rows:
                ui.label(t("schedules.empty")).classes("text-gray-500").mark("no-schedules")
                return
            graphs = {g.id: g.name for g in svc.graphs.list()}
            for row in rows:
                schedule_card(row, graphs.get(row.graph_id, "—"))

        def schedule_card(row: ScheduleRow, graph_name: str) -> None:
            state = svc.schedules.state(row)
            with ui.card().classes("w-full").mark(f"schedule-{row.id}"), ui.row().classes("w-full items-start no-wrap"):
                ui.icon("folder_open" if row.watch_dir else "schedule").classes("text-gray-500 text-2xl")
                with ui.column().classes("gap-0 grow"):
                    with ui.row().classes("items-center gap-2"):
                        ui.label(row.name).classes("font-medium")
                        ui.badge(t(f"schedules.state.{state}"),
                                 color="grey" if state in ("paused", "ended") else "positive") \
                            .mark(f"state-{row.id}")
                    ui.label(graph_name).classes("text-sm text-gray-600")
                    if row.watch_dir:
                        ui.label(t("schedules.watching", folder=row.watch_dir)).classes("text-sm font-mono")
                    else:
                        ui.label(f"{describe(row.cron, language())} ({row.timezone}) · {row.cron}") \
                            .classes("text-sm")
                        upcoming = svc.schedules.next_fires(row.id, 1)
                        if upcoming:
                            ui.label(t("schedules.next", when=when(upcoming[0], row.timezone))) \
                                .classes("text-sm text-gray-600").mark(f"next-{row.id}")
                    if row.last_run_id:
                        with ui.row().classes("items-center gap-2"):
                            ui.link(t("schedules.last_run"), f"/runs/{row.last_run_id}").mark(f"last-run-{row.id}")
                            try:
                                state_badge(svc.runs.get(row.last_run_id).state)
                            except AppError:
                                pass
                    if row.last_error:
                        ui.label(t("schedules.last_error", message=row.last_error)) \
                            .classes("text-sm text-red-700").mark(f"error-{row.id}")
                with ui.row().classes("gap-1"):
                    if not row.watch_dir:
                        ui.button(t("schedules.run_now"), icon="play_arrow", on_click=lambda r=row: run_now(r)) \
                            .props("flat").mark(f"run-{row.id}")
                    if row.paused:
                        ui.button(t("schedules.resume"), icon="play_circle",
                                  on_click=lambda r=row: (svc.schedules.resume(r.id), schedule_list.refresh())) \
                            .props("flat").mark(f"resume-{row.id}")
                    else:
                        ui.button(t("schedules.pause"), icon="pause",
                                  on_click=lambda r=row: (svc.schedules.pause(r.id), schedule_list.refresh())) \
                            .props("flat").mark(f"pause-{row.id}")
                    ui.button(t("schedules.edit"), icon="edit",
                              on_click=lambda r=row: ui.navigate.to(f"/schedules/{r.id}")) \
                        .props("flat").mark(f"edit-{row.id}")
                    ui.button(t("common.delete"), icon="delete", color="negative",
                              on_click=lambda r=row: confirm_delete(r)).props("flat").mark(f"delete-{row.id}")

        def run_now(row: ScheduleRow) -> None:
            try:
                run_id = svc.schedules.run_now(row.id)
            except AppError as exc:
                ui.notify(t("schedules.last_error", message=exc.message), type="negative", multi_line=True)
                schedule_list.refresh()
                return
            ui.notify(t("schedules.started"))
            ui.navigate.to(f"/runs/{run_id}")

        def confirm_delete(row: ScheduleRow) -> None:
            confirm_open["value"] = True
            with ui.dialog().on("hide", lambda: confirm_open.__setitem__("value", False)) as dialog, ui.card():
                ui.label(t("schedules.delete_confirm", name=row.name))
                with ui.row().classes("w-full justify-end"):
                    ui.button(t("common.cancel"), on_click=dialog.close).props("flat")

                    def really() -> None:
                        dialog.close()
                        try:
                            svc.schedules.delete(row.id)
                        except AppError as exc:
                            ui.notify(t("common.error", message=exc.message), type="negative")
                        else:
                            ui.notify(t("schedules.deleted", name=row.name))
                        schedule_list.refresh()

                    ui.button(t("common.delete"), color="negative", on_click=really).mark("confirm-delete")
            dialog.open()

        def signature() -> list[tuple]:
            return [(r.id, r.name, r.paused, r.last_run_id, r.last_error)
                    for r in svc.schedules.list()]

        shown = {"rows": signature()}

        def refresh_if_changed() -> None:
            """The scheduler fires in the background: redraw when it did (a redraw would close an open dialog)."""
            if (now := signature()) != shown["rows"] and not confirm_open["value"]:
                shown["rows"] = now
                schedule_list.refresh()

        confirm_open = {"value": False}
        schedule_list()
        ui.timer(15.0, refresh_if_changed)


@ui.page("/schedules/new")
def new_schedule_page(request: Request, graph: str | None = None) -> None:
    with frame(request, "schedules.new"):
        schedule_form(None, graph)


@ui.page("/schedules/{schedule_id}")
def edit_schedule_page(request: Request, schedule_id: str) -> None:
    try:
        row = services().schedules.get(schedule_id)
    except AppError as exc:
        not_found_page(request, "schedules.title", exc.message)
        return
    with frame(request, "schedules.edit_title", name=row.name):
        schedule_form(row, None)


def schedule_form(existing: ScheduleRow | None, graph_id: str | None) -> None:
    """The create/edit form; saving goes back to the list."""
    svc = services()
    lang = language()
    graphs = {g.id: g.name for g in svc.graphs.list()}
    if not graphs:
        ui.label(t("schedules.no_graphs")).classes("text-gray-600").mark("no-graphs")
        return
    start = existing.graph_id if existing else (graph_id if graph_id in graphs else next(iter(graphs)))
    values: dict[str, Any] = dict(existing.inputs) if existing else {}
    with ui.card().classes("w-full max-w-3xl gap-3"):
        name = ui.input(t("common.name"), value=existing.name if existing else "").classes("w-full") \
            .mark("schedule-name")
        graph = ui.select(graphs, label=t("schedules.graph"), value=start, with_input=True).classes("w-full") \
            .mark("schedule-graph")
        pinned = existing.graph_version_id if existing else None
        latest = ui.switch(t("schedules.latest"), value=pinned is None).mark("schedule-latest")
        if pinned:
            ui.label(t("schedules.pinned", number=svc.graphs.version(pinned).number)).classes("text-sm text-gray-600") \
                .bind_visibility_from(latest, "value", backward=lambda v: not v)
        kind = ui.toggle({"cron": t("schedules.kind_cron"), "watch": t("schedules.kind_watch")},
                         value="watch" if existing and existing.watch_dir else "cron").mark("schedule-kind")

        with ui.column().classes("w-full gap-2").bind_visibility_from(kind, "value", value="cron"):
            cron = ui.input(t("schedules.cron"), value=existing.cron if existing and existing.cron else "0 8 * * 1-5") \
                .classes("w-full font-mono").mark("schedule-cron")
            ui.label(t("schedules.cron_help")).classes("text-xs text-gray-500")
            zone = (existing.timezone if existing else ("Europe/Madrid" if lang == "es" else "UTC"))
            timezone = ui.select(timezones(), label=t("schedules.timezone"), value=zone, with_input=True) \
                .classes("w-72").mark("schedule-timezone")
            misfire = ui.select({"skip": t("schedules.misfire_skip"),
                                 "catch_up_one": t("schedules.misfire_catch_up_one")},
                                label=t("schedules.misfire"), value=existing.misfire if existing else "skip") \
                .classes("w-96").mark("schedule-misfire")
            with ui.row().classes("gap-4"):
                start_at = ui.input(t("schedules.start_at"), value=_local(existing.start_at, zone) if existing else "") \
                    .classes("w-72").mark("schedule-start")
                end_at = ui.input(t("schedules.end_at"), value=_local(existing.end_at, zone) if existing else "") \
                    .classes("w-72").mark("schedule-end")

            @ui.refreshable
            def preview() -> None:
                with ui.column().classes("gap-0").mark("cron-preview"):
                    try:
                        tidy = parse_cron(cron.value or "")
                        times = svc.schedules.preview(tidy, timezone.value or "UTC")
                    except AppError as exc:
                        ui.label(error_text(exc)).classes("text-sm text-red-700")
                        return
                    try:
                        text = describe(tidy, lang)
                    except Exception:  # noqa: BLE001 - the describer may not read everything croniter accepts
                        text = tidy
                    ui.label(text).classes("font-medium")
                    ui.label(t("schedules.preview")).classes("text-sm text-gray-600")
                    for moment in times:
                        ui.label(when(moment, timezone.value)).classes("text-sm font-mono")

            preview()
            cron.on_value_change(preview.refresh)
            timezone.on_value_change(preview.refresh)

        with ui.column().classes("w-full gap-2").bind_visibility_from(kind, "value", value="watch"):
            root = svc.schedules.watch_roots[0]
            shown = existing.watch_dir if existing and existing.watch_dir else ""
            if shown and shown.startswith(str(root) + "/"):
                shown = shown[len(str(root)) + 1:]
            folder = ui.input(t("schedules.folder"), value=shown).classes("w-full font-mono").mark("schedule-folder")
            ui.label(t("schedules.folder_help", roots=", ".join(str(r) for r in svc.schedules.watch_roots))) \
                .classes("text-xs text-gray-500")
        watch_input = {"value": existing.watch_input if existing else None}

        @ui.refreshable
        def inputs_section() -> None:
            interface = svc.graphs.interface(svc.graphs.latest(graph.value).id)["inputs"] if graph.value else []
            files = [d["name"] for d in interface if d["kind"] in FILE_KINDS]
            if kind.value == "watch":
                if not files:
                    ui.label(t("schedules.no_file_input")).classes("text-sm text-red-700").mark("no-file-input")
                else:
                    if watch_input["value"] not in files:
                        watch_input["value"] = files[0]
                    ui.select(files, label=t("schedules.file_input"), value=watch_input["value"],
                              on_change=lambda e: (watch_input.__setitem__("value", e.value),
                                                   inputs_section.refresh())).classes("w-72").mark("schedule-file-input")
            fields = [d for d in interface if not (kind.value == "watch" and d["name"] == watch_input["value"])]
            if fields:
                ui.label(t("schedules.inputs")).classes("font-medium")
            for decl in fields:
                current = values.get(decl["name"])
                if current is not None and decl["kind"] not in FILE_KINDS:
                    decl = {**decl, "default": current[1] if isinstance(current, tuple) else current}
                input_field(decl, values)
                if decl["kind"] in FILE_KINDS and isinstance(current, dict):
                    ui.label(t("run_form.uploaded", name=current.get("name", ""))).classes("text-sm text-gray-600")
            form_state["fields"] = fields

        form_state: dict[str, Any] = {"fields": []}
        inputs_section()
        graph.on_value_change(lambda: (values.clear(), inputs_section.refresh()))
        kind.on_value_change(inputs_section.refresh)

        def save() -> None:
            problems = []
            if not (name.value or "").strip():
                problems.append(t("schedules.bad_name"))
            if not graph.value:
                problems.append(t("schedules.no_graph"))
            inputs, input_problems = collect(form_state["fields"], values)
            problems += input_problems
            dates = {}
            for key, box in (("start_at", start_at), ("end_at", end_at)):
                text = (box.value or "").strip() if kind.value == "cron" else ""
                try:
                    dates[key] = datetime.fromisoformat(text.replace(" ", "T", 1)) if text else None
                except ValueError:
                    problems.append(t("schedules.bad_date", value=text))
            if problems:
                ui.notify(" ".join(problems), type="warning", multi_line=True)
                return
            version_id = None
            if not latest.value:
                same = existing and existing.graph_id == graph.value and existing.graph_version_id
                version_id = existing.graph_version_id if same else svc.graphs.latest(graph.value).id
            data = {"name": name.value, "graph_id": graph.value, "graph_version_id": version_id, "inputs": inputs,
                    "misfire": misfire.value, "timezone": timezone.value or "UTC", **dates}
            if kind.value == "watch":
                data.update(cron="", watch_dir=folder.value, watch_input=watch_input["value"])
            else:
                data.update(cron=cron.value, watch_dir=None, watch_input=None)
            try:
                row = svc.schedules.update(existing.id, data) if existing else svc.schedules.create(data)
            except AppError as exc:
                ui.notify(error_text(exc), type="negative", multi_line=True)
                return
            ui.notify(t("schedules.saved", name=row.name))
            ui.navigate.to("/schedules")

        with ui.row().classes("w-full justify-end"):
            ui.button(t("common.cancel"), on_click=lambda: ui.navigate.to("/schedules")).props("flat")
            ui.button(t("common.save"), icon="save", on_click=save).mark("save-schedule")


def _local(moment: datetime | None, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M") if moment else ""
