"""Sign-in in real Chromium: the native forms post, the session cookie is HttpOnly, sign-out ends it.

A fresh installation (no administrator yet) sends the first visitor to /setup; the administrator created there
lands in the library signed in, signs out from the user menu and signs in again.
"""

from __future__ import annotations

import re

EMAIL, PASSWORD = "ana@example.com", "Tejado-verde-4419"


def test_setup_sign_out_and_sign_in_again(page, shots):
    base = page.base_url
    page.goto(base + "/graphs")
    page.wait_for_url(re.compile(r".*/setup"))
    page.get_by_text("Crear el administrador").first.wait_for()
    page.screenshot(path=shots / "01-setup.png")

    # When the first visitor fills in the setup form (two different passwords first)
    page.locator('input[name="email"]').fill(EMAIL)
    page.locator('input[name="name"]').fill("Ana")
    page.locator('input[name="password"]').fill(PASSWORD)
    page.locator('input[name="password2"]').fill(PASSWORD + "x")
    page.get_by_role("button", name="Crear administrador").click()
    page.get_by_text("Las dos contraseñas son distintas").wait_for()
    page.locator('input[name="password"]').fill(PASSWORD)
    page.locator('input[name="password2"]').fill(PASSWORD)
    page.get_by_role("button", name="Crear administrador").click()

    # Then they land in the library, signed in with an HttpOnly cookie
    page.wait_for_url(base + "/")
    page.get_by_text("Biblioteca de grafos").first.wait_for()
    session = next(c for c in page.context.cookies() if c["name"] == "minddocs_session")
    assert session["httpOnly"]
    page.screenshot(path=shots / "02-signed-in.png")

    # Sign out from the user menu: back at the sign-in page, and the library needs signing in again
    page.get_by_role("button", name="Menú de usuario").click()
    page.get_by_role("button", name="Cerrar sesión").click()
    page.wait_for_url(re.compile(r".*/login"))
    assert not [c for c in page.context.cookies() if c["name"] == "minddocs_session"]
    page.goto(base + "/runs")
    page.wait_for_url(re.compile(r".*/login\?next=(%2F|/)runs"))
    page.screenshot(path=shots / "03-signed-out.png")

    # A wrong password is refused with a sentence; the right one opens the page asked for
    page.locator('input[name="email"]').fill(EMAIL)
    page.locator('input[name="password"]').fill("not-the-password")
    page.locator('input[name="password"]').press("Enter")
    page.get_by_text("El correo o la contraseña no son correctos").wait_for()
    page.locator('input[name="password"]').fill(PASSWORD)
    page.get_by_role("button", name="Iniciar sesión").click()
    page.wait_for_url(base + "/runs")
    page.get_by_role("button", name="Menú de usuario").wait_for()
    page.screenshot(path=shots / "04-signed-in-again.png")

    # The workspace switcher's forms post from inside the menu and come back to the same page
    page.get_by_role("button", name="Personal").click()
    with page.expect_request(lambda r: r.url.endswith("/auth/workspace") and r.method == "POST") as posted:
        page.locator(".q-menu").get_by_role("button", name="Personal").click()
    assert "csrf=" in posted.value.post_data and "next=%2Fruns" in posted.value.post_data
    page.wait_for_url(base + "/runs")
    page.get_by_text("Ejecuciones").first.wait_for()
