"""Who is asking, for every HTTP request: a bearer token (API token or JWT) or the browser's session cookie.

`request_scope(request)` is the one way routes learn it; app/api.py's `services(request)` calls it, so every
API route that reaches the services is signed in. Routes that must answer without an account are listed in
PUBLIC_ROUTES (the authorization-matrix test, tests/app/test_authorization.py, checks the rest refuse).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import Request, Response

from .errors import Forbidden, NotFound, NotSignedIn
from .policy import Scope
from .settings import Settings
from .tokens import bound_scope

if TYPE_CHECKING:
    from .accounts import NewSession

SESSION_COOKIE = "minddocs_session"
CSRF_HEADER = "X-CSRF-Token"
WORKSPACE_HEADER = "X-Workspace"
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}

#: (method, path template) of the routes anyone may call; "*" for any method
PUBLIC_ROUTES: set[tuple[str, str]] = {
    ("GET", "/api/v1/health"),
    ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"),  # probes (app/health.py; /metrics: its token)
    ("GET", "/api/v1/schema"),  # the graph format's JSON Schema: the same for everybody
    ("POST", "/api/v1/hooks/{token}"),  # signed with the hook's HMAC secret instead (app/api_hooks.py)
    ("POST", "/api/v1/oauth/token"),  # OAuth2 token endpoint: the grant carries the credentials (app/api_tokens.py)
    ("POST", "/api/v1/auth/password-reset"), ("POST", "/api/v1/auth/password-reset/confirm"),  # app/api_accounts.py
    # share links: the token (and the per-submission secret) is the credential (app/api_share.py)
    ("GET", "/api/v1/public/share/{token}"),
    ("POST", "/api/v1/public/share/{token}/runs"),
    ("GET", "/api/v1/public/share/{token}/runs/{run_id}"),
    ("GET", "/api/v1/public/share/{token}/runs/{run_id}/outputs/{name}"),
    # the browser's account forms (app/auth_routes.py: csrf-checked; logout and workspace need the session)
    *(("POST", path) for path in ("/auth/login", "/auth/logout", "/auth/setup", "/auth/register", "/auth/forgot",
                                  "/auth/reset", "/auth/workspace", "/auth/password")),
    *(("GET", path) for path in ("/login", "/setup", "/register", "/forgot", "/reset", "/invite")),
}


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def cookie_secure(settings: Settings) -> bool:
    configured = settings.auth.cookie_secure
    return configured if configured is not None else settings.notifications.public_url.startswith("https://")


def set_session_cookie(response: Response, new_session: NewSession, settings: Settings) -> None:
    response.set_cookie(SESSION_COOKIE, new_session.cookie_value, max_age=int(settings.auth.session_days * 86400),
                        httponly=True, secure=cookie_secure(settings), samesite="lax", path="/")


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, secure=cookie_secure(settings), samesite="lax")


def optional_scope(request: Request, services: Any = None) -> Scope | None:
    try:
        return request_scope(request, services)
    except (NotSignedIn, NotFound):
        return None


def request_scope(request: Request, services: Any = None) -> Scope:
    """The Scope of whoever sent the request; NotSignedIn without a valid token or session. Cached on the
    request. The workspace: the X-Workspace header, else the token's, else the session's current one."""
    cached = getattr(request.state, "scope", None)
    if cached is not None:
        return cached
    services = services or request.app.state.services
    ip = client_ip(request)
    authorization = request.headers.get("authorization", "")
    if authorization:
        kind, _, credentials = authorization.partition(" ")
        if kind.lower() != "bearer" or not credentials.strip():
            raise NotSignedIn("The Authorization header must be 'Bearer <token>' with an API token or an access "
                              "token from POST /api/v1/oauth/token.", code="bad_authorization")
        actor, workspace_id = services.tokens.authenticate(credentials.strip(), ip=ip)
    else:
        info = services.accounts.session(request.cookies.get(SESSION_COOKIE, ""), ip=ip)
        if info is None:
            raise NotSignedIn("Sign in first: send an API token as 'Authorization: Bearer <token>' (create one on "
                              "the API tokens page), or sign in in the browser.")
        if request.method in _UNSAFE and request.url.path.startswith("/api/") \
                and request.headers.get(CSRF_HEADER) != info.csrf_token:
            raise Forbidden(f"A change made with a browser session needs the {CSRF_HEADER} header of that session; "
                            "scripts should use an API token instead.", code="csrf")
        actor, workspace_id = info.actor, info.workspace_id
    scope = services.scope_for(actor, request.headers.get(WORKSPACE_HEADER) or workspace_id)
    if authorization and workspace_id:  # a token made for one workspace sees nothing else (app/tokens.py)
        scope = bound_scope(scope, workspace_id)
    request.state.scope = scope
    return scope


#: pages and files anyone may open (prefixes); every other browser page needs a signed-in person
PUBLIC_PAGES = ("/login", "/setup", "/register", "/forgot", "/reset", "/invite", "/auth/", "/s/", "/embed/",
                "/_nicegui", "/static/", "/docs", "/redoc", "/openapi.json", "/favicon",
                "/healthz", "/readyz", "/metrics")


class SignInGate:
    """ASGI middleware: a browser asking for a page without being signed in goes to /login (or, before the
    first administrator exists, to /setup), and comes back to the page afterwards. The API answers 401 by
    itself (app/api.py `services`), so /api is not touched here."""

    def __init__(self, app, settings: Settings):
        self.app = app
        self.settings = settings

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD") or path.startswith("/api/") \
                or path == "/api" or any(path == p.rstrip("/") or path.startswith(p) for p in PUBLIC_PAGES):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        services = request.app.state.services
        if optional_scope(request) is None:
            from urllib.parse import quote

            from starlette.responses import RedirectResponse

            if services.accounts.needs_setup() and self.settings.auth.setup_in_browser:
                target = "/setup"
            else:
                wanted = path + (f"?{scope['query_string'].decode()}" if scope.get("query_string") else "")
                target = f"/login?next={quote(wanted, safe='')}"
            await RedirectResponse(target, status_code=303)(scope, receive, send)
            return
        await self.app(scope, receive, send)
