"""The editor following one run: node states on the canvas, a bar with the run's state and actions, and the
selected node's outputs or error.

A server-side timer reads the run and, when something changed, pushes the node states to the canvas over
NiceGUI's websocket (`FlowEditor.set_run`): the browser polls nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from app import ui_support
from app.errors import AppError

from ..i18n import t
from ..state import services
from .flow_editor import FlowEditor
from .output_view import value_view
from .run_state import (
    canvas_states,
    duration_text,
    rerun,
    resume,
    reused_badge,
    seconds,
    settled,
    state_badge,
)

FOLLOW_S = 0.5  # how often the followed run is read while it goes on


class RunFollower:
    """Build with the page: `bar()` inside the canvas card, `node_panel()` in the side column."""

    def __init__(self, *, canvas: FlowEditor | None, graph_id: str, selected: Callable[[], list[str]],
                 node_of: Callable[[str], dict[str, Any] | None], save_first: Callable[[], bool]) -> None:
        """`selected`: the selected node ids; `node_of`: a node of the edited graph; `save_first`: saves the
        editor's changes before a resume (which runs the latest saved version), False when it could not."""
        self.svc = services()
        self.canvas = canvas
        self.graph_id = graph_id
        self.selected = selected
        self.node_of = node_of
        self.save_first = save_first
        self.run_id: str | None = None
        self.pushed: dict[str, dict[str, Any]] = {}  # the node states last sent to the canvas
        self.state: str | None = None
        self.panel_shows: tuple[str | None, dict[str, Any] | None] = (None, None)
        self.timer = ui.timer(FOLLOW_S, self.tick, active=False)

    # --- building -------------------------------------------------------------------------------
    def bar(self) -> None:
        """The run's state, time and link, Cancel, Run again, Resume (failed runs) and ✕ (stop showing it)."""
        with ui.row().classes("absolute top-2 left-2 items-center gap-2 no-wrap rounded shadow bg-white/90 "
                              "px-2 py-1 text-sm whitespace-nowrap").style("z-index: 10").mark("run-bar") as bar:
            self.badge = ui.row().classes("gap-0")
            self.link = ui.link("", "").classes("font-mono").mark("run-link")
            self.took = ui.label("").classes("text-gray-600").mark("run-took")
            self.cancel_button = ui.button(t("run_detail.cancel"), icon="stop", color="negative",
                                    on_click=self.cancel_run).props("outline dense no-caps").mark("follow-cancel")
            ui.button(t("run_detail.rerun_same"), icon="replay", on_click=lambda: self.follow(rerun(self.run_id))) \
                .props("outline dense no-caps").mark("follow-rerun")
            self.resume_button = ui.button(t("run_detail.resume"), icon="fast_forward", on_click=self.resume_run) \
                .props("dense no-caps").mark("follow-resume")
            self.resume_button.tooltip(t("editor.resume_tip"))
            ui.button(icon="close", on_click=self.unfollow).props("flat round dense") \
                .tooltip(t("editor.hide_run")).mark("follow-close")
        self.bar_row = bar
        bar.visible = False

    def selected_in_run(self) -> tuple[str | None, dict[str, Any] | None]:
        """The one selected node and what the followed run shows of it."""
        selected = self.selected()
        node_id = selected[0] if len(selected) == 1 else None
        return node_id, self.pushed.get(node_id) if node_id else None

    @ui.refreshable_method
    def node_panel(self) -> None:
        """The selected node in the followed run: state, time, error, outputs."""
        node_id, info = self.panel_shows = self.selected_in_run()
        if not self.run_id or not node_id or not info:
            return
        with ui.card().classes("w-full p-2 gap-1").mark("node-run"):
            ui.label(t("editor.node_run")).classes("text-xs uppercase text-gray-500")
            with ui.row().classes("items-center gap-2"):
                state_badge(info["state"]).mark("node-run-state")
                if info["state"] not in ("queued", "pending", "running"):
                    ui.label(info["label"].partition(" · ")[2]).classes("text-xs text-gray-500")
                reused_badge(info["reused"])
            if info["error"]:
                ui.label(info["error"]).classes("text-negative text-sm whitespace-pre-wrap").mark("node-run-error")
            if info["state"] == "succeeded":
                outputs = self.outputs(node_id)
                if not outputs:
                    ui.label(t("run_detail.no_outputs")).classes("text-sm text-gray-500")
                for port, value in outputs.items():
                    ui.label(port).classes("text-xs text-gray-500")
                    value_view(value)

    def outputs(self, node_id: str) -> dict[str, Any]:
        outputs = ui_support.node_outputs(self.svc, self.run_id, [node_id]).get(node_id) or {}
        node = self.node_of(node_id) or {}
        if not outputs and node.get("type") == "io.output":  # it has no output ports: it feeds the run's results
            name = (node.get("config") or {}).get("name")
            results = self.svc.runs.get(self.run_id).outputs or {}
            outputs = {name: results[name]} if name in results else {}
        return outputs

    # --- following ------------------------------------------------------------------------------
    def follow(self, run_id: str | None) -> None:
        """Show this run's node states on the canvas, live until it is over (None: nothing to follow)."""
        if not run_id:
            return
        self.run_id, self.pushed, self.state = run_id, {}, None
        ui.navigate.history.replace(f"/graphs/{self.graph_id}/edit?run={run_id}")  # a reload keeps following
        self.tick()
        if self.run_id and not self.timer.active:
            self.timer.activate()

    def unfollow(self) -> None:
        self.run_id, self.pushed, self.state = None, {}, None
        self.timer.deactivate()
        self.bar_row.visible = False
        if self.canvas is not None:
            self.canvas.set_run({})
        self.node_panel.refresh()
        ui.navigate.history.replace(f"/graphs/{self.graph_id}/edit")

    def tick(self) -> None:
        if self.run_id is None:
            self.timer.deactivate()
            return
        try:
            run = self.svc.runs.get(self.run_id)
        except AppError as exc:
            ui.notify(exc.message, type="warning")
            self.unfollow()
            return
        states = canvas_states(run)
        if states != self.pushed:
            self.pushed = states
            if self.canvas is not None:
                self.canvas.set_run(states)
        self.bar_row.visible = True
        if self.state != run.state:
            self.state = run.state
            self.badge.clear()
            with self.badge:
                state_badge(run.state)
            self.link.text = t("run_detail.title", id=run.id[:8])
            self.link.props["href"] = f"/runs/{run.id}"
        self.took.text = duration_text(seconds(run.started_at or run.created_at, run.finished_at))
        self.cancel_button.visible = not run.finished
        self.resume_button.visible = run.state == "failed"
        if self.selected_in_run() != self.panel_shows:  # the selected node's state changed: show its outputs
            self.node_panel.refresh()
        if settled(run):
            self.timer.deactivate()

    def cancel_run(self) -> None:
        if self.run_id:
            self.svc.runs.cancel(self.run_id)
            self.tick()

    def resume_run(self) -> None:
        if self.run_id and self.save_first():
            self.follow(resume(self.run_id))
