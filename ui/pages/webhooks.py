"""Webhooks of a graph: addresses told when its runs end (with their delivery history), and the signed
address that starts its runs from outside. Secrets are shown once, when created or rotated."""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from app.errors import AppError
from app.webhooks import EVENTS

from ..components.frame import frame
from ..i18n import t
from ..state import services

DELIVERY_COLOURS = {"pending": "orange", "delivered": "positive", "failed": "negative"}


def show_secret(secret: str, url: str | None = None) -> None:
    """The dialog that shows a new signing secret (and address) this one time."""
    with ui.dialog() as dialog, ui.card().classes("w-[36rem]"):
        ui.label(t("webhooks.secret_once")).classes("font-medium")
        if url:
            ui.input(t("webhooks.address"), value=url).props("readonly").classes("w-full font-mono") \
                .mark("hook-url")
        ui.input(t("webhooks.secret"), value=secret).props("readonly").classes("w-full font-mono") \
            .mark("secret-value")
        with ui.row().classes("w-full justify-end"):
            ui.button(t("common.close"), on_click=dialog.close).mark("secret-close")
    dialog.open()


@ui.page("/webhooks")
def webhooks_index(request: Request, graph: str | None = None) -> None:
    svc = services()
    graphs = {g.id: g.name for g in svc.graphs.list()}
    with frame(request, "webhooks.title"):
        ui.label(t("webhooks.intro")).classes("text-sm text-gray-600")
        if not graphs:
            ui.label(t("webhooks.no_graphs")).classes("text-gray-500")
            return
        chosen = graph if graph in graphs else next(iter(graphs))
        ui.select(graphs, value=chosen, label=t("webhooks.graph"),
                  on_change=lambda e: ui.navigate.to(f"/graphs/{e.value}/webhooks")).classes("w-96").mark("graph")
        graph_webhooks(chosen, request)


@ui.page("/graphs/{graph_id}/webhooks")
def webhooks_page(request: Request, graph_id: str) -> None:
    webhooks_index(request, graph_id)


def graph_webhooks(graph_id: str, request: Request) -> None:
    svc = services()
    hooks = svc.hooks
    public = svc.settings.notifications.public_url.rstrip("/")

    def attempt(action, *args, **kwargs):
        try:
            return action(*args, **kwargs)
        except AppError as exc:
            ui.notify(t("common.error", message=exc.message), type="negative", multi_line=True)
            return None

    # --- outbound -------------------------------------------------------------------------------
    ui.label(t("webhooks.outbound")).classes("text-lg font-semibold")
    with ui.card().classes("w-full"), ui.row().classes("w-full items-end gap-2"):
        url = ui.input(t("webhooks.url"), placeholder="https://example.com/minddocs").classes("grow") \
                .mark("webhook-url")
        events = {event: ui.checkbox(t(f"webhooks.event.{event}"), value=True).mark(f"event-{event}")
                  for event in EVENTS}

        def add() -> None:
            chosen = [e for e, box in events.items() if box.value]
            created = attempt(hooks.webhooks.create, graph_id, url.value or "", chosen)
            if created is not None:
                url.value = ""
                outbound.refresh()
                show_secret(created.secret)

        ui.button(t("webhooks.add"), icon="add", on_click=add).mark("add-webhook")

    @ui.refreshable
    def outbound() -> None:
        rows = hooks.webhooks.list(graph_id)
        if not rows:
            ui.label(t("webhooks.empty")).classes("text-gray-500").mark("no-webhooks")
        for row in rows:
            with ui.card().classes("w-full").mark(f"webhook-{row.id}"):
                with ui.row().classes("w-full items-center gap-2"):
                    ui.label(row.url).classes("font-mono grow")
                    ui.label(", ".join(t(f"webhooks.event.{e}") for e in row.events)).classes("text-sm")
                    ui.switch(t("webhooks.active"), value=row.active,
                              on_change=lambda e, r=row: attempt(hooks.webhooks.update, r.id, active=e.value)) \
                        .mark(f"active-{row.id}")
                    ui.button(t("webhooks.rotate"), icon="autorenew", on_click=lambda r=row: rotate(r.id)) \
                        .props("flat").mark(f"rotate-{row.id}")
                    ui.button(t("common.delete"), icon="delete", color="negative",
                              on_click=lambda r=row: remove(r.id)).props("flat").mark(f"delete-{row.id}")
                deliveries = hooks.webhooks.deliveries(row.id, limit=20)
                if not deliveries:
                    ui.label(t("webhooks.no_deliveries")).classes("text-sm text-gray-500")
                for d in deliveries:
                    with ui.row().classes("w-full items-center gap-3 text-sm border-t py-1").mark(f"delivery-{d.id}"):
                        ui.badge(t(f"webhooks.delivery.{d.state}"), color=DELIVERY_COLOURS.get(d.state, "grey"))
                        ui.link(d.run_id[:8], f"/runs/{d.run_id}").classes("font-mono")
                        ui.label(t(f"webhooks.event.{d.event}") if d.event in EVENTS else d.event)
                        ui.label(t("webhooks.attempts", n=d.attempts))
                        ui.label(d.created_at.strftime("%Y-%m-%d %H:%M:%S")).classes("text-gray-500")
                        ui.label((d.last_error or "")[:160]).classes("grow text-red-700")
                        ui.button(t("webhooks.redeliver"), icon="replay", on_click=lambda x=d: redeliver(x.id)) \
                            .props("flat dense").mark(f"redeliver-{d.id}")

    def rotate(webhook_id: str) -> None:
        created = attempt(hooks.webhooks.rotate_secret, webhook_id)
        if created is not None:
            show_secret(created.secret)

    def remove(webhook_id: str) -> None:
        attempt(hooks.webhooks.delete, webhook_id)
        outbound.refresh()

    def redeliver(delivery_id: str) -> None:
        if attempt(hooks.webhooks.redeliver, delivery_id) is not None:
            hooks.deliverer.wake()
            ui.notify(t("webhooks.redelivering"))
            outbound.refresh()

    outbound()
    with ui.row():
        ui.button(t("webhooks.refresh"), icon="refresh", on_click=outbound.refresh).props("flat") \
            .mark("refresh-deliveries")

    # --- inbound --------------------------------------------------------------------------------
    ui.label(t("webhooks.inbound")).classes("text-lg font-semibold")
    ui.label(t("webhooks.inbound_intro")).classes("text-sm text-gray-600")

    @ui.refreshable
    def inbound() -> None:
        row = attempt(hooks.inbound.get, graph_id)
        with ui.row().classes("w-full items-center gap-2"):
            if row is None:
                ui.label(t("webhooks.inbound_none")).classes("text-gray-500 grow").mark("no-inbound")
                ui.button(t("webhooks.inbound_create"), icon="add_link", on_click=rotate_inbound) \
                    .mark("create-inbound")
                return
            ui.label(public + hooks.inbound.path(row.token)).classes("font-mono grow").mark("inbound-url")
            ui.button(t("webhooks.rotate"), icon="autorenew", on_click=rotate_inbound).props("flat") \
                .mark("rotate-inbound")
            ui.button(t("common.delete"), icon="delete", color="negative", on_click=delete_inbound) \
                .props("flat").mark("delete-inbound")

    def rotate_inbound() -> None:
        created = attempt(hooks.inbound.rotate, graph_id)
        if created is not None:
            inbound.refresh()
            show_secret(created.secret, public + hooks.inbound.path(created.row.token))

    def delete_inbound() -> None:
        attempt(hooks.inbound.delete, graph_id)
        inbound.refresh()

    inbound()
