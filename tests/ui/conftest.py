"""The UI through NiceGUI's simulated `user` (no browser): the real create_app, services and pages.

NiceGUI's own `user` fixture wants a main file and pytest-asyncio; this one builds the app with
`create_app` instead and runs on anyio's pytest plugin (already installed with FastAPI/httpx).
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from nicegui import ui
from nicegui.functions.download import download
from nicegui.functions.navigate import Navigate
from nicegui.functions.notify import notify
from nicegui.testing.general import nicegui_reset_globals
from nicegui.testing.user import User

from app.main import create_app
from tests.conftest import make_settings, sign_in


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def ui_settings(tmp_path):
    return make_settings(tmp_path / "data", load_samples=True)


@asynccontextmanager
async def simulated_user(settings, *, signed_in: bool = True) -> AsyncIterator[User]:
    """The real app with NiceGUI's simulated browser; signed in as the administrator unless `signed_in` is
    False (an installation nobody has set up: no administrator, nobody signed in)."""
    with nicegui_reset_globals():
        os.environ["NICEGUI_USER_SIMULATION"] = "true"
        try:
            # nicegui_reset_globals dropped the page routes; importing the pages afresh registers them again
            for name in [m for m in sys.modules if m == "ui" or m.startswith("ui.")]:
                del sys.modules[name]
            fastapi_app = create_app(settings)
            async with fastapi_app.router.lifespan_context(fastapi_app):
                transport = httpx.ASGITransport(fastapi_app)
                async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                    user = User(client)
                    user.services = fastapi_app.state.services
                    if signed_in:
                        user.account = sign_in(client, user.services)
                    yield user
        finally:
            os.environ.pop("NICEGUI_USER_SIMULATION", None)
            ui.navigate = Navigate()
            ui.notify = notify
            ui.download = download


@pytest.fixture
async def user(ui_settings) -> AsyncIterator[User]:
    async with simulated_user(ui_settings) as user:
        yield user
