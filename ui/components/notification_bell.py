"""The bell in the header: how many notifications are unread, updated live when a run ends.

Run events come from `services.hooks.events` (in memory, or Redis pub/sub from the workers) on some other
thread; they are handed to NiceGUI's event loop and re-emitted as `run_ended`, a NiceGUI `Event` whose
subscribers (one per open page) update their own bell. The browser never polls.
"""

from __future__ import annotations

import asyncio
import weakref

from nicegui import Event, ui

from app.events import RunEvent

from ..i18n import t
from ..state import services

run_ended: Event[RunEvent] = Event()
unread_changed: Event[[]] = Event()  # notifications were marked read in this process
_bridged: weakref.WeakSet = weakref.WeakSet()  # the Hooks whose events already reach `run_ended`


def _bridge() -> None:
    hooks = services().hooks
    if hooks in _bridged:
        return
    loop = asyncio.get_running_loop()

    def forward(event: RunEvent) -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(run_ended.emit, event)

    hooks.events.subscribe(forward)
    _bridged.add(hooks)


def notification_bell() -> None:
    """A bell button with the unread count; a toast when a run ends while the page is open."""
    _bridge()
    notifications = services().hooks.notifications
    with ui.button(icon="notifications", on_click=lambda: ui.navigate.to("/notifications")) \
            .props("flat round color=white").mark("bell").tooltip(t("notifications.title")):
        badge = ui.badge("", color="red").props("floating").mark("bell-count")

    def show(count: int) -> None:
        badge.set_text(str(count))
        badge.set_visibility(count > 0)

    def on_run_ended(event: RunEvent) -> None:
        show(notifications.unread())
        key = "notifications.toast_succeeded" if event.state == "succeeded" else "notifications.toast_failed"
        ui.notify(t(key, graph=event.graph_name or event.graph_id),
                  type="positive" if event.state == "succeeded" else "negative")

    show(notifications.unread())
    run_ended.subscribe(on_run_ended)
    unread_changed.subscribe(lambda: show(notifications.unread()))
