"""A real OpenID Connect provider for tests: authlib's authorization server (code grant + OpenIDCode + PKCE)
behind a small Starlette app, served by uvicorn on a free localhost port in a thread.

It signs ID tokens with an RS256 key generated at start, publishes discovery and JWKS, and auto-approves
`provider.user` at /authorize (no login form). Knobs for the tests: `user` (the claims it vouches for),
`forge_signature` (sign ID tokens with another key under the published key id), `deny` (answer
access_denied). `authorize_requests` keeps the query of every authorization request it saw.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import uvicorn
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, OAuth2Error, OAuth2Request, grants
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin, UserInfo
from authlib.oidc.core.grants import OpenIDCode
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SCOPES = ("openid", "email", "profile")


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str] = field(default_factory=list)

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post") if endpoint == "token" else True

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: dict[str, Any]
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


class _Request(OAuth2Request):
    """An OAuth2Request from a Starlette request whose form was already read (authlib's server is sync)."""

    def __init__(self, request: Request, form: dict[str, str]):
        super().__init__(method=request.method, uri=str(request.url), headers=request.headers)
        self._args = dict(request.query_params)
        self._form = form
        self.payload = BasicOAuth2Payload({**self._args, **form})

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post"]

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        self.server.provider.codes[code] = AuthorizationCode(
            code=code, client_id=request.client.client_id, redirect_uri=data.get("redirect_uri", ""),
            scope=request.payload.scope or "", user=dict(request.user), nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            auth_time=int(time.time()))

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        found = self.server.provider.codes.get(code)
        return found if found and found.client_id == client.client_id else None

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        self.server.provider.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: AuthorizationCode) -> dict[str, Any]:
        return authorization_code.user


class _OpenIDCode(OpenIDCode):
    def __init__(self, provider: OidcTestProvider):
        super().__init__(require_nonce=True)
        self.provider = provider

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return any(c.nonce == nonce for c in self.provider.codes.values())

    def resolve_client_private_key(self, client: Client) -> RSAKey:
        return self.provider.forged_key if self.provider.forge_signature else self.provider.key

    def get_client_algorithm(self, client: Client) -> str:
        return "RS256"

    def get_encode_header(self, client: Client) -> dict[str, str]:
        return {"alg": "RS256", "kid": self.provider.key.kid}  # the published key's id, even when forging

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        return {"iss": self.provider.issuer, "aud": [client.client_id]}

    def generate_user_info(self, user: dict[str, Any], scope: str) -> UserInfo:
        return UserInfo(self.provider.claims(user, scope))


class _Server(AuthorizationServer):
    def __init__(self, provider: OidcTestProvider):
        super().__init__(scopes_supported=list(SCOPES))
        self.provider = provider
        self.register_token_generator("default", BearerTokenGenerator(lambda **_: generate_token(42)))
        self.register_grant(_CodeGrant, [_OpenIDCode(provider), CodeChallenge(required=True)])

    def query_client(self, client_id: str) -> Client | None:
        return self.provider.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        self.provider.access_tokens[token["access_token"]] = (dict(request.user), token.get("scope", ""))

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request  # the routes build it: reading the form is async

    def create_json_request(self, request):
        raise NotImplementedError("no JSON endpoints here")

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        if isinstance(body, dict):
            return JSONResponse(body, status_code=status, headers=dict(headers))
        return Response(body or "", status_code=status, headers=dict(headers))

    def send_signal(self, name: str, *args, **kwargs) -> None:
        pass


class OidcTestProvider:
    def __init__(self, issuer: str):
        self.issuer = issuer
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1", "use": "sig", "alg": "RS256"})
        self.forged_key = RSAKey.generate_key(2048)
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.access_tokens: dict[str, tuple[dict[str, Any], str]] = {}
        self.user: dict[str, Any] = {}
        self.forge_signature = False
        self.deny = False
        self.userinfo_only: set[str] = set()  # claims left out of the ID token (sent by /userinfo only)
        self.authorize_requests: list[dict[str, str]] = []
        self.server = _Server(self)
        self.app = Starlette(routes=[
            Route("/.well-known/openid-configuration", self._discovery),
            Route("/jwks", self._jwks),
            Route("/authorize", self._authorize),
            Route("/token", self._token, methods=["POST"]),
            Route("/userinfo", self._userinfo),
        ])

    def add_client(self, client_id: str, client_secret: str, redirect_uri: str) -> None:
        self.clients[client_id] = Client(client_id, client_secret, [redirect_uri])

    def claims(self, user: dict[str, Any], scope: str, *, for_id_token: bool = True) -> dict[str, Any]:
        scopes = set(scope.split())
        wanted = {"sub"} | ({"email", "email_verified"} if "email" in scopes else set()) \
            | ({"name"} if "profile" in scopes else set())
        left_out = self.userinfo_only if for_id_token else set()
        return {k: v for k, v in user.items() if k in wanted and k not in left_out}

    async def _discovery(self, request: Request) -> JSONResponse:
        base = self.issuer
        return JSONResponse({
            "issuer": base, "authorization_endpoint": f"{base}/authorize", "token_endpoint": f"{base}/token",
            "userinfo_endpoint": f"{base}/userinfo", "jwks_uri": f"{base}/jwks",
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"], "scopes_supported": list(SCOPES),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "email", "email_verified", "name"],
        })

    async def _jwks(self, request: Request) -> JSONResponse:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    async def _authorize(self, request: Request) -> Response:
        self.authorize_requests.append(dict(request.query_params))
        oauth_request = _Request(request, {})
        try:
            grant = self.server.get_consent_grant(oauth_request)
        except OAuth2Error as error:
            return JSONResponse({"error": error.error, "error_description": error.description},
                                status_code=400)
        user = None if self.deny else self.user
        return self.server.create_authorization_response(oauth_request, grant_user=user, grant=grant)

    async def _token(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        return self.server.create_token_response(_Request(request, form))

    async def _userinfo(self, request: Request) -> JSONResponse:
        auth = Headers(scope=request.scope).get("authorization", "")
        found = self.access_tokens.get(auth[7:]) if auth.lower().startswith("bearer ") else None
        if found is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401,
                                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        user, scope = found
        return JSONResponse(self.claims(user, scope, for_id_token=False))


@contextmanager
def oidc_provider() -> Iterator[OidcTestProvider]:
    """Start an OidcTestProvider on a free port of 127.0.0.1; stop it afterwards."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    provider = OidcTestProvider(f"http://127.0.0.1:{sock.getsockname()[1]}")
    server = uvicorn.Server(uvicorn.Config(provider.app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test OpenID provider did not start")
        time.sleep(0.02)
    try:
        yield provider
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
