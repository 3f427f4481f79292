"""Single sign-on through OpenID Connect providers: browser redirects, not API (docs/accounts.md, "Single
sign-on").

GET /auth/oidc/{name}/login?next=/path  → the provider's sign-in page (state, nonce and PKCE in the session)
GET /auth/oidc/{name}/callback          → back from the provider: the session cookie, then `next` (local only)
A refusal goes back to /login?error=<code>; the login page shows the sentence `auth.error.<code>`.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from .auth_routes import safe_next
from .errors import AppError, TooManyRequests
from .oidc import OidcRefused, oidc_registry
from .web_auth import SESSION_COOKIE, client_ip, set_session_cookie

log = logging.getLogger("minddocs.oidc")

router = APIRouter(include_in_schema=False)

LOGIN = "/auth/oidc/{name}/login"
CALLBACK = "/auth/oidc/{name}/callback"
_NEXT = "minddocs_oidc_next"  # request.session key: where to go after the callback

#: AppError codes of AccountService.sign_in_external → the code the login page shows
_ACCOUNT_ERRORS = {"domain_not_allowed": "sso_domain", "registration_closed": "sso_registration_closed",
                   "account_disabled": "sso_account_disabled", "invalid_email": "sso_email_missing"}


async def _refused(request: Request, name: str, refusal: OidcRefused, target: str) -> RedirectResponse:
    log.warning("Single sign-on with %r refused (%s): %s", name, refusal.code, refusal.reason)
    await run_in_threadpool(request.app.state.services.audit.record, None, "auth.sign_in_failed",
                            label=f"single sign-on ({name})", ip=client_ip(request),
                            details={"provider": name, "reason": refusal.code})
    return _to_login(refusal.code, target)


def _to_login(code: str, target: str) -> RedirectResponse:
    """Back to the sign-in page: it shows the sentence of `code` and keeps where the person was going."""
    query = {"error": code, **({"next": target} if target != "/" else {})}
    return RedirectResponse(f"/login?{urlencode(query)}", status_code=303)


@router.get(LOGIN, name="oidc_login")
async def oidc_login(request: Request, name: str, next: str = "/") -> RedirectResponse:
    """Send the browser to the provider's sign-in page."""
    registry = oidc_registry(request.app)
    target = safe_next(next)
    try:
        registry.provider(name)
        request.session[_NEXT] = target
        return await registry.login_redirect(request, name, str(request.url_for("oidc_callback", name=name)))
    except OidcRefused as refusal:
        return await _refused(request, name, refusal, target)


@router.get(CALLBACK, name="oidc_callback")
async def oidc_callback(request: Request, name: str) -> RedirectResponse:
    """Where the provider sends the browser back: check its answer, sign in, go on to `next`."""
    registry = oidc_registry(request.app)
    target = safe_next(request.session.pop(_NEXT, "/"))
    try:
        provider = registry.provider(name)
        identity = await registry.identity(request, name)
    except OidcRefused as refusal:
        return await _refused(request, name, refusal, target)
    services = request.app.state.services
    try:
        new_session = await run_in_threadpool(
            services.accounts.sign_in_external, name, identity.subject, identity.email, identity.name,
            ip=client_ip(request), user_agent=request.headers.get("user-agent", "")[:300],
            allowed_domains=tuple(provider.allowed_domains))
    except TooManyRequests:
        return _to_login("sso_throttled", target)
    except AppError as exc:  # already in the audit log (sign_in_external records its refusals)
        log.warning("Single sign-on of %s with %r refused: %s", identity.email, name, exc)
        return _to_login(_ACCOUNT_ERRORS.get(exc.code, "sso_failed"), target)
    if previous := request.cookies.get(SESSION_COOKIE):  # one session per browser: end the one it replaces
        await run_in_threadpool(services.accounts.sign_out, previous)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, new_session, services.settings)
    return response
