"""The secrets page, the secret picker and the template upload of the editor's settings panel."""

from __future__ import annotations

import hashlib
import json

import pytest
from nicegui.elements.upload_files import SmallFileUpload

from tests.graphs import edge, graph, node, output
from tests.ui.test_editor import emit

pytestmark = pytest.mark.anyio


async def test_secrets_page_creates_replaces_and_deletes_without_showing_values(user):
    await user.open("/secrets")
    await user.should_see("Aún no hay secretos.")
    await user.should_see(marker="nav-nav.secrets")

    # a name with a space is refused with a sentence, and the dialog stays open
    user.find("new-secret").click()
    user.find("secret-name").type("clave openai")
    user.find("secret-value").type("sk-first-4411")
    user.find("secret-save").click()
    await user.should_see("Use de 1 a 100 letras")
    user.find("secret-name").clear().type("clave_openai")
    user.find("secret-description").type("Cuenta de marketing")
    user.find("secret-save").click()
    await user.should_see(marker="secret-clave_openai")
    await user.should_see("Cuenta de marketing")
    await user.should_not_see("sk-first-4411")
    assert user.services.secret_reader.reveal(user.services.local_scope.workspace_id, "clave_openai") == "sk-first-4411"

    # the same name again is refused
    user.find("new-secret").click()
    user.find("secret-name").type("clave_openai")
    user.find("secret-value").type("other")
    user.find("secret-save").click()
    await user.should_see("Ya existe un secreto llamado 'clave_openai'")
    user.find("secret-cancel").click()

    user.find("replace-clave_openai").click()
    user.find("secret-value").type("sk-second-9920")
    user.find("secret-save").click()
    await user.should_see("Nuevo valor de 'clave_openai' guardado.")
    assert user.services.secret_reader.reveal(user.services.local_scope.workspace_id, "clave_openai") == "sk-second-9920"

    user.find("delete-clave_openai").click()
    await user.should_see("¿Eliminar el secreto 'clave_openai'?")
    user.find("confirm-delete").click()
    await user.should_see("Aún no hay secretos.")
    assert user.services.secrets.names() == set()


def prompt_graph() -> dict:
    nodes = [node("in", "io.input", name="tema", kind="text"),
             node("ask", "llm.prompt", template="{{ text }}", variables=["text"])]
    out, wire = output("out", "respuesta", "ask")
    return graph(nodes + [out], [edge("in", "ask", "value", "text"), wire], name="Preguntar")


async def test_secret_picker_lists_names_and_creates_a_new_secret(user):
    user.services.secrets.create("equipo", "sk-team-value-5510")
    version = user.services.graphs.save(prompt_graph())
    await user.open(f"/graphs/{version.graph_id}/edit")
    emit(user.find(marker="canvas").elements.pop(), "selection", {"nodes": ["ask"], "edges": []})
    await user.should_see(marker="config-api_key")
    picker = user.find(marker="secret-api_key").elements.pop()

    # names only: the browser never gets a value
    assert picker.options == {"equipo": "equipo", "+new": "Crear un secreto nuevo…"}
    assert "sk-team-value-5510" not in json.dumps(picker.props, default=str)
    picker.set_value("equipo")

    # "create a new secret…" opens the dialog; the new secret is chosen once saved
    picker.set_value("+new")
    await user.should_see(marker="secret-dialog")
    user.find("secret-name").type("nuevo")
    user.find("secret-value").type("sk-new-value-7781")
    user.find("secret-save").click()
    await user.should_not_see(marker="secret-dialog")
    assert picker.value == "nuevo" and "nuevo" in picker.options
    assert user.services.secret_reader.reveal(user.services.local_scope.workspace_id, "nuevo") == "sk-new-value-7781"

    user.find(marker="save").click()
    await user.should_see("Guardada la versión 2.")
    spec = user.services.graphs.latest(version.graph_id).spec
    assert next(n for n in spec["nodes"] if n["id"] == "ask")["config"]["api_key"] == "nuevo"
    assert "sk-new-value" not in json.dumps(spec) and "sk-team-value" not in json.dumps(spec)


