"""Run form, run detail (live node states and results), runs list and node catalogue."""

from __future__ import annotations

import asyncio
import io

import pytest
from nicegui.elements.upload_files import SmallFileUpload

from tests.graphs import graph, node, output  # noqa: F401
from tests.ui.test_library import LETTER, graph_id

pytestmark = pytest.mark.anyio


async def wait_finished(user, run_id: str) -> None:
    for _ in range(200):
        if user.services.runs.get(run_id).finished:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("run did not finish")


async def test_run_form_starts_a_run_and_the_detail_shows_the_result(user):
    gid = graph_id(user, LETTER)
    await user.open(f"/graphs/{gid}/run")
    await user.should_see("Ejecutar «Carta de bienvenida / Welcome letter»")
    user.find("start-run").click()
    await user.should_see("«Client name» es obligatorio.")  # required input left empty
    user.find(marker="field-client_name").type("Marta")
    user.find("start-run").click()
    await asyncio.sleep(0.1)
    run_id = user.services.runs.list()[0].id
    await wait_finished(user, run_id)
    await user.open(f"/runs/{run_id}")
    await user.should_see("completado")
    await user.should_see(marker="output-letter")
    await user.should_see("Estimado/a Marta:", retries=20)
    await user.should_see(marker="copy")


async def test_the_run_form_can_run_every_node_again_instead_of_reusing_results(user):
    gid = graph_id(user, LETTER)
    for reuse in (True, False):
        await user.open(f"/graphs/{gid}/run")
        user.find(marker="field-client_name").type("Marta")
        if not reuse:
            user.find(marker="reuse-results").click()  # on by default
        user.find("start-run").click()
        await asyncio.sleep(0.1)
        run_id = user.services.runs.list()[0].id
        await wait_finished(user, run_id)
        assert user.services.runs.get(run_id).options.get("no_cache", False) is (not reuse)


async def test_run_detail_updates_live(user):
    gid = graph_id(user, LETTER)
    version = user.services.graphs.latest(gid)
    user.services.executor.stop_worker()  # hold the run in 'queued' while the page is open
    run_id = user.services.runs.start(version.id, {"client_name": "Luis"})
    await user.open(f"/runs/{run_id}")
    await user.should_see("en cola")
    await user.should_see(marker="cancel-run")
    user.services.executor.start_worker(threads=2)
    await user.should_see("Estimado/a Luis:", retries=40)
    await user.should_see(marker="state-out")
    assert user.find(marker="state-out").elements.pop().text == "completado"


async def test_file_input_uploads_and_failed_node_shows_its_error(user):
    spec = {"format_version": 2, "meta": {"name": "Files"},
            "nodes": [{"id": "doc", "type": "io.input", "config": {"name": "doc", "kind": "file", "label": "Doc"}},
                      {"id": "text", "type": "io.input", "config": {"name": "data", "kind": "json",
                                                                       "label": "Data"}},
                      {"id": "out", "type": "io.output", "config": {"name": "file"}},
                      {"id": "out2", "type": "io.output", "config": {"name": "data"}}],
            "edges": [{"source": "doc", "source_port": "value", "target": "out", "target_port": "value"},
                      {"source": "text", "source_port": "value", "target": "out2", "target_port": "value"}]}
    gid = user.services.graphs.save(spec).graph_id
    await user.open(f"/graphs/{gid}/run")
    upload = user.find(marker="upload-doc").elements.pop()
    await upload.handle_uploads([SmallFileUpload("hola.txt", "text/plain", b"hola mundo")])
    await user.should_see("Subido hola.txt")
    user.find(marker="field-data").type('{"a": [1, 2')
    user.find("start-run").click()
    await user.should_see("no es JSON válido")
    user.find(marker="field-data").clear().type('{"a": [1, 2]}')
    user.find("start-run").click()
    await asyncio.sleep(0.1)
    run_id = user.services.runs.list()[0].id
    await wait_finished(user, run_id)
    await user.open(f"/runs/{run_id}")
    await user.should_see(marker="output-file")
    await user.should_see(marker="download")
    await user.should_see(marker="json-output")
    link = user.find(marker="download").elements.pop()
    response = await user.http_client.get(link.props["href"])
    assert response.content == b"hola mundo"


async def test_runs_list_filters_by_graph_and_state(user):
    gid = graph_id(user, LETTER)
    version = user.services.graphs.latest(gid)
    run_id = user.services.runs.start(version.id, {"client_name": "Eva"})
    await wait_finished(user, run_id)
    await user.open("/runs")
    await user.should_see(marker=f"run-{run_id}")
    user.find("filter-state").elements.pop().set_value("failed")
    await user.should_see(marker="no-runs")
    user.find("filter-state").elements.pop().set_value("succeeded")
    user.find("filter-graph").elements.pop().set_value(gid)
    await user.should_see(marker=f"run-{run_id}")


async def test_catalogue_lists_node_types_with_ports(user):
    await user.open("/nodes")
    await user.should_see("Catálogo de nodos")
    await user.should_see(marker="node-type-text.template")
    await user.should_see("Rellena una plantilla de texto con valores de los nodos anteriores.")  # es.toml
    user.find("search").type("join")
    await user.should_not_see(marker="node-type-text.template")
    await user.should_see(marker="node-type-text.join")


async def test_pdf_and_image_results_are_previewed(user):
    import pymupdf

    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "Contrato")
    pdf = doc.tobytes()
    pix = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 4, 4), False)
    png = pix.tobytes("png")
    spec = {"format_version": 2, "meta": {"name": "Previews"},
            "nodes": [{"id": "pdf", "type": "io.input", "config": {"name": "pdf", "kind": "document"}},
                      {"id": "img", "type": "io.input", "config": {"name": "img", "kind": "image"}},
                      {"id": "o1", "type": "io.output", "config": {"name": "pdf_out"}},
                      {"id": "o2", "type": "io.output", "config": {"name": "img_out"}}],
            "edges": [{"source": "pdf", "source_port": "value", "target": "o1", "target_port": "value"},
                      {"source": "img", "source_port": "value", "target": "o2", "target_port": "value"}]}
    version = user.services.graphs.save(spec)
    inputs = {"pdf": user.services.runs.upload(io.BytesIO(pdf), name="c.pdf", media_type="application/pdf").model_dump(),
              "img": user.services.runs.upload(io.BytesIO(png), name="p.png", media_type="image/png").model_dump()}
    run_id = user.services.runs.start(version.id, inputs)
    await wait_finished(user, run_id)
    await user.open(f"/runs/{run_id}")
    await user.should_see(marker="pdf-preview")
    await user.should_see(marker="image-preview")
