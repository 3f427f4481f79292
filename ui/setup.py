"""Mount the NiceGUI UI on the FastAPI application built by `create_app`."""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
from pathlib import Path

from fastapi import FastAPI
from nicegui import app as nicegui_app
from nicegui import core, ui
from nicegui.client import Client
from nicegui.storage import Storage
from starlette.middleware.sessions import SessionMiddleware

from app.services import Services
from app.settings import Settings

from .state import set_services

UI = Path(__file__).resolve().parent
STATIC = UI / "static"
#: Built from ui/tailwind.css by the Tailwind CLI that `npm ci` installs (package.json); not committed.
TAILWIND_SOURCE = UI / "tailwind.css"
TAILWIND_CSS = STATIC / "tailwind.css"
TAILWIND_CLI = UI.parent / "node_modules" / ".bin" / "tailwindcss"
TAILWIND_MARK = "<!-- minddocs: precompiled tailwind -->"

log = logging.getLogger(__name__)


def build_tailwind(output: Path = TAILWIND_CSS, cli: Path = TAILWIND_CLI) -> None:
    """Compile ui/tailwind.css into `output` with the Tailwind CLI (what `make install` runs; about 0.5 s)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.stem}-{os.getpid()}.css")  # then renamed: readers never see half
    subprocess.run([str(cli), "--input", str(TAILWIND_SOURCE), "--output", str(partial), "--minify"],
                   cwd=UI.parent, check=True, capture_output=True, timeout=60)
    partial.replace(output)


def precompiled_tailwind(css: Path = TAILWIND_CSS, sources: Path = UI, cli: Path = TAILWIND_CLI) -> str | None:
    """The compiled Tailwind stylesheet, rebuilt first when a file in `sources` is newer; None without one.

    With it every page gets this small static stylesheet instead of NiceGUI's in-browser Tailwind compiler,
    which costs each page load its script and a restyle of the whole page each time it sees new classes.
    A stale file could lack a class just added to a page: it is rebuilt when the Tailwind CLI is installed,
    else the pages fall back to the in-browser compiler.
    """
    built = css.stat().st_mtime if css.is_file() else None
    stale = None
    if built is not None:
        files = (f for f in sources.rglob("*") if f.suffix in (".py", ".js", ".css") and css.parent not in f.parents)
        stale = next((f for f in files if f.stat().st_mtime > built), None)
    if built is None or stale is not None:
        why = "missing" if built is None else f"older than {stale}"
        if not cli.is_file():
            log.warning("%s is %s and there is no Tailwind CLI at %s (run `make install`): pages compile Tailwind "
                        "in the browser, which is slower", css, why, cli)
            return None
        try:
            build_tailwind(css, cli)
        except (OSError, subprocess.SubprocessError) as exc:
            detail = (getattr(exc, "stderr", None) or b"").decode(errors="replace")[-500:]
            log.warning("%s is %s and could not be rebuilt (%s %s): pages compile Tailwind in the browser, which "
                        "is slower", css, why, exc, detail)
            return None
    return css.read_text(encoding="utf-8")


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
    css = precompiled_tailwind()
    if css is not None and TAILWIND_MARK not in Client.shared_head_html:
        ui.add_head_html(f"{TAILWIND_MARK}<style>{css}</style>", shared=True)
    # The session middleware on the whole application, not only on NiceGUI's mounted app (which reuses it):
    # routes outside the UI need request.session too (the OpenID sign-in keeps its state and nonce there).
    fastapi_app.add_middleware(SessionMiddleware, secret_key=storage_secret(settings))
    ui.run_with(fastapi_app, title="MindDocs", storage_secret=storage_secret(settings), favicon="🧩",
                show_welcome_message=False, reconnect_timeout=10, tailwind=css is None)
