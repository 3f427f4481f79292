"""The frame around every page: header with navigation and the language switch."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Request
from nicegui import app, ui

from .. import theme
from ..i18n import LANGUAGES, pick_language, set_language, t
from ..state import current_scope
from .notification_bell import notification_bell
from .user_menu import user_menu

NAV = (("/", "nav.library", "account_tree"), ("/runs", "nav.runs", "play_circle"), ("/nodes", "nav.nodes", "widgets"),
       ("/schedules", "nav.schedules", "schedule"), ("/secrets", "nav.secrets", "key"),
       ("/webhooks", "nav.webhooks", "webhook"), ("/marketplace", "marketplace.title", "storefront"),
       ("/analytics", "analytics.title", "insights"))


def ensure_language(request: Request | None) -> str:
    """The person's language: stored choice, else the browser's Accept-Language."""
    lang = app.storage.user.get("lang")
    if lang not in LANGUAGES:
        lang = pick_language(request.headers.get("accept-language") if request else None)
        set_language(lang)
    return lang


@contextmanager
def frame(request: Request | None, title_key: str, *, wide: bool = False, public: bool = False,
          **values: str) -> Iterator[ui.column]:
    """Header, navigation and language switch around a page titled `t(title_key, **values)`. `public`: a page
    for people not signed in (sign-in, setup...): no navigation, no account menu."""
    lang = ensure_language(request)  # first, so that every t() below speaks the person's language
    title = t(title_key, **values)
    theme.apply()
    ui.page_title(f"{title} · MindDocs")
    ui.query("html").props(f"lang={lang}")
    with ui.header().classes("items-center gap-4 px-4 py-2 bg-primary"):
        ui.link("MindDocs", "/").classes("text-xl font-bold text-white no-underline").mark("brand")
        for path, key, icon in () if public or current_scope() is None else NAV:
            with ui.link(target=path).classes("text-white no-underline flex items-center gap-1").mark(f"nav-{key}"):
                ui.icon(icon)
                ui.label(t(key))
        ui.space()
        if not public and user_menu(request):  # workspace switcher and account menu; the bell too, for signed-in people only
            notification_bell()

        def switch(e) -> None:
            set_language(e.value)
            ui.navigate.reload()

        ui.select(LANGUAGES, value=lang, on_change=switch).props("dense dark borderless options-dense") \
            .classes("text-white w-28").mark("language").tooltip(t("nav.language"))
    width = "w-full" if wide else "w-full max-w-screen-xl mx-auto"
    with ui.column().classes(f"{width} p-4 gap-4") as body:
        ui.label(title).classes("text-2xl font-semibold").mark("page-title")
        yield body


def not_found_page(request: Request | None, title_key: str, message: str) -> None:
    """The page shown when what the address names does not exist (or is not the user's)."""
    with frame(request, title_key):
        ui.label(t("common.not_found", message=message)).mark("error")
