"""Native HTML forms for the account pages: they post to app/auth_routes.py, which sets the session cookie
(a NiceGUI websocket event cannot). Quasar inputs with a `name` submit like plain `<input>`s."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import Request, Response
from nicegui import app, context, ui

from app.accounts import SessionInfo
from app.auth_routes import CSRF_COOKIE, CSRF_FIELD, new_csrf_token
from app.web_auth import SESSION_COOKIE, client_ip, cookie_secure

from ..i18n import MESSAGES, t
from ..state import base_services

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


def current_session() -> SessionInfo | None:
    """The browser session of the page being built or of the event being handled (its csrf token signs the
    sign-out and workspace forms); None when not signed in. Looked up once per page, like `current_scope`."""
    store: dict[str, Any] = app.storage.client
    if "session" not in store:
        try:
            request = context.client.request
        except RuntimeError:  # a client without a page request
            request = None
        cookie = request.cookies.get(SESSION_COOKIE, "") if request is not None else ""
        store["session"] = base_services().accounts.session(cookie, ip=client_ip(request)) if cookie else None
    return store["session"]


def form_csrf_token(request: Request) -> str:
    """The double-submit token of this browser: its `minddocs_csrf` cookie, or a new one (set by
    `with_csrf_cookie`). Several open tabs share one token, so each of their forms works."""
    existing = request.cookies.get(CSRF_COOKIE, "")
    return existing if _TOKEN.match(existing) else new_csrf_token()


def with_csrf_cookie(request: Request, token: str, settings) -> Response:
    """The page built so far as the HTTP response, with the csrf cookie set (a page function may return a
    Response; NiceGUI's own would carry no cookie)."""
    client = ui.context.client
    response = client.build_response(request, client.status_code)
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", path="/",
                            secure=cookie_secure(settings))
    return response


def hidden(name: str, value: str) -> ui.element:
    element = ui.element("input")
    element.props.update({"type": "hidden", "name": name, "value": value})
    return element


@contextmanager
def native_form(action: str, csrf: str, *, mark: str, classes: str = "w-full flex flex-col gap-3") \
        -> Iterator[ui.element]:
    """`<form method=post action=...>` with the csrf field; put inputs and a `submit_button` inside."""
    with ui.element("form").classes(classes).mark(mark) as form:
        form.props.update({"method": "post", "action": action})
        hidden(CSRF_FIELD, csrf)
        yield form


def field(label_key: str, name: str, *, kind: str = "text", value: str = "", autocomplete: str | None = None,
          readonly: bool = False, required: bool = True) -> ui.input:
    element = ui.input(t(label_key), value=value, password=kind == "password").classes("w-full") \
        .mark(f"field-{name}")
    element.props.update({"name": name, "outlined": True})
    if required:
        element.props["required"] = True
    if kind == "email":
        element.props["type"] = "email"
    if autocomplete:
        element.props["autocomplete"] = autocomplete
    if readonly:
        element.props["readonly"] = True
    return element


def submit_button(label_key: str, *, mark: str, color: str = "primary", icon: str | None = None) -> ui.button:
    button = ui.button(t(label_key), color=color, icon=icon).props("type=submit unelevated no-caps").mark(mark)
    return button


def link_button(text: str, url: str, *, icon: str, mark: str, outline: bool = False) -> ui.button:
    """A button that is a plain link (`<a href>`): it works before the page's websocket connects."""
    button = ui.button(text, icon=icon).props(f"no-caps {'outline' if outline else 'unelevated'}").mark(mark)
    button.props["href"] = url
    return button


def error_sentence(code: str | None, **values: str) -> str | None:
    """The sentence of an `?error=<code>` (auth.error.<code>; unknown codes: the generic one)."""
    if not code:
        return None
    key = f"auth.error.{code}" if re.fullmatch(r"[a-z_]{1,40}", code) else ""
    return t(key if key in MESSAGES["en"] else "auth.error.unknown", **values)


def error_banner(request: Request, **values: str) -> None:
    sentence = error_sentence(request.query_params.get("error"), **values)
    if sentence:
        with ui.row().classes("w-full items-center gap-2 p-3 rounded bg-red-50 text-red-900 no-wrap"):
            ui.icon("error").classes("text-red-700")
            ui.label(sentence).mark("auth-error")


def notice(text: str, *, mark: str = "auth-notice") -> None:
    with ui.row().classes("w-full items-center gap-2 p-3 rounded bg-blue-50 text-blue-900 no-wrap"):
        ui.icon("info").classes("text-blue-700")
        ui.label(text).mark(mark)


@contextmanager
def auth_card() -> Iterator[ui.card]:
    with ui.card().classes("w-full max-w-md mx-auto p-6 gap-4") as card:
        yield card
