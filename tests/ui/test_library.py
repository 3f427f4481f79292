"""Graph library page: list, search, create, rename, duplicate, delete, import."""

from __future__ import annotations

import json

import pytest
from nicegui import ui

from tests.conftest import SAMPLES

pytestmark = pytest.mark.anyio

LETTER = "Carta de bienvenida / Welcome letter"


def graph_id(user, name: str) -> str:
    return next(g.id for g in user.services.graphs.list() if g.name == name)


async def test_library_lists_and_searches_the_sample_graphs(user):
    await user.open("/")
    await user.should_see("Biblioteca de grafos")
    await user.should_see(LETTER)
    user.find("search").type("zzz-nothing")
    await user.should_see("Aún no hay grafos")
    await user.should_not_see(LETTER)
    user.find("search").clear().type("carta")
    await user.should_see(LETTER)


async def test_create_opens_the_editor_of_a_new_graph(user):
    await user.open("/")
    user.find("new-graph").click()
    user.find("name-input").clear().type("Contrato de alquiler")
    user.find("name-ok").click()
    new_id = graph_id(user, "Contrato de alquiler")
    await user.should_see("Editor — Contrato de alquiler")
    assert user.back_history[-1] == f"/graphs/{new_id}/edit"


async def test_rename_duplicate_and_delete_with_confirmation(user):
    await user.open("/")
    gid = graph_id(user, LETTER)
    user.find(f"rename-{gid}").click()
    user.find("name-input").clear().type("Carta nueva")
    user.find("name-ok").click()
    await user.should_see(marker=f"graph-{gid}")
    await user.should_see("Renombrado a «Carta nueva».")
    assert user.services.graphs.get(gid).latest_version == 2  # renaming saves a new version

    user.find(f"duplicate-{gid}").click()
    copy_id = graph_id(user, "Carta nueva (copia)")
    await user.should_see(marker=f"graph-{copy_id}")

    user.find(f"delete-{copy_id}").click()
    await user.should_see("No se puede deshacer")
    user.find("confirm-delete").click()
    await user.should_not_see(marker=f"graph-{copy_id}")
    assert all(g.id != copy_id for g in user.services.graphs.list())


async def test_delete_removes_the_runs_too(user):
    gid = graph_id(user, LETTER)
    version = user.services.graphs.latest(gid)
    run_id = user.services.runs.start(version.id, {"client_name": "Ana"})
    user.services.runs.wait(run_id, timeout_s=30)
    await user.open("/")
    user.find(f"delete-{gid}").click()
    user.find("confirm-delete").click()
    await user.should_not_see(marker=f"graph-{gid}")
    assert user.services.runs.list() == []


async def test_import_json(user):
    await user.open("/")
    spec = json.loads((SAMPLES / "welcome_letter.json").read_text())
    spec["meta"]["name"] = "Importado"
    upload = user.find(ui.upload).elements.pop()
    from nicegui.elements.upload_files import SmallFileUpload

    await upload.handle_uploads([SmallFileUpload("g.json", "application/json", json.dumps(spec).encode())])
    await user.should_see("Importado")
    await user.should_see("Importado «Importado».")


async def test_import_rejects_a_file_that_is_not_a_graph(user):
    await user.open("/")
    upload = user.find(ui.upload).elements.pop()
    from nicegui.elements.upload_files import SmallFileUpload

    await upload.handle_uploads([SmallFileUpload("g.json", "application/json", b'{"nodes": 3}')])
    await user.should_see("El archivo no es un grafo")
