"""The process's `Services`, handed to the UI once by `create_app`; pages read them through `services()`,
which gives the signed-in person's view (their workspace, their permissions)."""

from __future__ import annotations

from typing import Any

from app.errors import NotSignedIn
from app.policy import Scope
from app.services import Services, WorkspaceServices

_services: Services | None = None


def set_services(services: Services) -> None:
    global _services
    _services = services


def base_services() -> Services:
    """Everything, unchecked: only for what needs no account (public pages) or is not anybody's (catalogue)."""
    if _services is None:
        raise RuntimeError("The UI is not mounted; create_app() mounts it.")
    return _services


def current_scope() -> Scope | None:
    """The signed-in person of the page being built or of the event being handled; None when not signed in.
    Looked up once per page (browser tab) and kept with it."""
    from nicegui import app, context

    from app.web_auth import optional_scope

    store: dict[str, Any] = app.storage.client
    if "scope" not in store:
        try:
            request = context.client.request
        except RuntimeError:  # a client without a page request (auto-index): nobody is signed in there
            request = None
        store["scope"] = optional_scope(request, base_services()) if request is not None else None
    return store["scope"]


def services() -> WorkspaceServices:
    """The services as the signed-in person may use them; NotSignedIn when nobody is (the sign-in gate sends
    such visitors to /login before a page is built, so pages need not check)."""
    from nicegui import app

    store: dict[str, Any] = app.storage.client
    cached = store.get("services")
    if cached is not None:
        return cached
    scope = current_scope()
    if scope is None:
        raise NotSignedIn("Sign in to use MindDocs.")
    store["services"] = base_services().scoped(scope)
    return store["services"]
