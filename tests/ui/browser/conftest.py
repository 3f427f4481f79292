"""Real Chromium against the real app: `minddocs serve` in a subprocess (embedded worker, SQLite), Debian's
chromium driven by Playwright-python (never `playwright install`). Screenshots of each step go to
$MINDDOCS_E2E_SCREENSHOTS, or the test's tmp dir (never the repository)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = os.environ.get("MINDDOCS_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
ADMIN = ("ana@example.com", "Tejado-verde-4419")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(data_dir: Path, *, samples: bool = False, port: int | None = None) -> Iterator[str]:
    """`minddocs serve` on a free port with its own data directory; yields its base URL once it answers."""
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if k != "MINDDOCS_REDIS_URL"}  # embedded worker
    env.update(MINDDOCS_DATA_DIR=str(data_dir), MINDDOCS_LOAD_SAMPLES="true" if samples else "false")
    proc = subprocess.Popen([sys.executable, "-c", "from app.cli import main; main()", "serve", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(proc.stdout.read().decode())
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture
def server(tmp_path) -> Iterator[str]:
    with serve(tmp_path / "data") as url:
        yield url


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("MINDDOCS_E2E_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(locale="es-ES", viewport={"width": 1600, "height": 1000},
                                      extra_http_headers={"Accept-Language": "es-ES,es;q=0.9"})
        page = context.new_page()
        page.set_default_timeout(20_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.base_url = server  # type: ignore[attr-defined]
        yield page
        browser.close()
        assert not errors, errors


def create_admin(page, email: str = ADMIN[0], password: str = ADMIN[1]) -> None:
    """On a fresh server every page leads to /setup: create the administrator there, as a person would."""
    page.wait_for_url(re.compile(r".*/setup"))
    page.locator('input[name="email"]').fill(email)
    page.locator('input[name="name"]').fill("Ana")
    page.locator('input[name="password"]').fill(password)
    page.locator('input[name="password2"]').fill(password)
    page.get_by_role("button", name="Crear administrador").click()
    page.wait_for_url(lambda url: "/setup" not in url)
