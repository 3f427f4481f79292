"""One run: each node's live state (pushed by a server-side timer over the websocket), results and log."""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from app import ui_support
from app.errors import AppError

from .. import theme
from ..components.frame import frame, not_found_page
from ..components.output_view import value_view
from ..components.run_state import (
    duration_text,
    node_elapsed,
    open_new_run,
    rerun,
    resume,
    reused_badge,
    reused_of,
    seconds,
    settled,
    show_reused,
    state_badge,
)
from ..i18n import t
from ..state import services

REFRESH_S = 0.5


@ui.page("/runs/{run_id}")
def run_detail_page(request: Request, run_id: str) -> None:
    svc = services()
    try:
        run = svc.runs.get(run_id)
    except AppError as exc:
        not_found_page(request, "nav.runs", exc.message)
        return
    graph_id, version_number, spec = ui_support.graph_of_run(svc, run.graph_version_id)
    labels = {n["id"]: n.get("label") or n["id"] for n in spec.get("nodes", [])}
    graph_name = spec.get("meta", {}).get("name", graph_id)
    seen = {"state": None, "log": -1, "nodes": {}}

    with frame(request, "run_detail.title", id=run_id[:8]):
        with ui.card().classes("w-full"):
            with ui.row().classes("items-center gap-4 w-full"):
                ui.link(f"{graph_name} · v{version_number}", f"/graphs/{graph_id}/edit").mark("graph-link")
                badge_slot = ui.row()
                duration = ui.label("").mark("run-duration")
                ui.space()
                cancel = ui.button(t("run_detail.cancel"), icon="stop", color="negative",
                                   on_click=lambda: (svc.runs.cancel(run_id), tick())).props("outline") \
                    .mark("cancel-run")
            with ui.row().classes("items-center gap-2 w-full"):
                resume_button = ui.button(t("run_detail.resume"), icon="fast_forward", color="primary",
                                          on_click=lambda: open_new_run(resume(run_id))).props("no-caps") \
                    .mark("resume")
                resume_button.tooltip(t("run_detail.resume_tip"))
                ui.button(t("run_detail.rerun_same"), icon="replay",
                          on_click=lambda: open_new_run(rerun(run_id))).props("outline no-caps").mark("rerun")
                ui.button(t("run_detail.new_inputs"), icon="edit_note",
                          on_click=lambda: ui.navigate.to(f"/graphs/{graph_id}/run")).props("outline no-caps") \
                    .mark("run-form")
                ui.button(t("run_detail.on_canvas"), icon="account_tree",
                          on_click=lambda: ui.navigate.to(f"/graphs/{graph_id}/edit?run={run_id}")) \
                    .props("outline no-caps").mark("on-canvas")
            resumed_from = (getattr(run, "options", None) or {}).get("reuse_from")
            if resumed_from:
                with ui.row().classes("items-center gap-1 text-sm text-gray-600").mark("resumed-from"):
                    ui.label(t("run_detail.resumed_from"))
                    ui.link(t("run_detail.title", id=resumed_from[:8]), f"/runs/{resumed_from}").classes("font-mono")
            error = ui.label("").classes("text-negative").mark("run-error")
            if run.inputs:
                with ui.expansion(t("run_detail.inputs"), icon="input").classes("w-full"):
                    for name, value in run.inputs.items():
                        ui.label(name).classes("text-xs text-gray-500")
                        value_view(value)

        ui.label(t("run_detail.nodes")).classes("text-lg font-medium")
        node_rows: dict[str, dict] = {}
        with ui.column().classes("w-full gap-1"):
            for node in run.nodes:
                with ui.expansion().classes("w-full border rounded").mark(f"node-{node.node_id}") as exp:
                    with exp.add_slot("header"), ui.row().classes("items-center gap-3 w-full"):
                        icon = ui.icon("schedule")
                        ui.label(labels.get(node.node_id, node.node_id)).classes("font-medium")
                        ui.label(node.node_type).classes("text-xs text-gray-500")
                        ui.space()
                        reused = reused_badge(None).mark(f"reused-{node.node_id}")
                        state = ui.label("").mark(f"state-{node.node_id}")
                        took = ui.label("").classes("text-xs text-gray-500 w-20 text-right")
                    node_error = ui.label("").classes("text-negative text-sm")
                    outputs_box = ui.column().classes("w-full")
                    exp.on_value_change(lambda e, nid=node.node_id: e.value and show_node_outputs(nid))
                node_rows[node.node_id] = {"icon": icon, "state": state, "took": took, "error": node_error,
                                           "outputs": outputs_box, "expansion": exp, "reused": reused}

        ui.label(t("run_detail.outputs")).classes("text-lg font-medium")
        outputs_box = ui.column().classes("w-full gap-3").mark("run-outputs")
        ui.label(t("run_detail.log")).classes("text-lg font-medium")
        log_box = ui.column().classes("w-full gap-0 font-mono text-xs").mark("run-log")

    def show_node_outputs(node_id: str) -> None:
        box = node_rows[node_id]["outputs"]
        box.clear()
        outputs = ui_support.node_outputs(svc, run_id, [node_id]).get(node_id)
        with box:
            if not outputs:
                ui.label(t("run_detail.no_outputs")).classes("text-gray-500")
                return
            for port, value in outputs.items():
                ui.label(port).classes("text-xs text-gray-500")
                value_view(value)

    def tick() -> None:
        current = svc.runs.get(run_id)
        for node in current.nodes:
            row = node_rows.get(node.node_id)
            if row is None:
                continue
            colour, icon_name = theme.STATE_STYLE.get(node.state, ("grey", "help"))
            row["icon"].name = icon_name
            row["icon"].props(f"color={colour}")
            row["state"].text = t(f"state.{node.state}")
            row["took"].text = duration_text(node_elapsed(node)) if node.started_at else ""
            row["error"].text = node.error_message or ""
            show_reused(row["reused"], reused_of(node))
            if seen["nodes"].get(node.node_id) != node.state:
                seen["nodes"][node.node_id] = node.state
                if row["expansion"].value:
                    show_node_outputs(node.node_id)
        duration.text = t("run_detail.duration") + ": " + duration_text(
            seconds(current.started_at or current.created_at, current.finished_at))
        error.text = current.error_message or ""
        cancel.visible = not current.finished
        resume_button.visible = current.state == "failed"
        if seen["state"] != current.state:
            seen["state"] = current.state
            badge_slot.clear()
            with badge_slot:
                state_badge(current.state)
            outputs_box.clear()
            with outputs_box:
                if not current.outputs:
                    ui.label(t("run_detail.no_outputs")).classes("text-gray-500")
                for name, value in (current.outputs or {}).items():
                    with ui.card().classes("w-full").mark(f"output-{name}"):
                        ui.label(name).classes("font-medium")
                        value_view(value)
        logs = svc.runs.logs(run_id)
        if len(logs) != seen["log"]:
            seen["log"] = len(logs)
            log_box.clear()
            with log_box:
                if not logs:
                    ui.label(t("run_detail.no_log")).classes("text-gray-500")
                for entry in logs:
                    ui.label(f"{entry['at'][11:19]} {entry['level']:<7} {entry['node_id'] or '':<12} "
                             f"{entry['message']}").classes("whitespace-pre-wrap")
        if settled(current):
            timer.deactivate()

    timer = ui.timer(REFRESH_S, tick)
    tick()
