"""OpenID Connect sign-in: the providers of `settings.auth.oidc` as authlib clients (docs/accounts.md,
"Single sign-on").

authlib does the protocol: discovery from `<issuer>/.well-known/openid-configuration`, state, nonce and PKCE
(S256) kept in the browser's signed session, the code exchange, and the ID token's checks (signature against
the provider's JWKS, iss, aud, nonce, expiry). This module adds MindDocs' rules on top: the issuer that the
discovery document names must be the configured one, and the email must be present and, when the provider
says whether it is verified, verified. `AccountService.sign_in_external` then checks the provider's
`allowed_domains` and whether the person may have an account (registration open, or invited).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.starlette_client import OAuth, OAuthError
from joserfc.errors import JoseError
from starlette.requests import Request
from starlette.responses import Response

from .settings import OidcProvider, Settings

#: Why a single sign-on was refused: /login?error=<code> shows the sentence `auth.error.<code>` (ui/i18n.py).
ERROR_CODES = ("sso_unknown_provider", "sso_refused", "sso_unreachable", "sso_state", "sso_invalid_token",
               "sso_email_missing", "sso_email_unverified", "sso_domain", "sso_registration_closed",
               "sso_account_disabled", "sso_throttled", "sso_failed")


class OidcRefused(Exception):
    """A single sign-on that cannot go on; `code` is one of ERROR_CODES, `reason` is for the log and audit."""

    def __init__(self, code: str, reason: str = ""):
        super().__init__(f"{code}: {reason}" if reason else code)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class ExternalIdentity:
    """Who the provider vouches for: its `sub`, and the email and name it sent."""

    provider: str
    subject: str
    email: str
    name: str


def oidc_buttons(settings: Settings) -> list[tuple[str, str]]:
    """(name, label) of each configured provider, for the login page (a button to /auth/oidc/<name>/login)."""
    return [(p.name, p.label or p.name) for p in settings.auth.oidc]


def _verified(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


class OidcRegistry:
    """The configured providers, each an authlib Starlette client (built once per application)."""

    def __init__(self, settings: Settings):
        self.providers: dict[str, OidcProvider] = {p.name: p for p in settings.auth.oidc}
        self.oauth = OAuth()
        for p in self.providers.values():
            self.oauth.register(
                name=p.name, client_id=p.client_id, client_secret=p.client_secret.get_secret_value(),
                server_metadata_url=f"{p.issuer.rstrip('/')}/.well-known/openid-configuration",
                client_kwargs={"scope": p.scope, "code_challenge_method": "S256", "timeout": 15})

    def provider(self, name: str) -> OidcProvider:
        try:
            return self.providers[name]
        except KeyError:
            raise OidcRefused("sso_unknown_provider", f"no provider {name!r} in auth.oidc") from None

    async def _client(self, name: str):
        provider = self.provider(name)
        client = self.oauth.create_client(name)
        try:
            metadata = await client.load_server_metadata()
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcRefused("sso_unreachable", f"discovery of {provider.issuer} failed: {exc!r}") from None
        # OpenID Connect Discovery 1.0, 4.3: the issuer in the document must be the one it was fetched for
        if str(metadata.get("issuer", "")).rstrip("/") != provider.issuer.rstrip("/"):
            raise OidcRefused("sso_refused", f"the discovery document of {provider.issuer} names the issuer "
                                             f"{metadata.get('issuer')!r}")
        return client

    async def login_redirect(self, request: Request, name: str, redirect_uri: str) -> Response:
        """The redirect to the provider's authorization endpoint (state, nonce, PKCE into the session)."""
        client = await self._client(name)
        return await client.authorize_redirect(request, redirect_uri)

    async def identity(self, request: Request, name: str) -> ExternalIdentity:
        """Finish the sign-in at the callback: exchange the code, check the ID token and the email."""
        client = await self._client(name)
        try:
            token = await client.authorize_access_token(request)
        except OAuthError as exc:
            code = "sso_state" if exc.error == "mismatching_state" else "sso_refused"
            raise OidcRefused(code, f"{exc.error}: {exc.description}") from None
        except JoseError as exc:
            raise OidcRefused("sso_invalid_token", f"the ID token was refused: {exc!r}") from None
        except httpx.HTTPError as exc:
            raise OidcRefused("sso_unreachable", repr(exc)) from None
        claims = dict(token.get("userinfo") or {})  # the ID token's claims, checked by authlib
        if not claims.get("sub"):
            raise OidcRefused("sso_invalid_token", "no ID token in the answer ('openid' not in the scope?)")
        if not claims.get("email"):
            claims = await self._with_userinfo(client, token, claims)
        email = str(claims.get("email") or "").strip().lower()
        if "@" not in email:
            raise OidcRefused("sso_email_missing", "neither the ID token nor /userinfo has an email")
        if "email_verified" in claims and not _verified(claims["email_verified"]):
            raise OidcRefused("sso_email_unverified", f"{email} is not verified by {name}")
        full_name = claims.get("name") or " ".join(
            str(claims[k]) for k in ("given_name", "family_name") if claims.get(k))
        return ExternalIdentity(provider=name, subject=str(claims["sub"]), email=email,
                                name=str(full_name or ""))

    async def _with_userinfo(self, client, token: dict[str, Any], claims: dict[str, Any]) -> dict[str, Any]:
        """The ID token's claims plus those of the userinfo endpoint (some send the email only there)."""
        if not (client.server_metadata or {}).get("userinfo_endpoint"):
            return claims
        try:
            info = await client.userinfo(token=token)
        except (httpx.HTTPError, OAuthError) as exc:
            raise OidcRefused("sso_unreachable", f"userinfo failed: {exc!r}") from None
        # OpenID Connect Core 5.3.2: the userinfo answer must be about the ID token's subject
        if str(info.get("sub")) != str(claims["sub"]):
            raise OidcRefused("sso_invalid_token", "userinfo names another subject than the ID token")
        wanted = ("email", "email_verified", "name", "given_name", "family_name")
        extra = {k: v for k, v in info.items() if k in wanted}
        return {**extra, **claims}


def oidc_registry(app: Any) -> OidcRegistry:
    """The application's registry (`app.state.oidc`), built from its services' settings on first use."""
    registry = getattr(app.state, "oidc", None)
    if registry is None:
        registry = app.state.oidc = OidcRegistry(app.state.services.settings)
    return registry
