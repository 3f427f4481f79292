"""Marketplace: browse and search templates, updates for installed graphs, import bundles, publish a graph."""

from __future__ import annotations

from fastapi import Request
from nicegui import events, ui

from app.errors import AppError
from marketplace.search import Filters
from marketplace.service import CATEGORIES, ListingForm

from ..components.frame import frame, not_found_page
from ..i18n import language, t
from ..state import current_scope, services

SORTS = ("relevance", "rating", "installs", "recent")


def rating_text(row) -> str:
    if not row.rating_count:
        return t("marketplace.no_ratings")
    return t("marketplace.rating", average=f"{row.rating_average:.1f}", count=row.rating_count)


def show_error(exc: AppError) -> None:
    details = exc.details if isinstance(exc.details, list) else []
    lines = [d.get("message", "") for d in details if isinstance(d, dict)][:8]
    ui.notify("\n".join([exc.message, *lines]), type="negative", multi_line=True, classes="whitespace-pre-line")


def workspace_updates() -> dict:
    """graph id -> UpdateInfo for the current workspace's graphs installed from the marketplace that have a
    newer version (one query per page; the library shows `update_badge` on those cards)."""
    svc, scope = services(), current_scope()
    return svc.marketplace.updates(scope) if scope is not None and scope.can("graph.read") else {}


def update_badge(graph_id: str, updates: dict) -> None:
    """An "update available" badge (with the summary of changes as tooltip) when `graph_id` has one."""
    info = updates.get(graph_id)
    if info is not None:
        with ui.link(target="/marketplace").classes("no-underline"):
            ui.badge(t("marketplace.update_available"), color="orange").mark(f"update-badge-{graph_id}") \
                .tooltip(info.summary)


@ui.page("/marketplace")
def marketplace_page(request: Request) -> None:
    with frame(request, "marketplace.title"):
        svc, scope, lang = services(), current_scope(), language()
        market = svc.marketplace
        ui.label(t("marketplace.intro")).classes("text-gray-600")
        with ui.row().classes("w-full items-center gap-2"):
            query = ui.input(t("marketplace.search")).props("clearable outlined dense debounce=300") \
                .classes("w-72").mark("market-search")
            categories = {"": t("marketplace.any"), **{c: t(f"category.{c}") for c in CATEGORIES}}
            category = ui.select(categories, value="", label=t("marketplace.category")).props("dense outlined") \
                .classes("w-44").mark("market-category")
            languages = {"": t("marketplace.any"), "es": "Español", "en": "English"}
            lang_filter = ui.select(languages, value="", label=t("marketplace.language")).props("dense outlined") \
                .classes("w-36").mark("market-language")
            types = {"": t("marketplace.any"), **{c.type_id: c.type_id for c in svc.registry}}
            node_type = ui.select(types, value="", label=t("marketplace.node_type")).props("dense outlined") \
                .classes("w-48").mark("market-node-type")
            sort = ui.select({s: t(f"marketplace.sort.{s}") for s in SORTS}, value="relevance",
                             label=t("marketplace.sort")).props("dense outlined").classes("w-40").mark("market-sort")
            official = ui.checkbox(t("marketplace.only_official")).mark("market-official")
            ui.space()
            importer = ui.upload(auto_upload=True, on_upload=lambda e: import_bundle(e)) \
                .props('accept=".zip,.json"').classes("hidden").mark("market-import")
            ui.button(t("marketplace.import"), icon="upload_file",
                      on_click=lambda: importer.run_method("pickFiles")).props("outline")

        updates = workspace_updates()
        if updates:
            with ui.card().classes("w-full bg-orange-50").mark("market-updates"):
                ui.label(t("marketplace.updates")).classes("font-medium")
                for graph_id, info in updates.items():
                    graph = svc.graphs.get(graph_id)
                    with ui.row().classes("items-center gap-2"):
                        ui.link(graph.name, f"/graphs/{graph_id}/edit")
                        ui.badge(t("marketplace.update_available"), color="orange")
                        ui.label(info.summary).classes("text-sm text-gray-600")
                        ui.button(t("marketplace.update_to", version=info.latest_version),
                                  on_click=lambda g=graph_id: update(g, False)).props("flat dense") \
                            .mark(f"update-{graph_id}")

        @ui.refreshable
        def results() -> None:
            rows = market.search(scope, Filters(query=query.value or "", category=category.value or None,
                                                language=lang_filter.value or None, node_type=node_type.value or None,
                                                official=True if official.value else None, sort=sort.value),
                                 limit=100)
            if not rows:
                ui.label(t("marketplace.empty")).classes("text-gray-500").mark("market-empty")
                return
            with ui.grid(columns=3).classes("w-full gap-3"):
                for row in rows:
                    text = row.text(lang)
                    with ui.card().classes("gap-1").mark(f"listing-{row.id}"):
                        ui.link(text["title"], f"/marketplace/{row.id}").classes("text-lg font-medium")
                        ui.label(text["short_description"]).classes("text-sm text-gray-600")
                        with ui.row().classes("gap-2 text-xs text-gray-500 items-center"):
                            if row.official:
                                ui.badge(t("marketplace.official"), color="primary")
                            if row.visibility == "workspace":
                                ui.badge(t("marketplace.team"), color="grey")
                            ui.badge(t(f"category.{row.category}")).props("outline")
                            ui.label(rating_text(row))
                            ui.label(t("marketplace.installs", count=row.installs))

        results()
        for element in (query, category, lang_filter, node_type, sort, official):
            element.on_value_change(results.refresh)

    def update(graph_id: str, side_by_side: bool) -> None:
        try:
            result = market.update(scope, graph_id, side_by_side=side_by_side)
        except AppError as exc:
            if exc.code == "update_conflict":
                nodes = ", ".join(sorted({c["node_id"] for c in exc.details["conflicts"]}))
                with ui.dialog() as dialog, ui.card():
                    ui.label(t("marketplace.conflict", nodes=nodes)).mark("update-conflict")
                    ui.button(t("marketplace.side_by_side"),
                              on_click=lambda: (dialog.close(), update(graph_id, True))).mark("side-by-side")
                dialog.open()
                return
            show_error(exc)
            return
        key = "marketplace.installed_side_by_side" if side_by_side else "marketplace.updated"
        ui.notify(t(key, version=result["version"]), type="positive")
        ui.navigate.to(f"/graphs/{result['graph_id']}/edit")

    async def import_bundle(e: events.UploadEventArguments) -> None:
        try:
            rows = market.import_bundle(scope, await e.file.read())
        except AppError as exc:
            show_error(exc)
            return
        ui.notify(t("marketplace.imported", count=len(rows)), type="positive")
        results.refresh()


