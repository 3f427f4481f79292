"""Analytics of the current workspace, or of one graph: runs per day (succeeded/failed), success rate, median
duration, most used node types, documents processed and hours saved; the minutes a run saves are set per graph
here; the same figures download as CSV (docs/analytics.md)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from nicegui import ui

from app.analytics import Report
from app.errors import AppError

from ..components.frame import frame
from ..i18n import t
from ..state import base_services, current_scope

WINDOWS = (7, 30, 90, 365)
GREEN, RED, GREY, BLUE = "#16a34a", "#dc2626", "#9ca3af", "#2563eb"


def _fmt(value: float | None, suffix: str = "", digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}{suffix}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def runs_chart(report: dict[str, Any]) -> dict[str, Any]:
    days = [d["day"][5:] for d in report["per_day"]]

    def series(key: str, label: str, color: str) -> dict[str, Any]:
        return {"name": label, "type": "bar", "stack": "runs", "color": color,
                "data": [d[key] for d in report["per_day"]]}

    other = {"name": t("analytics.other"), "type": "bar", "stack": "runs", "color": GREY,
             "data": [d["runs"] - d["succeeded"] - d["failed"] for d in report["per_day"]]}
    return {"tooltip": {"trigger": "axis"}, "legend": {}, "grid": {"left": 40, "right": 16, "bottom": 30},
            "xAxis": {"type": "category", "data": days}, "yAxis": {"type": "value", "minInterval": 1},
            "series": [series("succeeded", t("analytics.succeeded"), GREEN), series("failed", t("analytics.failed"),
                                                                                     RED), other]}


def line_chart(report: dict[str, Any], key: str, label: str, color: str, scale: float = 1.0) -> dict[str, Any]:
    data = [None if d[key] is None else round(d[key] * scale, 2) for d in report["per_day"]]
    return {"tooltip": {"trigger": "axis"}, "grid": {"left": 48, "right": 16, "bottom": 30, "top": 20},
            "xAxis": {"type": "category", "data": [d["day"][5:] for d in report["per_day"]]},
            "yAxis": {"type": "value"},
            "series": [{"name": label, "type": "line", "connectNulls": True, "color": color, "data": data}]}


def nodes_chart(report: dict[str, Any]) -> dict[str, Any]:
    top = list(reversed(report["top_nodes"]))
    return {"tooltip": {}, "grid": {"left": 140, "right": 16, "bottom": 20, "top": 10},
            "xAxis": {"type": "value", "minInterval": 1},
            "yAxis": {"type": "category", "data": [n["node_type"] for n in top]},
            "series": [{"type": "bar", "color": BLUE, "data": [n["count"] for n in top]}]}


def hours_chart(report: dict[str, Any]) -> dict[str, Any]:
    total, points = 0.0, []
    for day in report["per_day"]:
        total += day["hours_saved"]
        points.append(round(total, 2))
    return {"tooltip": {"trigger": "axis"}, "grid": {"left": 48, "right": 16, "bottom": 30, "top": 20},
            "xAxis": {"type": "category", "data": [d["day"][5:] for d in report["per_day"]]},
            "yAxis": {"type": "value"},
            "series": [{"name": t("analytics.hours_saved"), "type": "line", "areaStyle": {}, "color": GREEN,
                        "data": points}]}


def _tile(label: str, value: str, mark: str) -> None:
    with ui.card().classes("min-w-40 gap-0").mark(mark):
        ui.label(label).classes("text-xs text-gray-500 uppercase")
        ui.label(value).classes("text-2xl font-semibold").mark(f"{mark}-value")


@ui.page("/analytics")
def analytics_page(request: Request) -> None:
    svc = base_services()
    with frame(request, "analytics.title", wide=True):
        scope = current_scope()
        if scope is None:
            return
        if not scope.can("analytics.read"):
            ui.label(t("analytics.refused")).classes("text-gray-600").mark("analytics-refused")
            return
        names = svc.analytics.repo.graphs(scope.workspace_id)
        state: dict[str, Any] = {"days": 30, "graph": ""}
        if not scope.sees_all_runs():
            ui.label(t("analytics.own_runs")).classes("text-sm text-gray-600").mark("analytics-own")

        with ui.row().classes("w-full items-end gap-3").mark("analytics-filters"):
            graph = ui.select({"": t("analytics.all_graphs"), **dict(sorted(names.items(), key=lambda kv: kv[1]))},
                              value="", label=t("analytics.graph")).classes("w-72").mark("analytics-graph")
            window = ui.select({d: t("analytics.last_days", days=str(d)) for d in WINDOWS}, value=30,
                               label=t("analytics.window")).classes("w-48").mark("analytics-window")
            csv_link = ui.link(t("analytics.csv"), "#").classes("text-primary").mark("analytics-csv")
            csv_link.props("download")

        content = ui.column().classes("w-full gap-4")

        def show() -> None:
            state["graph"], state["days"] = graph.value or "", int(window.value)
            try:
                report: Report = svc.analytics.report(scope, days=state["days"], graph_id=state["graph"] or None)
            except AppError as exc:
                ui.notify(t("common.error", message=exc.message), type="negative")
                return
            query = {"days": state["days"], "format": "csv", **({"graph_id": state["graph"]} if state["graph"] else {})}
            csv_link.props(f'href="/api/v1/analytics?{urlencode(query)}"')
            data = report.to_json()
            content.clear()
            with content:
                total = data["total"]
                with ui.row().classes("gap-3").mark("analytics-tiles"):
                    _tile(t("analytics.runs"), f"{total['runs']:,}", "tile-runs")
                    _tile(t("analytics.success_rate"), _fmt(None if total["success_rate"] is None
                                                            else total["success_rate"] * 100, " %"), "tile-success")
                    _tile(t("analytics.median_duration"), _duration(total["median_duration_s"]), "tile-duration")
                    _tile(t("analytics.documents"), f"{total['documents']:,}", "tile-documents")
                    _tile(t("analytics.hours_saved_month"), _fmt(total["hours_saved_per_month"], " h"),
                          "tile-hours")
                with ui.grid(columns=2).classes("w-full gap-4"):
                    for title, options, mark in (
                            (t("analytics.runs_per_day"), runs_chart(data), "chart-runs"),
                            (t("analytics.success_rate"), line_chart(data, "success_rate", t("analytics.success_rate"),
                                                                     GREEN, 100), "chart-success"),
                            (t("analytics.median_duration_s"), line_chart(data, "median_duration_s",
                                                                          t("analytics.median_duration"), BLUE),
                             "chart-duration"),
                            (t("analytics.top_nodes"), nodes_chart(data), "chart-nodes"),
                            (t("analytics.hours_saved_cumulative"), hours_chart(data), "chart-hours")):
                        with ui.card().classes("w-full"):
                            ui.label(title).classes("font-medium")
                            ui.echart(options).classes("w-full h-64").mark(mark)
                graph_table(data)

        def graph_table(data: dict[str, Any]) -> None:
            ui.label(t("analytics.per_graph")).classes("text-lg font-medium")
            ui.label(t("analytics.minutes_intro")).classes("text-sm text-gray-600")
            with ui.column().classes("w-full gap-1").mark("analytics-graphs"):
                if not data["graphs"]:
                    ui.label(t("analytics.no_runs")).classes("text-gray-500").mark("analytics-empty")
                for row in data["graphs"]:
                    with ui.row().classes("w-full items-center gap-4 border-b py-1").mark(f"graph-{row['graph_id']}"):
                        ui.label(row["name"] or row["graph_id"]).classes("w-64 font-medium")
                        ui.label(t("analytics.row", runs=str(row["runs"]), rate=_fmt(
                            None if row["success_rate"] is None else row["success_rate"] * 100, " %"),
                            duration=_duration(row["median_duration_s"]), documents=str(row["documents"]))) \
                            .classes("text-sm text-gray-600 w-96")
                        minutes = ui.number(t("analytics.minutes_per_run"), value=row["minutes_per_run"], min=0,
                                            step=1).classes("w-40").mark(f"minutes-{row['graph_id']}")
                        if not scope.can("graph.write"):
                            minutes.disable()
                        else:
                            minutes.on("blur", lambda _, g=row["graph_id"], m=minutes: save_minutes(g, m.value))
                        ui.label(t("analytics.hours_row", hours=_fmt(row["hours_saved_per_month"], " h"))) \
                            .classes("text-sm")

        def save_minutes(graph_id: str, value: float | None) -> None:
            try:
                svc.analytics.set_minutes_per_run(scope, graph_id, None if value in (None, "") else float(value))
            except AppError as exc:
                ui.notify(t("common.error", message=exc.message), type="negative")
                return
            ui.notify(t("analytics.minutes_saved"), type="positive")
            show()

        graph.on_value_change(lambda: show())
        window.on_value_change(lambda: show())
        show()
