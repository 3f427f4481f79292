"""The process's `Services`, handed to the UI once by `create_app` (pages read it through `services()`)."""

from __future__ import annotations

from app.services import Services

_services: Services | None = None


def set_services(services: Services) -> None:
    global _services
    _services = services


def services() -> Services:
    if _services is None:
        raise RuntimeError("The UI is not mounted; create_app() mounts it.")
    return _services
