"""Node catalogue: every node type with its description, ports and settings."""

from __future__ import annotations

from itertools import groupby

from fastapi import Request
from nicegui import ui

from app import ui_support

from .. import theme
from ..components.frame import ensure_language, frame
from ..i18n import t
from ..state import services


def port_chip(port: dict) -> None:
    colour = theme.port_colour(port["type"])
    with ui.row().classes("items-center gap-1"):
        ui.element("span").classes("inline-block w-3 h-3 rounded-full").style(f"background:{colour}")
        ui.label(port["name"]).classes("font-mono text-sm")
        ui.label(port["type_label"]).classes("text-xs").style(f"color:{colour}")
        if port.get("description"):
            ui.label(f"— {port['description']}").classes("text-xs text-gray-500")


@ui.page("/nodes")
def catalogue_page(request: Request) -> None:
    # names, descriptions, ports and settings in the person's language (nodes/locale/<lang>.toml)
    catalogue = ui_support.catalogue(services(), ensure_language(request))
    with frame(request, "catalogue.title"):
        search = ui.input(t("common.search")).props("clearable outlined dense").classes("w-72").mark("search")

        @ui.refreshable
        def listing() -> None:
            needle = (search.value or "").lower()
            items = [n for n in catalogue if needle in f"{n['type_id']} {n['display_name']} {n['description']} "
                     f"{n['category']} {n.get('category_label', '')}".lower()]
            for category, group in groupby(items, key=lambda n: n.get("category_label", n["category"])):
                ui.label(category).classes("text-lg font-medium mt-2")
                for node in group:
                    node_card(node)

        def node_card(node: dict) -> None:
            with ui.card().classes("w-full").mark(f"node-type-{node['type_id']}"):
                with ui.row().classes("items-baseline gap-2"):
                    ui.label(node["display_name"]).classes("font-medium")
                    ui.label(node["type_id"]).classes("font-mono text-xs text-gray-500")
                ui.label(node["description"]).classes("text-sm")
                with ui.row().classes("w-full gap-8"):
                    for key in ("inputs", "outputs"):
                        with ui.column().classes("gap-1"):
                            ui.label(t(f"catalogue.{key}")).classes("text-xs uppercase text-gray-500")
                            for port in node[key]:
                                port_chip(port)
                            if not node[key]:
                                ui.label(t("catalogue.none")).classes("text-xs text-gray-400")
                    fields = node["config_schema"].get("properties", {})
                    with ui.column().classes("gap-1"):
                        ui.label(t("catalogue.config")).classes("text-xs uppercase text-gray-500")
                        for name, field in fields.items():
                            with ui.row().classes("gap-1 items-baseline").mark(f"setting-{name}"):
                                ui.label(field.get("title") or name).classes("text-sm")
                                ui.label(name).classes("font-mono text-xs text-gray-500")
                                ui.label(field.get("description", "")).classes("text-xs text-gray-500")
                        if not fields:
                            ui.label(t("catalogue.none")).classes("text-xs text-gray-400")

        listing()
        search.on_value_change(listing.refresh)
