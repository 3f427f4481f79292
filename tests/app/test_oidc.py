"""Single sign-on: the whole authorization-code flow between a real OpenID provider started here
(tests/app/oidc_provider.py, authlib's server side) and MindDocs served by uvicorn, driven by an httpx client
that follows the redirects across both servers with one cookie jar, like a browser. Nothing is mocked."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import httpx
import pytest

from app.accounts import actor_for
from app.oidc import oidc_buttons
from app.services import Services
from app.web_auth import SESSION_COOKIE
from storage.identities import IdentityRepository
from tests.app.live_server import live_server
from tests.app.oidc_provider import OidcTestProvider, oidc_provider
from tests.conftest import make_settings

CLIENT_ID = "minddocs-test"
CLIENT_SECRET = "a-long-client-secret-for-the-test-provider"
NAME = "testidp"


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcTestProvider]:
    with oidc_provider() as started:
        yield started


@pytest.fixture(scope="module")
def minddocs(provider: OidcTestProvider, tmp_path_factory) -> Iterator[tuple[str, Services]]:
    """MindDocs with the test provider configured (open registration, example.org only); its URL and a
    Services on the same database to look at what the sign-in stored."""
    settings = make_settings(tmp_path_factory.mktemp("oidc") / "data", auth={
        "registration": "open",
        "oidc": [{"name": NAME, "label": "Test IdP", "issuer": provider.issuer, "client_id": CLIENT_ID,
                  "client_secret": CLIENT_SECRET, "allowed_domains": ["example.org"]}]})
    with live_server(settings) as url:
        provider.add_client(CLIENT_ID, CLIENT_SECRET, f"{url}/auth/oidc/{NAME}/callback")
        with Services(settings) as services:
            yield url, services


@pytest.fixture(autouse=True)
def person(provider: OidcTestProvider) -> dict:
    """A new person at the provider for each test (verified example.org address); the knobs reset."""
    tag = uuid.uuid4().hex[:8]
    provider.user = {"sub": f"sub-{tag}", "email": f"Ana.{tag}@Example.org", "email_verified": True,
                     "name": f"Ana {tag}"}
    provider.forge_signature = provider.deny = False
    provider.userinfo_only = set()
    return provider.user


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


def through_callback(browser: httpx.Client, start: str, *, tamper_state: bool = False) -> httpx.Response:
    """GET `start` and follow the redirects between MindDocs' /auth/oidc routes and the provider; the last
    response of MindDocs (the callback's redirect, or a refusal before it), not followed."""
    response = browser.get(start)
    while response.is_redirect:
        target = urljoin(str(response.url), response.headers["location"])
        parts = urlsplit(target)
        if parts.path.startswith("/authorize"):
            pass  # to the provider
        elif parts.path.endswith("/callback"):
            if tamper_state:
                query = parse_qs(parts.query)
                query["state"] = ["forged-" + query["state"][0]]
                target = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
            return browser.get(target)
        else:
            return response
        response = browser.get(target)
    return response


def login_url(base: str, next_path: str | None = None, name: str = NAME) -> str:
    return f"{base}/auth/oidc/{name}/login" + (f"?{urlencode({'next': next_path})}" if next_path else "")


def refusal(response: httpx.Response) -> str | None:
    """The error code of a redirect to /login?error=<code>, else None."""
    assert response.status_code == 303, response.text
    parts = urlsplit(response.headers["location"])
    return parse_qs(parts.query).get("error", [None])[0] if parts.path == "/login" else None


def test_the_login_page_gets_one_button_per_provider(minddocs) -> None:
    _, services = minddocs
    assert oidc_buttons(services.settings) == [(NAME, "Test IdP")]


def test_full_code_flow_signs_in_creates_the_user_and_links_the_identity(minddocs, provider, person,
                                                                         browser) -> None:
    url, services = minddocs
    assert browser.get(f"{url}/api/v1/graphs").status_code == 401

    # When: the person signs in with the provider and asks to come back to the graph list
    callback = through_callback(browser, login_url(url, "/api/v1/graphs"))

    # Then: the provider saw a code request with state, nonce and a S256 PKCE challenge
    seen = provider.authorize_requests[-1]
    assert seen["response_type"] == "code" and seen["client_id"] == CLIENT_ID
    assert seen["state"] and seen["nonce"] and seen["code_challenge_method"] == "S256" and seen["code_challenge"]
    assert seen["redirect_uri"] == f"{url}/auth/oidc/{NAME}/callback"
    # ...MindDocs set the session cookie and sends the person to where they wanted to go
    assert callback.status_code == 303, callback.text
    assert callback.headers["location"] == "/api/v1/graphs"
    assert browser.cookies.get(SESSION_COOKIE)
    assert browser.get(urljoin(url, callback.headers["location"])).status_code == 200
    # ...a user with the provider's (lower-cased) email and name exists, linked to the provider's subject
    user = services.accounts_repo.user_by_email(person["email"].lower())
    assert user is not None and user.name == person["name"]
    assert IdentityRepository(services.db).user_for(NAME, person["sub"]) == user.id
    info = services.accounts.session(browser.cookies.get(SESSION_COOKIE))
    assert info is not None and info.actor.user_id == user.id

    # When: the same person signs in again from another browser, Then: the same account
    with httpx.Client(timeout=30) as other:
        again = through_callback(other, login_url(url))
        assert again.headers["location"] == "/"
        assert services.accounts.session(other.cookies.get(SESSION_COOKIE)).actor.user_id == user.id

    # When: they sign in again in the first browser, Then: its previous session is ended, not left behind
    first = browser.cookies.get(SESSION_COOKIE)
    through_callback(browser, login_url(url))
    assert browser.cookies.get(SESSION_COOKIE) != first and services.accounts.session(first) is None


def test_email_sent_only_by_userinfo_is_used(minddocs, provider, person, browser) -> None:
    url, services = minddocs
    provider.userinfo_only = {"email", "email_verified"}
    callback = through_callback(browser, login_url(url))
    assert refusal(callback) is None and browser.cookies.get(SESSION_COOKIE)
    assert IdentityRepository(services.db).user_for(NAME, person["sub"]) is not None


def test_a_forged_state_is_refused(minddocs, person, browser) -> None:
    url, services = minddocs
    callback = through_callback(browser, login_url(url), tamper_state=True)
    assert refusal(callback) == "sso_state"
    assert browser.cookies.get(SESSION_COOKIE) is None
    assert services.accounts_repo.user_by_email(person["email"].lower()) is None


def test_a_callback_without_a_login_in_this_browser_is_refused(minddocs, browser) -> None:
    url, _ = minddocs
    with httpx.Client(timeout=30) as attacker:  # the attacker starts a sign-in and hands the victim its code
        stolen = attacker.get(login_url(url))
        answer = attacker.get(stolen.headers["location"])
    assert answer.status_code == 302 and "/callback?" in answer.headers["location"]
    assert refusal(browser.get(answer.headers["location"])) == "sso_state"
    assert browser.cookies.get(SESSION_COOKIE) is None


def test_an_email_domain_that_is_not_allowed_is_refused(minddocs, provider, person, browser) -> None:
    url, services = minddocs
    provider.user = {**person, "email": f"mallory.{uuid.uuid4().hex[:6]}@example.com"}
    callback = through_callback(browser, login_url(url, "/graphs"))
    assert refusal(callback) == "sso_domain"
    assert parse_qs(urlsplit(callback.headers["location"]).query)["next"] == ["/graphs"]  # kept for a retry
    assert browser.cookies.get(SESSION_COOKIE) is None
    assert services.accounts_repo.user_by_email(provider.user["email"]) is None
    assert IdentityRepository(services.db).user_for(NAME, person["sub"]) is None


def test_an_id_token_with_a_forged_signature_is_refused(minddocs, provider, person, browser) -> None:
    url, services = minddocs
    provider.forge_signature = True
    callback = through_callback(browser, login_url(url))
    assert refusal(callback) == "sso_invalid_token"
    assert browser.cookies.get(SESSION_COOKIE) is None
    assert services.accounts_repo.user_by_email(person["email"].lower()) is None


def test_an_unverified_email_is_refused(minddocs, provider, person, browser) -> None:
    url, services = minddocs
    provider.user = {**person, "email_verified": False}
    callback = through_callback(browser, login_url(url))
    assert refusal(callback) == "sso_email_unverified"
    assert browser.cookies.get(SESSION_COOKIE) is None
    assert services.accounts_repo.user_by_email(person["email"].lower()) is None


def test_invite_only_refuses_strangers_and_admits_invited_people(minddocs, person, browser) -> None:
    url, services = minddocs
    auth = services.settings.auth  # the same settings object as the server's: switch it to invite-only
    auth.registration = "invite"
    try:
        assert refusal(through_callback(browser, login_url(url))) == "sso_registration_closed"
        assert browser.cookies.get(SESSION_COOKIE) is None
        assert services.accounts_repo.user_by_email(person["email"].lower()) is None

        # Given: an owner of a team workspace invites the person
        owner = services.accounts.create_user(f"owner.{uuid.uuid4().hex[:8]}@example.org")
        team = services.workspaces.create(services.scope_for(actor_for(owner)), "Team")
        services.workspaces.invite(services.scope_for(actor_for(owner), team.id), team.id, person["email"], "editor")
        # Then: the same sign-in works
        assert refusal(through_callback(browser, login_url(url))) is None
        assert browser.cookies.get(SESSION_COOKIE)
    finally:
        auth.registration = "open"


def test_the_provider_saying_no_is_refused(minddocs, provider, browser) -> None:
    url, _ = minddocs
    provider.deny = True
    assert refusal(through_callback(browser, login_url(url))) == "sso_refused"
    assert browser.cookies.get(SESSION_COOKIE) is None


def test_an_unknown_provider_is_refused(minddocs, browser) -> None:
    url, _ = minddocs
    assert refusal(browser.get(login_url(url, name="nosuch"))) == "sso_unknown_provider"
    assert refusal(browser.get(f"{url}/auth/oidc/nosuch/callback?code=x&state=y")) == "sso_unknown_provider"


@pytest.mark.parametrize("next_path", ["//evil.example/x", "https://evil.example/", "/\\evil.example",
                                       "/\r\nLocation: https://evil.example", "javascript:alert(1)"])
def test_next_pointing_elsewhere_is_ignored(minddocs, browser, next_path: str) -> None:
    url, _ = minddocs
    callback = through_callback(browser, login_url(url, next_path))
    assert refusal(callback) is None and browser.cookies.get(SESSION_COOKIE)
    location = callback.headers["location"]
    assert location.startswith("/") and not location.startswith("//") and "evil" not in location


def test_a_local_next_with_a_query_is_kept(minddocs, browser) -> None:
    url, _ = minddocs
    callback = through_callback(browser, login_url(url, "/graphs?tab=mine"))
    assert callback.headers["location"] == "/graphs?tab=mine"
