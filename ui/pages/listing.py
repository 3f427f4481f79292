"""One template: description, preview, inputs, versions, install, ratings and reviews, report, export."""

from __future__ import annotations

import base64

from fastapi import Request
from markdown_it import MarkdownIt
from nicegui import ui

from app.errors import AppError
from marketplace.service import REPORT_REASONS

from ..components.frame import frame, not_found_page
from ..i18n import language, t
from ..state import base_services, current_scope, services
from .marketplace import rating_text, show_error

#: Markdown without raw HTML (it is shown escaped); markdown-it also refuses javascript: and data: links
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False})


def markdown_html(text: str) -> str:
    return _MARKDOWN.render(text or "")


@ui.page("/marketplace/{listing_id}")
def listing_page(request: Request, listing_id: str) -> None:
    svc, scope, lang = services(), current_scope(), language()
    market = svc.marketplace
    try:
        detail = market.get(scope, listing_id)
    except AppError as exc:
        not_found_page(request, "listing.title", exc.message)
        return
    row = detail.listing
    text = row.text(lang)
    latest = market.version(scope, listing_id)
    with frame(request, "listing.title"):
        ui.label(text["title"]).classes("text-xl font-semibold").mark("listing-title")
        with ui.row().classes("gap-2 items-center text-sm text-gray-600"):
            if row.official:
                ui.badge(t("marketplace.official"), color="primary")
            ui.label(t("listing.by", author=row.author_name or "—"))
            ui.badge(t(f"category.{row.category}")).props("outline")
            ui.label(rating_text(row)).mark("listing-rating")
            ui.label(t("marketplace.installs", count=row.installs)).mark("listing-installs")
            ui.label(t("listing.licence", licence=row.licence))
            for tag in row.tags:
                ui.badge(tag).props("outline")
        ui.label(text["short_description"]).classes("text-gray-700")
        ui.html(markdown_html(text["long_description"])).classes("max-w-none leading-relaxed").mark("listing-description")

        with ui.row().classes("w-full gap-4 items-start no-wrap"):
            with ui.card().classes("grow"):
                ui.label(t("listing.preview")).classes("font-medium")
                svg = base64.b64encode(latest.preview_svg.encode()).decode()
                ui.image(f"data:image/svg+xml;base64,{svg}").classes("w-full").mark("listing-preview")
            with ui.card().classes("w-96 gap-2"):
                install_box(market, scope, listing_id, latest)

        with ui.card().classes("w-full gap-1"):
            ui.label(t("listing.inputs")).classes("font-medium")
            inputs = latest.interface.get("inputs", [])
            if not inputs:
                ui.label(t("listing.no_inputs"))
            for item in inputs:
                ui.label(f"• {item.get('label') or item['name']} ({item['kind']})"
                         + (f" — {item['help']}" if item.get("help") else "")).classes("text-sm")
            if latest.interface.get("outputs"):
                ui.label(t("listing.outputs", outputs=", ".join(latest.interface["outputs"]))).classes("text-sm")
            if latest.stripped:
                settings = ", ".join(f"{s['node_id']}.{s['setting']}" for s in latest.stripped)
                ui.label(t("listing.fill_in", settings=settings)).classes("text-sm text-orange-700") \
                    .mark("listing-fill-in")
            ui.label(t("listing.needs") + ": " + ", ".join(n["type"] for n in latest.node_types)) \
                .classes("text-xs text-gray-500")
            if latest.example_output:
                ui.label(t("listing.example")).classes("font-medium mt-2")
                ui.code(latest.example_output, language="text").classes("w-full")

        with ui.card().classes("w-full gap-1").mark("listing-versions"):
            ui.label(t("listing.versions")).classes("font-medium")
            for version in reversed(detail.versions):
                with ui.row().classes("items-center gap-2 text-sm"):
                    ui.label(t("listing.version", number=version.number)).classes("font-medium")
                    ui.label(version.created_at.strftime("%Y-%m-%d"))
                    if version.deprecated:
                        ui.badge(t("listing.deprecated"), color="grey")
                    ui.label(version.changelog).classes("text-gray-600")
                    if detail.can_manage:
                        ui.button(t("listing.undeprecate" if version.deprecated else "listing.deprecate"),
                                  on_click=lambda v=version: deprecate(v.number, not v.deprecated)) \
                            .props("flat dense size=sm").mark(f"deprecate-{version.number}")

        reviews(market, scope, detail)

        with ui.row().classes("gap-2"):
            ui.button(t("listing.report"), icon="flag", on_click=lambda: report_dialog(market, scope, listing_id)) \
                .props("flat").mark("listing-report")
            ui.button(t("listing.export"), icon="download",
                      on_click=lambda: ui.download.content(market.export_bundle(scope, [listing_id]),
                                                           "minddocs-templates.zip", "application/zip")) \
                .props("flat").mark("listing-export")
            if detail.can_manage:
                ui.button(t("listing.delete"), icon="delete", on_click=lambda: withdraw()).props("flat color=negative")

    def deprecate(number: int, value: bool) -> None:
        market.deprecate(scope, listing_id, number, value)
        ui.navigate.reload()

    def withdraw() -> None:
        market.unpublish(scope, listing_id)
        ui.notify(t("listing.deleted"))
        ui.navigate.to("/marketplace")


