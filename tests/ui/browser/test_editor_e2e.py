"""End to end in real Chromium (tests/ui/browser/conftest.py): create the administrator, then build, save and
run a graph."""

from __future__ import annotations

import re

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.ui.browser.conftest import create_admin


def handle(page, node_id: str, port: str, kind: str):
    return page.locator(f'.vue-flow__node[data-id="{node_id}"] .vue-flow__handle.{kind}[data-handleid="{port}"]')


def wire(page, source: str, source_port: str, target: str, target_port: str) -> None:
    start = handle(page, source, source_port, "source").bounding_box()
    end = handle(page, target, target_port, "target").bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=12)
    page.mouse.up()


def connect(page, source: str, source_port: str, target: str, target_port: str, edges_after: int) -> None:
    """Wire two ports and wait for the edge. A settings change just made (a new port, the problems shown on the
    node) re-renders the node a moment later; a drag caught by that re-render is dropped, as it would be
    for a person, who then drags again — so the test does too, at most twice more."""
    for attempt in range(3):
        wire(page, source, source_port, target, target_port)
        try:
            page.locator(".vue-flow__edge").nth(edges_after - 1).wait_for(state="attached", timeout=5000)
            return
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise


def drop(page, type_id: str, x: int, y: int) -> None:
    canvas = page.locator(".vue-flow__pane")
    page.locator(f'[data-testid="palette-{type_id}"]').drag_to(canvas, target_position={"x": x, "y": y})


def test_build_save_run_in_chromium(page, shots):
    base = page.base_url
    page.goto(base + "/")
    create_admin(page)
    page.get_by_text("Biblioteca de grafos").first.wait_for()  # Spanish browser, Spanish UI
    page.screenshot(path=shots / "01-library.png")

    page.get_by_role("button", name="Nuevo grafo").click()
    page.get_by_label("Nombre").fill("Saludo")
    page.get_by_role("button", name="Guardar").click()
    page.wait_for_url(re.compile(r".*/graphs/\w+/edit"))
    page.locator(".vue-flow__pane").wait_for()
    page.screenshot(path=shots / "02-empty-editor.png")

    # Given three nodes dragged from the palette
    drop(page, "io.input", 80, 150)
    page.locator('.vue-flow__node[data-id="input_1"]').wait_for()
    drop(page, "text.template", 380, 150)
    page.locator('.vue-flow__node[data-id="template_1"]').wait_for()
    drop(page, "io.output", 700, 150)
    page.locator('.vue-flow__node[data-id="output_1"]').wait_for()
    page.screenshot(path=shots / "03-three-nodes.png")

    # When the template declares a variable and a text, its input port appears
    page.locator('.vue-flow__node[data-id="template_1"] .md-node-title').click()
    chips = page.locator(".q-field", has_text="Variables").locator("input")
    chips.fill("name")
    chips.press("Enter")
    page.locator(".q-field", has_text="Plantilla").locator("textarea").fill("Hola {{ name }}")
    handle(page, "template_1", "name", "target").wait_for()

    connect(page, "input_1", "value", "template_1", "name", edges_after=1)
    connect(page, "template_1", "text", "output_1", "value", edges_after=2)
    page.get_by_text("No hay problemas.").wait_for()
    page.screenshot(path=shots / "04-wired.png")

    # An incompatible connection is refused with a sentence
    drop(page, "json.get", 380, 450)
    drop(page, "text.join", 700, 450)
    page.locator('.vue-flow__node[data-id="join_1"]').wait_for()
    wire(page, "get_1", "value", "join_1", "text_1")
    page.get_by_text("Conexión rechazada").first.wait_for()
    page.screenshot(path=shots / "05-refused.png")
    assert page.locator(".vue-flow__edge").count() == 2

    # Undo restores a deleted node
    page.locator('.vue-flow__node[data-id="join_1"] .md-node-title').click()
    page.keyboard.press("Delete")
    page.locator('.vue-flow__node[data-id="join_1"]').wait_for(state="detached")
    page.keyboard.press("Control+z")
    page.locator('.vue-flow__node[data-id="join_1"]').wait_for()
    page.screenshot(path=shots / "06-undo.png")
    for node in ("join_1", "get_1"):
        page.locator(f'.vue-flow__node[data-id="{node}"] .md-node-title').click()
        page.keyboard.press("Delete")
        page.locator(f'.vue-flow__node[data-id="{node}"]').wait_for(state="detached")

    page.locator('[data-testid="save"]').click()
    page.get_by_text("Guardada la versión 2.").wait_for()

    # Then it runs from the editor: the run form opens in a dialog and the canvas follows the run live
    page.locator('[data-testid="run"]').click()
    dialog = page.locator(".q-dialog")
    dialog.locator("textarea").first.fill("Marta")
    page.screenshot(path=shots / "07-run-dialog.png")
    dialog.get_by_role("button", name="Ejecutar").click()
    for node in ("input_1", "template_1", "output_1"):
        page.locator(f'.vue-flow__node[data-id="{node}"] .md-state[data-state="succeeded"]').wait_for(timeout=60_000)
    assert re.search(r"/edit\?run=\w+$", page.url), page.url  # still the editor, following the run
    assert "completado · " in page.locator('.vue-flow__node[data-id="template_1"] .md-state').inner_text()
    page.screenshot(path=shots / "08-run-on-canvas.png")

    # Clicking a node shows what it produced; the run's own page has the result too
    page.locator('.vue-flow__node[data-id="output_1"] .md-node-title').click()
    page.get_by_text("Hola Marta").first.wait_for()
    page.screenshot(path=shots / "09-node-outputs.png")
    page.get_by_text(re.compile(r"^Ejecución \w{8}$")).click()
    page.wait_for_url(re.compile(r".*/runs/\w+$"))
    page.get_by_text("Hola Marta").first.wait_for(timeout=60_000)
    page.screenshot(path=shots / "10-run-succeeded.png")
    assert page.locator(".q-badge", has_text="completado").count() >= 1
