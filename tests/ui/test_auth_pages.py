"""The public account pages (ui/pages/auth.py) and the form POSTs behind them (app/auth_routes.py).

Pages through NiceGUI's simulated `user`; the forms as a browser sends them, through the same app's httpx
client (`user.http_client`, which keeps the cookies), reading the csrf token from the page and its cookie.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest
from nicegui.testing.user import User

from app.auth_routes import CSRF_COOKIE, safe_next
from app.policy import Actor
from app.web_auth import SESSION_COOKIE
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.ui.conftest import simulated_user

pytestmark = pytest.mark.anyio

PASSWORD = "Tejado-verde-4419"


@pytest.fixture
async def newcomer(ui_settings) -> AsyncIterator[User]:
    """Like the `user` fixture, on an installation nobody has set up: no administrator, nobody signed in."""
    async with simulated_user(ui_settings, signed_in=False) as user:
        yield user


async def form_token(client, path: str) -> str:
    """Open a form page as a browser does on its first visit: the csrf cookie it sets is the token in its
    hidden field."""
    client.cookies.delete(CSRF_COOKIE)
    page = await client.get(path)
    assert page.status_code == 200, page.text
    token = client.cookies.get(CSRF_COOKIE)
    assert token and token in page.text
    set_cookie = page.headers.get("set-cookie", "")
    assert "HttpOnly" in set_cookie and "SameSite=strict" in set_cookie.replace("Strict", "strict")
    return token


async def post(client, path: str, **form: str):
    return await client.post(path, data=form, follow_redirects=False)


def error_of(response) -> str | None:
    assert response.status_code == 303, response.text
    return parse_qs(urlsplit(response.headers["location"]).query).get("error", [None])[0]


def session_of(user):
    return user.services.accounts.session(user.http_client.cookies.get(SESSION_COOKIE, ""))


async def sign_out(user) -> None:
    user.http_client.cookies.clear()
    user.http_client.headers.pop("X-CSRF-Token", None)


async def test_setup_creates_the_administrator_and_signs_them_in(newcomer):
    user = newcomer
    client = user.http_client
    # Given a new installation: every page leads to /setup, /login too
    assert (await client.get("/runs")).headers["location"] == "/setup"
    assert (await client.get("/login")).headers["location"] == "/setup"
    await user.open("/setup")
    await user.should_see("Crear el administrador")
    token = await form_token(client, "/setup")

    # When the passwords differ, then when they match
    refused = await post(client, "/auth/setup", email="ana@example.com", name="Ana", password=PASSWORD,
                         password2=PASSWORD + "!", csrf=token)
    assert error_of(refused) == "mismatch"
    assert user.services.accounts.needs_setup()
    done = await post(client, "/auth/setup", email="Ana@Example.com", name="Ana", password=PASSWORD,
                      password2=PASSWORD, lang="en", csrf=token)

    # Then Ana is the administrator, signed in with an HttpOnly cookie, and /setup is gone
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert re.search(r"minddocs_session=[^;]+;.*HttpOnly", done.headers["set-cookie"], re.IGNORECASE)
    info = session_of(user)
    assert info.actor.label == "ana@example.com" and info.actor.is_admin
    assert not user.services.accounts.needs_setup()
    assert (await client.get("/setup")).headers["location"] == "/login"
    await user.open("/")
    await user.should_see(marker="user-menu")


async def test_a_wrong_password_comes_back_with_the_sentence(user):
    await sign_out(user)
    client = user.http_client
    token = await form_token(client, "/login?next=/runs")

    answer = await post(client, "/auth/login", email=ADMIN_EMAIL, password="not it", next="/runs", csrf=token)

    assert error_of(answer) == "bad_credentials"
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
    await user.open(answer.headers["location"])
    await user.should_see("El correo o la contraseña no son correctos")
    assert user.find("field-email").elements.pop().value == ADMIN_EMAIL  # typed again for them
    right = await post(client, "/auth/login", email=ADMIN_EMAIL, password=ADMIN_PASSWORD, next="/runs", csrf=token)
    assert right.headers["location"] == "/runs"
    assert session_of(user).actor.label == ADMIN_EMAIL


async def test_too_many_failures_are_throttled_even_with_the_right_password(user):
    await sign_out(user)
    client = user.http_client
    token = await form_token(client, "/login")
    limit = user.services.settings.auth.max_failures_per_account

    errors = [error_of(await post(client, "/auth/login", email=ADMIN_EMAIL, password=f"guess {i}", csrf=token))
              for i in range(limit)]
    right = await post(client, "/auth/login", email=ADMIN_EMAIL, password=ADMIN_PASSWORD, csrf=token)

    assert errors == ["bad_credentials"] * limit
    assert error_of(right) == "throttled"
    assert session_of(user) is None
    await user.open(right.headers["location"])
    await user.should_see("Demasiados intentos fallidos")


async def test_forms_without_the_csrf_token_are_refused(user):
    client = user.http_client
    signed_in = session_of(user)
    await sign_out(user)

    # no cookie and no field; a field that is not the cookie
    missing = await post(client, "/auth/login", email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
    token = await form_token(client, "/login")
    forged = await post(client, "/auth/login", email=ADMIN_EMAIL, password=ADMIN_PASSWORD, csrf=token[::-1])

    assert error_of(missing) == error_of(forged) == "csrf"
    assert session_of(user) is None
    await user.open(forged.headers["location"])
    await user.should_see("El formulario había caducado")

    # signing out needs the session's own token: without it the session goes on
    new = user.services.accounts.sign_in_user(signed_in.actor.user_id, ip="127.0.0.1")
    client.cookies.set(SESSION_COOKIE, new.cookie_value)
    assert error_of(await post(client, "/auth/logout", csrf=token)) == "csrf"
    assert session_of(user) is not None
    out = await post(client, "/auth/logout", csrf=new.csrf_token)
    assert out.headers["location"] == "/login"
    assert user.services.accounts.session(new.cookie_value) is None


@pytest.mark.parametrize("next_value, lands", [
    ("/runs?state=failed", "/runs?state=failed"),
    ("//evil.example/x", "/"),
    ("https://evil.example/", "/"),
    ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("/runs\r\nSet-Cookie: x=1", "/"),
    ("", "/"),
])
async def test_sign_in_goes_on_only_to_a_path_of_this_site(user, next_value, lands):
    await sign_out(user)
    token = await form_token(user.http_client, "/login")

    answer = await post(user.http_client, "/auth/login", email=ADMIN_EMAIL, password=ADMIN_PASSWORD,
                        next=next_value, csrf=token)

    assert answer.headers["location"] == lands
    assert safe_next(next_value) == lands


async def test_registration_is_closed_by_default_and_open_when_set(user):
    await sign_out(user)
    client = user.http_client
    await user.open("/register")
    await user.should_see("Esta instalación no admite cuentas nuevas")
    token = await form_token(client, "/login")

    closed = await post(client, "/auth/register", email="eva@example.com", password=PASSWORD, password2=PASSWORD,
                        csrf=token)

    assert error_of(closed) == "registration_closed"
    assert user.services.accounts_repo.user_by_email("eva@example.com") is None

    user.services.settings.auth.registration = "open"
    await user.open("/login")
    await user.should_see(marker="register-link")
    taken = await post(client, "/auth/register", email=ADMIN_EMAIL, password=PASSWORD, password2=PASSWORD,
                       csrf=token)
    weak = await post(client, "/auth/register", email="eva@example.com", password="short", password2="short",
                      csrf=token)
    made = await post(client, "/auth/register", email="eva@example.com", name="Eva", password=PASSWORD,
                      password2=PASSWORD, next="/runs", csrf=token)
    assert (error_of(taken), error_of(weak)) == ("email_taken", "weak_password")
    assert made.headers["location"] == "/runs"
    assert session_of(user).actor.label == "eva@example.com"
    await user.open(f"/register?{urlsplit(weak.headers['location']).query}")
    await user.should_see(f"al menos {user.services.settings.auth.min_password_length} caracteres")


async def test_a_reset_link_sets_a_new_password_and_signs_in_once(user):
    admin = user.services.scope_for(Actor(user.account.id, label=ADMIN_EMAIL, is_admin=True))
    bea = user.services.accounts.create_user("bea@example.com", PASSWORD)
    reset = parse_qs(urlsplit(user.services.password_reset.admin_link(admin, bea.id)).query)["token"][0]
    await sign_out(user)
    client = user.http_client
    await user.open(f"/reset?token={reset}")
    await user.should_see(marker="reset-form")
    token = await form_token(client, f"/reset?token={reset}")
    new = "Nuevo-tejado-7731"

    mismatch = await post(client, "/auth/reset", token=reset, password=new, password2=new + "x", csrf=token)
    done = await post(client, "/auth/reset", token=reset, password=new, password2=new, csrf=token)
    again = await post(client, "/auth/reset", token=reset, password=new, password2=new, csrf=token)

    assert error_of(mismatch) == "mismatch"
    assert done.headers["location"] == "/" and session_of(user) is not None
    assert session_of(user).actor.label == "bea@example.com"
    assert error_of(again) == "token_invalid"
    await user.open(again.headers["location"])
    await user.should_see("Este enlace ya no es válido")
    wrong = await post(client, "/auth/login", email="bea@example.com", password=PASSWORD, csrf=token)
    assert error_of(wrong) == "bad_credentials"


async def test_forgot_password_answers_the_same_for_any_address(user):
    await sign_out(user)
    token = await form_token(user.http_client, "/forgot")

    known = await post(user.http_client, "/auth/forgot", email=ADMIN_EMAIL, csrf=token)
    unknown = await post(user.http_client, "/auth/forgot", email="nobody@example.com", csrf=token)

    assert known.headers["location"] == unknown.headers["location"] == "/forgot?sent=1"
    await user.open("/forgot?sent=1")
    await user.should_see(marker="forgot-sent")


async def test_an_invitation_is_accepted_by_registering_with_its_link(user):
    admin = user.services.scope_for(Actor(user.account.id, label=ADMIN_EMAIL))
    team = user.services.workspaces.create(admin, "Despacho")
    invite = user.services.workspaces.invite(user.services.scope_for(admin.actor, team.id), team.id,
                                             "carla@example.com", "runner")
    invitation = parse_qs(urlsplit(invite.link).query)["token"][0]
    await sign_out(user)
    client = user.http_client

    await user.open(f"/invite?token={invitation}")
    await user.should_see("Le invitan al espacio de trabajo 'Despacho' como ejecutor.")
    await user.should_see(marker="invite-register")
    await user.open(f"/register?token={invitation}")
    assert user.find("field-email").elements.pop().value == "carla@example.com"
    token = await form_token(client, f"/register?token={invitation}")
    made = await post(client, "/auth/register", token=invitation, email="other@example.com", name="Carla",
                      password=PASSWORD, password2=PASSWORD, csrf=token)

    assert made.headers["location"] == "/"  # registration is closed, but the invitation lets Carla in
    info = session_of(user)
    assert info.actor.label == "carla@example.com" and info.workspace_id == team.id
    assert info.workspace_id in user.services.scope_for(info.actor).roles
    await user.open(f"/invite?token={invitation}")
    await user.should_see("Esta invitación ya se aceptó")


async def test_a_signed_in_person_accepts_an_invitation_with_a_button(user):
    admin = user.services.scope_for(Actor(user.account.id, label=ADMIN_EMAIL))
    team = user.services.workspaces.create(admin, "Clínica")
    dario = user.services.accounts.create_user("dario@example.com", PASSWORD)
    invite = user.services.workspaces.invite(user.services.scope_for(admin.actor, team.id), team.id,
                                             "dario@example.com", "viewer")
    await sign_out(user)
    token = await form_token(user.http_client, "/login")
    await post(user.http_client, "/auth/login", email="dario@example.com", password=PASSWORD, csrf=token)

    await user.open(urlsplit(invite.link).path + "?" + urlsplit(invite.link).query)
    user.find("invite-accept").click()

    await user.should_see("Biblioteca de grafos")
    assert user.services.scope_for(Actor(dario.id), team.id).role().value == "viewer"
    assert session_of(user).workspace_id == team.id


async def test_the_workspace_switch_needs_the_session_token_and_membership(user):
    info = session_of(user)
    admin = user.services.scope_for(info.actor)
    team = user.services.workspaces.create(admin, "Hotel")
    other = user.services.accounts.create_user("fran@example.com", PASSWORD)
    foreign = user.services.accounts_repo.personal_workspace(other.id)
    client = user.http_client

    forged = await post(client, "/auth/workspace", workspace_id=team.id, next="/runs", csrf="nope")
    outside = await post(client, "/auth/workspace", workspace_id=foreign, next="/runs", csrf=info.csrf_token)
    moved = await post(client, "/auth/workspace", workspace_id=team.id, next="/runs", csrf=info.csrf_token)

    assert (error_of(forged), error_of(outside)) == ("csrf", "workspace")
    assert moved.headers["location"] == "/runs"
    assert session_of(user).workspace_id == team.id


async def test_an_english_browser_gets_the_sign_in_page_in_english(user):
    await sign_out(user)
    user.http_client.headers["accept-language"] = "en-GB,en;q=0.9"
    await user.open("/login?error=bad_credentials")
    await user.should_see("Sign in")
    await user.should_see("The email or the password is wrong.")
    await user.should_see(marker="language")


async def test_each_single_sign_on_provider_is_a_link_that_keeps_next(user):
    from app.settings import OidcProvider

    user.services.settings.auth.oidc = [OidcProvider(name="staff", label="Staff", issuer="https://sso.example.com",
                                                     client_id="minddocs", client_secret="s")]
    await sign_out(user)
    await user.open("/login?next=/runs")
    button = user.find("oidc-staff").elements.pop()
    assert button.props["href"] == "/auth/oidc/staff/login?next=%2Fruns"
    await user.should_see("Entrar con Staff")


async def test_cookies_are_https_only_when_minddocs_is_served_over_https(user):
    user.services.settings.notifications.public_url = "https://docs.example.com"
    await sign_out(user)
    page = await user.http_client.get("/login")
    token = re.search(r"minddocs_csrf=([^;]+);", page.headers["set-cookie"]).group(1)
    user.http_client.cookies.set(CSRF_COOKIE, token)  # the browser would send it back over https

    answer = await post(user.http_client, "/auth/login", email=ADMIN_EMAIL, password=ADMIN_PASSWORD, csrf=token)

    assert "; secure" in page.headers["set-cookie"].lower()
    assert answer.headers["location"] == "/" and "; secure" in answer.headers["set-cookie"].lower()
