"""The marketplace in real Chromium: find an official template, install it, run the installed graph.

Needs what test_editor_e2e.py needs (Debian's chromium, playwright). The server here loads the sample graphs,
so the official templates exist; the first visitor creates the administrator on /setup.
"""

from __future__ import annotations

import re

import pytest

from tests.ui.browser.conftest import create_admin, serve


@pytest.fixture
def server(tmp_path):
    """With the sample graphs loaded, so the official templates exist."""
    with serve(tmp_path / "data", samples=True) as url:
        yield url


def test_install_an_official_template_and_run_it(page, shots):
    base = page.base_url
    page.goto(base + "/marketplace")
    create_admin(page)
    page.goto(base + "/marketplace")

    # Given the official templates, searched in Spanish
    page.get_by_text("Contratos en masa").first.wait_for()
    page.screenshot(path=shots / "01-marketplace.png")
    page.get_by_label("Buscar plantillas").fill("bienvenida")
    page.get_by_text("Contratos en masa").wait_for(state="detached")
    page.get_by_role("link", name="Carta de bienvenida").click()
    page.wait_for_url(re.compile(r".*/marketplace/\w+$"))
    page.locator("img[src^='data:image/svg+xml']").wait_for()
    page.screenshot(path=shots / "02-listing.png")

    # When it is installed into the personal workspace
    page.get_by_role("button", name="Instalar").click()
    page.get_by_text("Instalada como un grafo nuevo.").wait_for()
    page.get_by_role("link", name="Abrir el grafo").click()
    page.wait_for_url(re.compile(r".*/graphs/\w+/edit"))
    page.locator('.vue-flow__node[data-id="letter"]').wait_for()
    page.screenshot(path=shots / "03-installed-graph.png")

    # Then the installed graph runs
    page.locator('[data-testid="run"]').click()
    dialog = page.locator(".q-dialog")
    dialog.locator("textarea").first.fill("Marta")
    dialog.get_by_role("button", name="Ejecutar").click()
    page.locator('.vue-flow__node[data-id="out"] .md-state[data-state="succeeded"]').wait_for(timeout=60_000)
    page.locator('.vue-flow__node[data-id="out"] .md-node-title').click()
    page.get_by_text("Estimado/a Marta").first.wait_for()
    page.screenshot(path=shots / "04-run-succeeded.png")