def install_box(market, scope, listing_id: str, latest) -> None:
    missing = market.missing_for(scope, listing_id)
    if missing:
        ui.label(t("listing.missing", types=", ".join(m["type"] for m in missing))).classes("text-negative") \
            .mark("listing-missing")
    workspaces = {w.id: w.name for w in base_services().workspaces.list(scope) if scope.can("listing.install", w.id)}
    if not workspaces:
        return
    target = ui.select(workspaces, value=scope.workspace_id if scope.workspace_id in workspaces else next(
        iter(workspaces)), label=t("listing.install_into")).classes("w-full").mark("install-workspace")
    result = ui.column()

    def install() -> None:
        try:
            done = market.install(scope, listing_id, target.value)
        except AppError as exc:
            show_error(exc)
            return
        ui.notify(t("listing.installed"), type="positive")
        result.clear()
        with result:
            ui.link(t("listing.open_graph"), f"/graphs/{done.install.graph_id}/edit").mark("installed-link")

    ui.button(t("listing.install"), icon="download_done", on_click=install).props("unelevated") \
        .classes("w-full").mark("install").set_enabled(not missing)


def reviews(market, scope, detail) -> None:
    row = detail.listing
    with ui.card().classes("w-full gap-2").mark("listing-reviews"):
        ui.label(t("listing.reviews")).classes("font-medium")
        if row.author_id == scope.user_id:
            ui.label(t("listing.own")).classes("text-sm text-gray-500")
        else:
            mine = detail.my_rating
            with ui.row().classes("items-end gap-2 w-full"):
                stars = ui.select({n: "★" * n for n in range(1, 6)}, value=mine.stars if mine else 5,
                                  label=t("listing.stars")).classes("w-32").mark("rating-stars")
                review = ui.input(t("listing.review"), value=mine.review if mine else "").classes("grow") \
                    .mark("rating-review")

                def save() -> None:
                    try:
                        market.rate(scope, row.id, int(stars.value), review.value or "")
                    except AppError as exc:
                        show_error(exc)
                        return
                    ui.notify(t("listing.rating_saved"), type="positive")
                    ui.navigate.reload()

                ui.button(t("listing.save_rating"), on_click=save).mark("rating-save")
        if not detail.ratings:
            ui.label(t("listing.no_reviews")).classes("text-sm text-gray-500")
        for rating in detail.ratings:
            with ui.column().classes("gap-0 w-full").mark(f"review-{rating.id}"):
                ui.label(f"{'★' * rating.stars}{'☆' * (5 - rating.stars)}  {rating.user_name}").classes("text-sm")
                if rating.review:
                    ui.label(rating.review).classes("text-sm text-gray-700")
                if rating.reply:
                    ui.label(f"{t('listing.author_reply')}: {rating.reply}").classes("text-sm text-gray-500 ml-4")
                if detail.can_manage or row.author_id == scope.user_id:
                    ui.button(t("listing.reply"), on_click=lambda r=rating: reply_dialog(market, scope, row.id, r)) \
                        .props("flat dense size=sm").mark(f"reply-{rating.id}")


def reply_dialog(market, scope, listing_id: str, rating) -> None:
    with ui.dialog() as dialog, ui.card().classes("w-96"):
        text = ui.textarea(t("listing.reply"), value=rating.reply).classes("w-full").mark("reply-text")

        def send() -> None:
            market.reply(scope, listing_id, rating.id, text.value or "")
            dialog.close()
            ui.navigate.reload()

        ui.button(t("listing.reply"), on_click=send).mark("reply-send")
    dialog.open()


def report_dialog(market, scope, listing_id: str) -> None:
    with ui.dialog() as dialog, ui.card().classes("w-96"):
        reason = ui.select({r: t(f"listing.reason.{r}") for r in REPORT_REASONS}, value="spam",
                           label=t("listing.report_reason")).classes("w-full").mark("report-reason")
        details = ui.textarea(t("listing.report_details")).classes("w-full")

        def send() -> None:
            try:
                market.report(scope, listing_id, reason.value, details.value or "")
            except AppError as exc:
                show_error(exc)
                return
            dialog.close()
            ui.notify(t("listing.reported"), type="positive")

        ui.button(t("listing.report"), on_click=send).mark("report-send")
    dialog.open()
