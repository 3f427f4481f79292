"""Colours and icons shared by every page: port types, run and node states."""

from __future__ import annotations

from nicegui import ui

PRIMARY = "#2f5d8a"

#: One colour per port type, used for sockets, wires and chips.
PORT_COLOURS = {
    "Text": "#2e7d32",
    "Number": "#1565c0",
    "Bool": "#6a1b9a",
    "Json": "#ef6c00",
    "Any": "#757575",
    "File": "#5d4037",
    "Document": "#c62828",
    "Image": "#00838f",
    "Audio": "#ad1457",
    "List": "#455a64",
}

STATE_STYLE = {  # state -> (Quasar colour, Material icon)
    "pending": ("grey", "schedule"),
    "queued": ("blue-grey", "hourglass_empty"),
    "running": ("blue", "autorenew"),
    "succeeded": ("positive", "check_circle"),
    "failed": ("negative", "error"),
    "skipped": ("grey", "redo"),
    "cancelled": ("orange", "cancel"),
}


def port_colour(port_type: dict) -> str:
    name = port_type.get("name", "Any")
    if name == "List" and port_type.get("item"):
        return port_colour(port_type["item"])
    return PORT_COLOURS.get(name, PORT_COLOURS["Any"])


def apply() -> None:
    """Per-page theme (NiceGUI colours are per client)."""
    ui.colors(primary=PRIMARY)
