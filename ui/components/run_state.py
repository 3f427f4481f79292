"""How a run and its nodes are shown: state badges, times, the "from cache" badge, the canvas's node states,
and the two ways to start again from a run (run again with the same inputs, resume)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nicegui import ui

from app.errors import AppError

from .. import theme
from ..i18n import t
from ..state import services

if TYPE_CHECKING:
    from storage.runs import NodeRunView, RunView

SETTLE_S = 30  # after the run ends, how long node states may still change (nodes stopping on a cancel)


def seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None:
        return None
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    end = end or datetime.now(UTC)
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    return max((end - start).total_seconds(), 0.0)


def duration_text(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def state_badge(state: str) -> ui.badge:
    colour, _ = theme.STATE_STYLE.get(state, ("grey", "help"))
    return ui.badge(t(f"state.{state}"), color=colour).mark("run-state")


def reused_of(node: NodeRunView) -> str | None:
    """'cache' (taken from the node cache), 'run' (taken from the run being resumed) or None (it ran)."""
    reused = getattr(node, "reused", None)
    return reused if reused in ("cache", "run") else None


def reused_badge(reused: str | None) -> ui.badge:
    """The 'from cache' / 'reused' badge of a node whose result was not computed again (hidden otherwise)."""
    badge = ui.badge(color="deep-purple-1", text_color="deep-purple-9")
    show_reused(badge, reused)
    return badge


def show_reused(badge: ui.badge, reused: str | None) -> None:
    badge.visible = bool(reused)
    if reused:
        badge.text = t(f"run.reused_{reused}")
        badge.props(f'title="{t(f"run.reused_{reused}_tip")}"')


def node_elapsed(node: NodeRunView) -> float | None:
    return node.duration_ms / 1000 if node.duration_ms is not None else seconds(node.started_at, node.finished_at)


def canvas_states(run: RunView) -> dict[str, dict[str, Any]]:
    """Node id -> what the canvas shows of it in this run: state, label (state · time), error, reuse badge.

    Inside a For each loop a node runs once per item ("<node>[<item>]"): the canvas node shows how many
    items are done and the first failed item's error.
    """
    states: dict[str, dict[str, Any]] = {}
    items: dict[str, list[NodeRunView]] = {}
    for node in run.nodes:
        if getattr(node, "item", None) is not None:
            items.setdefault(node.node_id.rpartition("[")[0], []).append(node)
            continue
        label = t(f"state.{node.state}")
        if node.started_at:
            label += " · " + duration_text(node_elapsed(node))
        reused = reused_of(node)
        states[node.node_id] = {
            "state": node.state, "label": label, "error": node.error_message or None, "reused": reused,
            "reused_label": t(f"run.reused_{reused}") if reused else None,
            "reused_title": t(f"run.reused_{reused}_tip") if reused else None}
    for node_id, runs in items.items():
        failed = next((r for r in runs if r.state == "failed"), None)
        state = next((s for s in ("failed", "running", "queued", "pending") if any(r.state == s for r in runs)),
                     runs[0].state)
        entry = states.setdefault(node_id, {"state": state, "label": t(f"state.{state}"), "error": None,
                                            "reused": None, "reused_label": None, "reused_title": None})
        done = sum(r.state in ("succeeded", "skipped") for r in runs)
        entry["label"] += f" · {done}/{len(runs)}"
        if failed and not entry["error"]:
            entry["error"] = f"[{failed.item}] {failed.error_message or ''}".strip()
    return states


def settled(run: RunView) -> bool:
    """The run is over and none of its nodes is still at work (a cancelled node stops a moment later)."""
    return run.finished and (not any(n.state in ("queued", "running") for n in run.nodes)
                             or (seconds(run.finished_at, None) or 0) > SETTLE_S)


def rerun(run_id: str) -> str | None:
    """A new run of the same graph version with the same inputs; None (and a message) when refused."""
    try:
        return services().runs.rerun(run_id)
    except AppError as exc:
        ui.notify(exc.message, type="negative", multi_line=True)
        return None


def resume(run_id: str) -> str | None:
    """A new run of the graph's latest version reusing the unchanged nodes that succeeded; None when refused."""
    try:
        return services().runs.resume(run_id)
    except AppError as exc:
        ui.notify(exc.message, type="negative", multi_line=True)
        return None


def open_new_run(new_run_id: str | None) -> None:
    if new_run_id:
        ui.navigate.to(f"/runs/{new_run_id}")