@ui.page("/graphs/{graph_id}/publish")
def publish_page(request: Request, graph_id: str) -> None:
    """Publish the newest version of a graph: a new template, or a new version of one of the workspace's."""
    svc, scope = services(), current_scope()
    try:
        graph = svc.graphs.get(graph_id)
    except AppError as exc:
        not_found_page(request, "marketplace.title", exc.message)
        return
    market = svc.marketplace
    mine = [r for r in market.search(scope, Filters(sort="recent"), limit=500)
            if r.workspace_id == graph.workspace_id and market.can_manage(scope, r)]
    with frame(request, "publish.title", name=graph.name):
        ui.label(t("publish.intro")).classes("text-gray-600")
        target = ui.select({"": t("publish.as_new"), **{r.id: f"{t('publish.as_version')} «{r.title}»" for r in mine}},
                           value="").classes("w-96").mark("publish-target")
        title = ui.input(t("publish.title_field"), value=graph.name).classes("w-96").mark("publish-title")
        short = ui.input(t("publish.short"), value=graph.description[:300]).classes("w-full").mark("publish-short")
        long = ui.textarea(t("publish.long")).classes("w-full").mark("publish-long")
        with ui.row().classes("gap-2"):
            category = ui.select({c: t(f"category.{c}") for c in CATEGORIES}, value="general",
                                 label=t("marketplace.category")).classes("w-48").mark("publish-category")
            tags = ui.input(t("publish.tags"), value=", ".join(graph.tags)).classes("w-72").mark("publish-tags")
            lang = ui.select({"es": "Español", "en": "English"}, value=language(),
                             label=t("publish.language")).classes("w-40")
            licence = ui.input(t("publish.licence"), value="CC-BY-4.0").classes("w-40")
        visibility = ui.radio({"workspace": t("publish.workspace"), "public": t("publish.public")},
                              value="workspace").props("inline").mark("publish-visibility")
        changelog = ui.input(t("publish.changelog")).classes("w-full").mark("publish-changelog")
        example = ui.textarea(t("publish.example_output")).classes("w-full")
        problems = ui.column().classes("gap-1")

        def submit() -> None:
            problems.clear()
            form = ListingForm(title=title.value or "", short_description=short.value or "",
                               long_description=long.value or "", category=category.value,
                               tags=[x.strip() for x in (tags.value or "").split(",") if x.strip()],
                               language=lang.value, licence=licence.value or "", visibility=visibility.value,
                               example_output=example.value or "", changelog=changelog.value or "")
            try:
                listing, version = market.publish(scope, svc.graphs.latest(graph_id).id, form,
                                                  listing_id=target.value or None)
            except AppError as exc:
                with problems:
                    ui.label(t("publish.problems")).classes("font-medium text-negative")
                    ui.label(exc.message).classes("text-negative").mark("publish-error")
                    for detail in (exc.details if isinstance(exc.details, list) else [])[:20]:
                        ui.label(f"• {detail.get('message', '')}").classes("text-sm text-negative")
                return
            ui.notify(t("publish.done", number=version.number), type="positive")
            ui.navigate.to(f"/marketplace/{listing.id}")

        ui.button(t("publish.submit"), icon="storefront", on_click=submit).mark("publish-submit")
