"""A config field that names a stored secret (`"format": "secret"`): a select of secret names plus
"create a new secret…". Only names reach the browser, never values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from ..i18n import t
from ..state import services
from .secret_dialog import secret_dialog

NEW = "+new"  # '+' is not allowed in secret names, so this option cannot clash with a real secret


def secret_picker(label: str, name: str, value: str | None, on_change: Callable[[str, Any], None]) -> ui.select:
    secrets = services().secrets  # taken now: the handlers below may run after the dialog that calls them is gone

    def options(wanted: str | None) -> dict[str, str]:
        shown = {n: n for n in sorted(secrets.names())}
        if wanted and wanted not in shown:  # named in the graph, but not stored (deleted, or an imported graph)
            shown[wanted] = t("config.secret_missing_option", name=wanted)
        return {**shown, NEW: t("config.secret_new")}

    def missing_note(secret_name: str | None) -> str:
        exists = not secret_name or secret_name in secrets.names()
        return "" if exists else t("config.secret_missing", name=secret_name)

    def chosen(e) -> None:
        if quiet["on"]:
            return
        if e.value == NEW:
            secret_dialog(created, on_cancel=lambda: set_quietly(previous["value"]))
            return
        previous["value"] = e.value
        note.text = missing_note(e.value)
        on_change(name, e.value or None)

    def created(secret_name: str) -> None:
        previous["value"] = secret_name
        set_quietly(secret_name)
        on_change(name, secret_name)

    def set_quietly(secret_name: str | None) -> None:
        quiet["on"] = True  # no on_change: the config already holds this value
        try:
            select.set_options(options(secret_name), value=secret_name)
        finally:
            quiet["on"] = False
        note.text = missing_note(secret_name)

    previous: dict[str, str | None] = {"value": value or None}
    quiet = {"on": False}
    select = ui.select(options(value), value=value or None, label=label, clearable=True) \
        .classes("w-full").mark(f"secret-{name}")
    select.on_value_change(chosen)
    note = ui.label(missing_note(value)).classes("text-xs text-negative").mark(f"secret-missing-{name}")
    return select
