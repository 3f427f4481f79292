"""Runs list: the latest runs, filtered by graph and by state."""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from app import ui_support
from app.errors import AppError

from ..components.frame import frame
from ..components.run_state import open_new_run, rerun, resume, state_badge
from ..i18n import t
from ..state import services

STATES = ("running", "succeeded", "failed", "cancelled")


@ui.page("/runs")
def runs_page(request: Request, graph: str | None = None, state: str | None = None) -> None:
    svc = services()
    graphs = {g.id: g.name for g in svc.graphs.list()}
    version_graph: dict[str, str] = {}

    def graph_of(version_id: str) -> str | None:
        if version_id not in version_graph:
            try:
                version_graph[version_id] = ui_support.graph_of_run(svc, version_id)[0]
            except AppError:
                version_graph[version_id] = ""
        return version_graph[version_id]

    with frame(request, "runs.title"):
        with ui.row().classes("gap-4 items-center"):
            graph_filter = ui.select({"": t("common.all"), **graphs}, value=graph if graph in graphs else "",
                                     label=t("runs.graph")).classes("w-72").mark("filter-graph")
            state_filter = ui.select({"": t("common.all"), **{s: t(f"state.{s}") for s in STATES}},
                                     value=state if state in STATES else "", label=t("runs.state")) \
                .classes("w-48").mark("filter-state")

        shown: dict[str, list] = {"rows": []}

        def matching() -> list:
            return [r for r in svc.runs.list(limit=200)
                    if (not state_filter.value or r.state == state_filter.value)
                    and (not graph_filter.value or graph_of(r.graph_version_id) == graph_filter.value)]

        @ui.refreshable
        def run_list() -> None:
            rows = matching()
            shown["rows"] = [(r.id, r.state) for r in rows]
            if not rows:
                ui.label(t("runs.empty")).classes("text-gray-500").mark("no-runs")
                return
            with ui.column().classes("w-full gap-1"):
                for run in rows:
                    with ui.row().classes("w-full items-center gap-4 border-b py-1").mark(f"run-{run.id}"):
                        ui.link(run.id[:8], f"/runs/{run.id}").classes("font-mono")
                        ui.label(graphs.get(graph_of(run.graph_version_id) or "", "—")).classes("grow")
                        state_badge(run.state)
                        ui.label(run.created_at.strftime("%Y-%m-%d %H:%M:%S")).classes("text-sm text-gray-500")
                        row_menu(run.id, run.state, graph_of(run.graph_version_id))

        def row_menu(run_id: str, state: str, graph_id: str | None) -> None:
            with ui.button(icon="more_vert").props("flat round dense").mark(f"menu-{run_id}"), ui.menu():
                ui.menu_item(t("common.open"), lambda: ui.navigate.to(f"/runs/{run_id}"))
                if graph_id:
                    ui.menu_item(t("run_detail.on_canvas"),
                                 lambda: ui.navigate.to(f"/graphs/{graph_id}/edit?run={run_id}"))
                ui.menu_item(t("run_detail.rerun_same"), lambda: open_new_run(rerun(run_id))).mark(f"rerun-{run_id}")
                if state == "failed":
                    ui.menu_item(t("run_detail.resume"), lambda: open_new_run(resume(run_id))) \
                        .mark(f"resume-{run_id}")

        def refresh_if_changed() -> None:
            """Redraw only when a run appeared or changed state (a redraw would close an open row menu)."""
            if [(r.id, r.state) for r in matching()] != shown["rows"]:
                run_list.refresh()

        run_list()
        graph_filter.on_value_change(run_list.refresh)
        state_filter.on_value_change(run_list.refresh)
        ui.timer(2.0, refresh_if_changed)
