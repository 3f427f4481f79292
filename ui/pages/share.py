"""The public pages of a share link, for people without an account (docs/share-links.md):

- `/s/{token}`: a page of its own, with a small header;
- `/embed/{token}`: the bare form, meant for an <iframe> on another website (app/api_share.py `FramePolicy`
  sends its Content-Security-Policy frame-ancestors).

Spanish or English: `?lang=` when given, else the browser's Accept-Language. A link that does not work
answers with a short page of its own and the HTTP status that says why (404 unknown, 410 turned off,
expired or used up), so search engines and monitoring see it too.
"""

from __future__ import annotations

import html

from fastapi import Request
from fastapi.responses import HTMLResponse
from nicegui import app, ui

from app.errors import AppError
from app.web_auth import client_ip

from .. import theme
from ..components.share_form import ShareForm, problem_text
from ..i18n import LANGUAGES, pick_language, t
from ..state import base_services


@ui.page("/s/{token}")
def share_page(request: Request, token: str):
    return public_form(request, token, embed=False)


@ui.page("/embed/{token}")
def embed_page(request: Request, token: str):
    return public_form(request, token, embed=True)


def visitor_language(request: Request) -> str:
    """?lang= when it names a language, else the browser's. Kept with this page only (app.storage.client):
    an anonymous visitor, often in another site's <iframe> without cookies, leaves nothing stored here."""
    asked = request.query_params.get("lang")
    lang = asked if asked in LANGUAGES else pick_language(request.headers.get("accept-language"))
    app.storage.client["lang"] = lang
    return lang


def public_form(request: Request, token: str, *, embed: bool) -> HTMLResponse | None:
    lang = visitor_language(request)
    share = base_services().share_links
    ip = client_ip(request)
    try:
        form = share.form(token, ip=ip)
    except AppError as exc:
        return refusal(exc, lang)
    theme.apply()
    ui.page_title(t("share.page_title", title=form.title))
    ui.query("html").props(f"lang={lang}")
    if embed:
        ui.query(".nicegui-content").classes("p-2")
    else:
        with ui.header().classes("items-center gap-4 px-4 py-2 bg-primary"):
            ui.label(form.title).classes("text-xl font-semibold text-white").mark("share-title")
            ui.space()
            language_switch(lang, dark=True)
    with ui.column().classes("w-full max-w-2xl mx-auto gap-3" + ("" if embed else " p-4")):
        if embed:
            with ui.row().classes("w-full items-center"):
                ui.label(form.title).classes("text-lg font-semibold").mark("share-title")
                ui.space()
                language_switch(lang, dark=False)
        ShareForm(share, token, form, ip=ip, path=request.url.path).build()
        if not embed:
            ui.label(t("share.powered")).classes("text-xs text-gray-400 self-end")
    return None


def language_switch(lang: str, *, dark: bool) -> None:
    """Reloads the page in the other language, keeping the #fragment (a submission being followed)."""
    def switch(e) -> None:
        if e.value in LANGUAGES and e.value != lang:
            ui.run_javascript(f"window.location.search = '?lang={e.value}'")

    ui.select(LANGUAGES, value=lang, on_change=switch) \
        .props("dense borderless options-dense" + (" dark" if dark else "")) \
        .classes("w-28" + (" text-white" if dark else "")).mark("language").tooltip(t("nav.language"))


def refusal(exc: AppError, lang: str) -> HTMLResponse:
    """A link that does not work: a short page in the visitor's language, with the status that says why."""
    title, message = html.escape(t("share.gone.title")), html.escape(problem_text(exc))
    body = (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{title}</title></head>'
            '<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem; '
            f'color: #333"><h1 style="font-size: 1.4rem">{title}</h1><p id="share-refusal">{message}</p></body></html>')
    return HTMLResponse(body, status_code=exc.status if exc.status in (404, 410, 429) else 404,
                        headers={"Cache-Control": "no-store"})
