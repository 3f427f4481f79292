"""Mount the NiceGUI UI on the FastAPI application built by `create_app`."""

from __future__ import annotations

import secrets
from pathlib import Path

from fastapi import FastAPI
from nicegui import app as nicegui_app
from nicegui import core, ui
from nicegui.storage import Storage

from app.services import Services
from app.settings import Settings

from .state import set_services

STATIC = Path(__file__).resolve().parent / "static"


def storage_secret(settings: Settings) -> str:
    """The secret that signs the UI's session cookie: from settings when set, else one kept in the data dir."""
    configured = getattr(getattr(settings, "ui", None), "storage_secret", None)
    if configured:
        return configured.get_secret_value() if hasattr(configured, "get_secret_value") else str(configured)
    path = settings.data_dir / "ui-storage-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def mount(fastapi_app: FastAPI, services: Services, settings: Settings) -> None:
    set_services(services)
    from . import pages  # noqa: F401  (registers every @ui.page)
    from .components import flow_editor  # noqa: F401  (serves the editor's JavaScript)

    if not nicegui_app.is_started:
        Storage.path = (settings.data_dir / "ui").resolve()
        nicegui_app.storage = Storage()
    # NiceGUI keeps one global app. A second create_app in one process (tests) mounts it again, so the
    # middleware that ui.run_with adds is reset first instead of being added twice.
    core.app.middleware_stack = None
    core.app.user_middleware.clear()
    ui.run_with(fastapi_app, title="MindDocs", storage_secret=storage_secret(settings), favicon="🧩",
                show_welcome_message=False, reconnect_timeout=10)
