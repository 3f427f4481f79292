"""Run a service call from a button: its AppError becomes a red notice with the service's sentence."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from app.errors import AppError

from ..i18n import t


def attempt(action: Callable[[], object], done: str | None = None) -> bool:
    """True when `action` succeeded (then `done`, if given, is shown in green)."""
    try:
        action()
    except AppError as exc:
        ui.notify(t("common.error", message=exc.message), type="negative")
        return False
    if done:
        ui.notify(done, type="positive")
    return True
