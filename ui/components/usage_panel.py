"""A workspace's plan limits and what it uses of them, as progress bars (app/quotas.py Usage)."""

from __future__ import annotations

from nicegui import ui

from app.quotas import Meter, Usage

from ..i18n import t


def _number(value: float) -> str:
    return f"{value:g}"


def _meter(label_key: str, meter: Meter) -> None:
    with ui.column().classes("w-full gap-1").mark(f"usage-{meter.quota}"):
        with ui.row().classes("w-full justify-between"):
            ui.label(t(label_key)).classes("font-medium")
            text = (t("usage.unlimited", used=_number(meter.used)) if meter.limit is None
                    else t("usage.of", used=_number(meter.used), limit=meter.limit))
            ui.label(text).classes("text-gray-600").mark(f"usage-{meter.quota}-text")
        fraction = meter.fraction
        ui.linear_progress(value=fraction or 0.0, show_value=False,
                           color="negative" if (fraction or 0) >= 0.9 else "primary") \
            .classes("w-full").mark(f"usage-{meter.quota}-bar")


def usage_panel(usage: Usage) -> None:
    with ui.card().classes("w-full max-w-2xl gap-4").mark("usage-panel"):
        _meter("usage.runs", usage.runs)
        _meter("usage.storage", usage.storage)
        _meter("usage.members", usage.members)
        limits = usage.limits
        ui.label(t("usage.max_file", mb=limits.max_file_mb) if limits.max_file_mb is not None
                 else t("usage.max_file_unlimited")).classes("text-sm").mark("usage-max-file")
        ui.label(t("usage.heavy_yes" if limits.heavy_nodes else "usage.heavy_no")).classes("text-sm") \
            .mark("usage-heavy")
        ui.label(t("usage.since", date=f"{usage.month_start:%Y-%m-%d}")).classes("text-xs text-gray-500")