async def test_secret_picker_flags_a_missing_secret_and_cancel_keeps_the_choice(user):
    spec = prompt_graph()
    spec["nodes"][1]["config"]["api_key"] = "borrado"
    version = user.services.graphs.save(spec)
    await user.open(f"/graphs/{version.graph_id}/edit")
    emit(user.find(marker="canvas").elements.pop(), "selection", {"nodes": ["ask"], "edges": []})
    await user.should_see("El secreto 'borrado' no existe; créelo o elija otro.")
    picker = user.find(marker="secret-api_key").elements.pop()
    assert picker.value == "borrado" and picker.options["borrado"] == "borrado (no existe)"

    picker.set_value("+new")
    user.find("secret-cancel").click()
    await user.should_not_see(marker="secret-dialog")
    assert picker.value == "borrado"


def fill_graph() -> dict:
    nodes = [node("in", "io.input", name="nombre", kind="text"),
             node("fill", "doc.fill_template", variables=["nombre"])]
    out, wire = output("out", "documento", "fill", "document")
    return graph(nodes + [out], [edge("in", "fill", "value", "nombre"), wire], name="Plantilla")


async def test_template_upload_stores_the_file_and_refuses_other_kinds(user):
    version = user.services.graphs.save(fill_graph())
    await user.open(f"/graphs/{version.graph_id}/edit")
    emit(user.find(marker="canvas").elements.pop(), "selection", {"nodes": ["fill"], "edges": []})
    await user.should_see(marker="config-template_file")
    await user.should_see("Ningún archivo subido")
    upload = user.find(marker="upload-template_file").elements.pop()
    assert upload.props["accept"] == ".docx,.html,.htm,.md,.markdown,.txt"

    # a picture is not a template: refused with the kinds accepted, and nothing is set
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    await upload.handle_uploads([SmallFileUpload("foto.png", "image/png", png)])
    await user.should_see("Este archivo es PNG, pero este ajuste acepta DOCX, HTML, TEXT.")
    await user.should_see("Ningún archivo subido")

    template = b"Hola {{ nombre }}, bienvenida."
    await upload.handle_uploads([SmallFileUpload("carta.md", "text/markdown", template)])
    await user.should_see("Archivo: carta.md")
    assert user.find(marker="file-problem-template_file").elements.pop().text == ""
    user.find(marker="save").click()
    await user.should_see("Guardada la versión 2.")

    # the saved graph holds the file's reference, and runs with it (no template input connected)
    saved = user.services.graphs.latest(version.graph_id)
    ref = next(n for n in saved.spec["nodes"] if n["id"] == "fill")["config"]["template_file"]
    assert ref["artifact"] == hashlib.sha256(template).hexdigest() and ref["name"] == "carta.md"
    run = user.services.runs.wait(user.services.runs.start(saved.id, {"nombre": "Ana"}), timeout_s=30)
    assert run.state == "succeeded", run
    document = run.outputs["documento"]
    assert user.services.artifacts.path(document["artifact"]).read_text() == "Hola Ana, bienvenida."

    user.find(marker="remove-template_file").click()
    await user.should_see("Ningún archivo subido")


async def test_empty_template_upload_is_a_clear_message(user):
    version = user.services.graphs.save(fill_graph())
    await user.open(f"/graphs/{version.graph_id}/edit")
    emit(user.find(marker="canvas").elements.pop(), "selection", {"nodes": ["fill"], "edges": []})
    await user.should_see(marker="config-template_file")
    upload = user.find(marker="upload-template_file").elements.pop()
    await upload.handle_uploads([SmallFileUpload("vacia.docx", "application/octet-stream", b"")])
    await user.should_see("El archivo está vacío (0 bytes); elija otro.")
    assert "template_file" not in (user.services.graphs.latest(version.graph_id).spec["nodes"][1]["config"])
