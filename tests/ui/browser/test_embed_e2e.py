"""End to end in real Chromium: a share link's /embed/ page inside an <iframe> of a page served from another
localhost port (another origin) uploads a file, runs the graph and shows the result; a link that allows no
site is refused by the browser (Content-Security-Policy frame-ancestors).

Needs Debian's chromium (`apt-get install -y chromium`) and `playwright` (pip; never `playwright install`).
The app runs in a subprocess (embedded worker), the host page in a thread of the test (http.server).
"""

from __future__ import annotations

import os
import threading
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.policy import Actor
from app.services import Services
from tests.app.test_share_links import extract_graph
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_settings
from tests.ui.browser.conftest import CHROMIUM, FLAGS, free_port, serve

DOCUMENT = "# Reserva 4411\n\nLlegada: 3 de mayo. Habitación 12, vista al mar.\n".encode()


def make_links(data_dir: Path, host_origin: str) -> tuple[str, str]:
    """In the app's database (before it starts): a graph that extracts a document's text, shared twice —
    embeddable on `host_origin`, and embeddable nowhere."""
    with Services(make_settings(data_dir)) as services:
        user = services.accounts.setup_admin(ADMIN_EMAIL, ADMIN_PASSWORD)
        scope = services.scope_for(Actor(user.id, label=user.email))
        graph_id = services.scoped(scope).graphs.save(extract_graph()).graph_id
        open_link = services.share_links.create(scope, graph_id, name="Check-in", allowed_origins=[host_origin])
        closed_link = services.share_links.create(scope, graph_id, name="Internal")
        return open_link.token, closed_link.token


@pytest.fixture
def host_port() -> int:
    return free_port()


@pytest.fixture
def app_url(tmp_path):
    """Starts the app when called: after the test has put its links into the data directory."""
    with ExitStack() as stack:
        yield lambda: stack.enter_context(serve(tmp_path / "data"))


def serve_host_page(port: int, html: str) -> ThreadingHTTPServer:
    """The hotel's website: one page on its own origin (http://127.0.0.1:<port>)."""
    body = html.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_an_embedded_form_runs_a_graph_with_an_upload(tmp_path, host_port, app_url):
    host_origin = f"http://127.0.0.1:{host_port}"
    open_token, closed_token = make_links(tmp_path / "data", host_origin)
    base = app_url()
    host = serve_host_page(host_port, f"""<!doctype html><html><body><h1>Hotel Mar Azul</h1>
        <iframe id="checkin" src="{base}/embed/{open_token}" width="900" height="900"></iframe>
        <iframe id="internal" src="{base}/embed/{closed_token}" width="300" height="200"></iframe>
        </body></html>""")
    shots = Path(os.environ.get("MINDDOCS_E2E_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            context = browser.new_context(locale="es-ES", viewport={"width": 1300, "height": 1100},
                                          extra_http_headers={"Accept-Language": "es-ES,es;q=0.9"})
            page = context.new_page()
            page.set_default_timeout(20_000)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(host_origin + "/")
            frame = page.frame_locator("#checkin")
            frame.get_by_text("Check-in").first.wait_for()
            frame.get_by_role("button", name="Enviar").wait_for()  # Spanish browser, Spanish form
            page.screenshot(path=shots / "01-embedded-form.png")

            # When the visitor picks a file in the iframe and sends the form
            frame.locator("input[type=file]").set_input_files(
                files=[{"name": "reserva.md", "mimeType": "text/markdown", "buffer": DOCUMENT}])
            frame.locator('[data-testid="file-doc"]').filter(has_text="reserva.md").wait_for()
            frame.locator('[data-testid="share-send"]').click()

            # Then the iframe follows the run and shows the extracted text
            output = frame.locator('[data-testid="share-output"]')
            output.filter(has_text="Habitación 12").wait_for(timeout=90_000)
            assert "Reserva 4411" in output.inner_text()
            page.screenshot(path=shots / "02-embedded-result.png")

            # A reload of the iframe shows the same result again: the submission's secret is in its #fragment
            checkin = page.frame(name="checkin")
            assert "#r=" in checkin.url
            with page.expect_event("framenavigated", predicate=lambda f: f.name == "checkin"):
                checkin.evaluate("setTimeout(() => window.location.reload(), 50)")
            output.filter(has_text="Habitación 12").wait_for(timeout=30_000)
            assert frame.locator('[data-testid="share-send"]').count() == 0

            # And the link that allows no site was refused by the browser: its frame shows Chromium's error page
            assert page.frame(name="internal").url.startswith("chrome-error://")
            assert f"/embed/{open_token}" in page.frame(name="checkin").url
            browser.close()
            assert not errors, errors
    finally:
        host.shutdown()
