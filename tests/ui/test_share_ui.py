"""The share dialog of editors and the public share-link pages, through NiceGUI's simulated user."""

from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.elements.upload_files import SmallFileUpload

from app.web_auth import SESSION_COOKIE
from tests.app.test_share_links import echo_graph, extract_graph

pytestmark = pytest.mark.anyio


def saved(user, spec: dict) -> str:
    return user.services.graphs.save(spec).graph_id


async def test_an_editor_creates_lists_and_turns_off_links_in_the_dialog(user):
    from ui.components.share_dialog import share_button

    graph_id = saved(user, echo_graph("Recepción"))

    @ui.page("/test/share/{graph_id}")
    def host(graph_id: str) -> None:  # the lead places the button in the editor/library; this page holds it
        share_button(graph_id)

    await user.open(f"/test/share/{graph_id}")
    user.find(marker="share").click()
    await user.should_see("Todavía no hay enlaces.")
    user.find(marker="share-name").type("Check-in")
    user.find(marker="share-origins").type("https://hotel.example/\nftp://nope")
    user.find(marker="share-create").click()
    await user.should_see("'ftp://nope' is not a usable site address")
    user.find(marker="share-origins").clear().type("https://hotel.example/")
    user.find(marker="share-password").type("hotel-2026")
    user.find(marker="share-create").click()
    await user.should_see("Enlace creado.")
    view = user.services.share_links.list(user.services.local_scope, graph_id)[0]
    assert view.link.allowed_origins == ["https://hotel.example"] and view.link.password_hash
    await user.should_see(view.url)
    await user.should_see("contraseña")
    user.find(marker="share-revoke").click()
    await user.should_see("Enlace desactivado.")
    await user.should_see("desactivado")
    states = {v.link.id: v.link.state() for v in user.services.share_links.list(user.services.local_scope, graph_id)}
    assert states == {view.link.id: "revoked"}


async def test_a_visitor_sends_the_public_form_and_sees_the_result(user):
    graph_id = saved(user, echo_graph("Recepción"))
    created = user.services.share_links.create(user.services.local_scope, graph_id, name="Registro de llegada")
    user.http_client.cookies.delete(SESSION_COOKIE)  # nobody signed in
    await user.open(f"/s/{created.token}")
    await user.should_see("Registro de llegada")
    await user.should_see("Your note *")
    user.find(marker="share-send").click()
    await user.should_see("«Your note» es obligatorio.")  # run_form's texts, in Spanish
    user.find(marker="field-note").type("Llego a las 22:00")
    user.find(marker="share-send").click()
    await user.should_see("Hecho.", retries=100)
    await user.should_see("Llego a las 22:00")
    assert user.services.share_links.repo.get(created.link.id).runs_count == 1


async def test_a_visitor_uploads_a_file_in_english(user):
    graph_id = saved(user, extract_graph())
    created = user.services.share_links.create(user.services.local_scope, graph_id, name="Upload")
    user.http_client.cookies.delete(SESSION_COOKIE)
    await user.open(f"/embed/{created.token}?lang=en")
    await user.should_see("Send")
    upload = user.find(marker="upload-doc").elements.pop()
    assert upload.props["accept"].startswith(".pdf")
    await upload.handle_uploads([SmallFileUpload("reserva.md", "text/markdown", b"# Room 12\n\nSea view.")])
    await user.should_see("Ready to send: reserva.md")
    user.find(marker="share-send").click()
    await user.should_see("Done.", retries=200)
    await user.should_see("Sea view.")


async def test_password_and_withheld_outputs_on_the_public_page(user):
    graph_id = saved(user, echo_graph())
    created = user.services.share_links.create(user.services.local_scope, graph_id, password="hotel-2026",
                                               show_outputs=False)
    user.http_client.cookies.delete(SESSION_COOKIE)
    await user.open(f"/s/{created.token}?lang=en")
    await user.should_see("This form is protected by a password.")
    await user.should_not_see(marker="share-send")
    user.find(marker="share-password").type("wrong")
    user.find(marker="share-password-continue").click()
    await user.should_see("The password is not right; try again.", retries=50)  # argon2 takes its time
    user.find(marker="share-password").clear().type("hotel-2026")
    user.find(marker="share-password-continue").click()
    await user.should_see(marker="field-note", retries=50)
    user.find(marker="field-note").type("for the owner")
    user.find(marker="share-send").click()
    await user.should_see("Thank you: your form was sent.", retries=100)
    await user.should_not_see("for the owner", marker="share-output")


async def test_links_that_do_not_work_answer_with_a_page_and_a_status(user):
    graph_id = saved(user, echo_graph())
    created = user.services.share_links.create(user.services.local_scope, graph_id)
    user.services.share_links.revoke(user.services.local_scope, created.link.id)
    gone = await user.http_client.get(f"/s/{created.token}", headers={"accept-language": "en"})
    assert gone.status_code == 410 and "This link was turned off by its owner." in gone.text
    unknown = await user.http_client.get("/embed/" + "x" * 43, headers={"accept-language": "es"})
    assert unknown.status_code == 404 and "Este enlace no existe." in unknown.text
    assert unknown.headers["content-security-policy"] == "frame-ancestors 'none'"
