"""The browser's account forms: plain HTML form POSTs that answer with a 303 redirect (docs/accounts.md).

A NiceGUI event travels over the websocket and cannot set an HttpOnly cookie, so the public pages of
ui/pages/auth.py are native `<form method=post>`s that post here. Success: the session cookie and a redirect to
`next` (a local path only). Failure: back to the form with `?error=<code>`; the page shows the sentence
(`auth.error.<code>` in ui/i18n_accounts.py).

CSRF: the forms of the public pages carry a double-submit token (the `minddocs_csrf` cookie the page set,
echoed in the hidden field `csrf`); sign-out and the workspace switch carry the session's own csrf token.
These routes are not part of the API: no /api prefix, not in the OpenAPI schema.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from .errors import AppError, InvalidAccount, NotFound, TooManyRequests
from .web_auth import SESSION_COOKIE, clear_session_cookie, client_ip, set_session_cookie

router = APIRouter(prefix="/auth", include_in_schema=False)

CSRF_COOKIE = "minddocs_csrf"
CSRF_FIELD = "csrf"

def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def safe_next(value: str | None, default: str = "/") -> str:
    """`value` when it is a path on this site, else `default`: no `//host`, no scheme, no backslash (which
    browsers read as a slash), no control characters."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def _same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode(), str(b).encode())


def _form_csrf_ok(request: Request, token: str) -> bool:
    """Double submit: the hidden field equals the cookie the form page set."""
    return _same(request.cookies.get(CSRF_COOKIE), token)


def _redirect(path: str, **params: str) -> RedirectResponse:
    query = urlencode({k: v for k, v in params.items() if v})
    return RedirectResponse(f"{path}{'&' if '?' in path else '?'}{query}" if query else path, status_code=303)


#: error codes of the services that the forms show as they are; any other InvalidAccount is `fallback`
_ACCOUNT_CODES = {"weak_password", "email_taken", "invalid_email", "account_disabled"}


def _code(exc: AppError, fallback: str) -> str:
    return exc.code if exc.code in _ACCOUNT_CODES else fallback


def _services(request: Request):
    return request.app.state.services


def _agent(request: Request) -> str:
    return request.headers.get("user-agent", "")[:300]


def _signed_in(request: Request, new_session, target: str) -> RedirectResponse:
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, new_session, _services(request).settings)
    return response


def _password_problem(request: Request, password: str, again: str, email: str) -> str | None:
    """The error code of a new password, or None when it is acceptable."""
    if password != again:
        return "mismatch"
    try:
        _services(request).accounts.check_password_policy(password, email)
    except InvalidAccount:
        return "weak_password"
    return None


@router.post("/login")
def login(request: Request, email: str = Form(""), password: str = Form(""), next: str = Form("/"),
          csrf: str = Form("")) -> RedirectResponse:
    target = safe_next(next)
    if not _form_csrf_ok(request, csrf):
        return _redirect("/login", error="csrf", next=target if target != "/" else "", email=email)
    try:
        session = _services(request).accounts.sign_in(email.strip(), password, ip=client_ip(request),
                                                      user_agent=_agent(request))
    except TooManyRequests:
        return _redirect("/login", error="throttled", next=target if target != "/" else "", email=email)
    except AppError as exc:
        return _redirect("/login", error=_code(exc, "bad_credentials"), next=target if target != "/" else "",
                         email=email)
    return _signed_in(request, session, target)


@router.post("/logout")
def logout(request: Request, csrf: str = Form(""), everywhere: str = Form("")) -> RedirectResponse:
    """Sign out (with `everywhere`: end every session and token of the person). Needs the session's csrf."""
    svc = _services(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    info = svc.accounts.session(cookie, ip=client_ip(request)) if cookie else None
    if info is not None and not _same(info.csrf_token, csrf):
        return _redirect("/account", error="csrf")
    if info is not None:
        if everywhere:
            svc.accounts.sign_out_everywhere(svc.scope_for(info.actor, info.workspace_id))
        svc.accounts.sign_out(cookie, actor=info.actor)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, svc.settings)
    return response


@router.post("/setup")
def setup(request: Request, email: str = Form(""), name: str = Form(""), password: str = Form(""),
          password2: str = Form(""), lang: str = Form("es"), csrf: str = Form("")) -> RedirectResponse:
    """The first administrator, while the installation has none (then signed in)."""
    svc = _services(request)
    if not svc.accounts.needs_setup() or not svc.settings.auth.setup_in_browser:
        return _redirect("/login")
    if not _form_csrf_ok(request, csrf):
        return _redirect("/setup", error="csrf", email=email, name=name)
    problem = _password_problem(request, password, password2, email)
    if problem:
        return _redirect("/setup", error=problem, email=email, name=name)
    ip = client_ip(request)
    try:
        user = svc.accounts.setup_admin(email.strip(), password, name=name.strip(),
                                        locale=lang if lang in ("es", "en") else "es", ip=ip)
    except InvalidAccount as exc:
        return _redirect("/setup", error=_code(exc, "invalid_email"), email=email, name=name)
    except AppError:  # set up by someone else meanwhile
        return _redirect("/login")
    session = svc.accounts.sign_in_user(user.id, ip=ip, user_agent=_agent(request))
    return _signed_in(request, session, "/")


@router.post("/register")
def register(request: Request, email: str = Form(""), name: str = Form(""), password: str = Form(""),
             password2: str = Form(""), token: str = Form(""), next: str = Form("/"), lang: str = Form("es"),
             csrf: str = Form("")) -> RedirectResponse:
    """A new account: when registration is open, or for the email of a valid invitation (then accepted)."""
    svc = _services(request)
    back = {"email": email, "name": name, "token": token, "next": safe_next(next, "")}
    if not _form_csrf_ok(request, csrf):
        return _redirect("/register", error="csrf", **back)
    invitation = svc.workspaces.invitation(token) if token else None
    if invitation is not None and invitation.state == "valid":
        email = invitation.email
    elif token:
        return _redirect("/register", error="token_invalid", **back)
    elif svc.settings.auth.registration != "open":
        return _redirect("/register", error="registration_closed", **back)
    problem = _password_problem(request, password, password2, email)
    if problem:
        return _redirect("/register", error=problem, **back)
    try:
        user = svc.accounts.create_user(email.strip(), password, name=name.strip(),
                                        locale=lang if lang in ("es", "en") else "es")
    except InvalidAccount as exc:
        return _redirect("/register", error=_code(exc, "invalid_email"), **back)
    ip = client_ip(request)
    session = svc.accounts.sign_in_user(user.id, ip=ip, user_agent=_agent(request))
    target = safe_next(next)
    if invitation is not None:
        try:
            workspace = svc.workspaces.accept_invitation(token, user.id)
        except AppError:  # withdrawn or used in the meantime: the account stays, without that workspace
            return _signed_in(request, session, "/invite?" + urlencode({"token": token}))
        info = svc.accounts.session(session.cookie_value, ip=ip)
        if info is not None:
            svc.accounts.set_session_workspace(info.session_id, workspace.id)
        target = "/"
    return _signed_in(request, session, target)


@router.post("/forgot")
def forgot(request: Request, email: str = Form(""), csrf: str = Form("")) -> RedirectResponse:
    """Send a reset link when the email has an account; the answer is the same either way."""
    if not _form_csrf_ok(request, csrf):
        return _redirect("/forgot", error="csrf", email=email)
    try:
        _services(request).password_reset.request(email.strip(), ip=client_ip(request))
    except TooManyRequests:
        pass  # the same answer as any other: the throttle must not tell which addresses exist
    return _redirect("/forgot", sent="1")


@router.post("/reset")
def reset(request: Request, token: str = Form(""), password: str = Form(""), password2: str = Form(""),
          csrf: str = Form("")) -> RedirectResponse:
    """A new password through a reset link; the person is then signed in (their other sessions ended)."""
    svc = _services(request)
    if not _form_csrf_ok(request, csrf):
        return _redirect("/reset", error="csrf", token=token)
    if password != password2:
        return _redirect("/reset", error="mismatch", token=token)
    ip = client_ip(request)
    try:
        user = svc.password_reset.reset(token, password, ip=ip)
    except AppError as exc:  # reset_link_invalid/used/expired, account_disabled, weak_password
        return _redirect("/reset", error="weak_password" if exc.code == "weak_password" else "token_invalid",
                         token=token)
    return _signed_in(request, svc.accounts.sign_in_user(user.id, ip=ip, user_agent=_agent(request)), "/")


@router.post("/password")
def change_password(request: Request, old: str = Form(""), password: str = Form(""), password2: str = Form(""),
                    csrf: str = Form("")) -> RedirectResponse:
    """A new password for the signed-in person. Their other sessions end; this one is replaced by a new one."""
    svc = _services(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    info = svc.accounts.session(cookie, ip=client_ip(request)) if cookie else None
    if info is None:
        return _redirect("/login", next="/account")
    if not _same(info.csrf_token, csrf):
        return _redirect("/account", error="csrf")
    if password != password2:
        return _redirect("/account", error="mismatch")
    try:
        svc.accounts.change_password(svc.scope_for(info.actor, info.workspace_id), old, password)
    except AppError as exc:
        code = "wrong_password" if exc.code == "bad_credentials" else _code(exc, "unknown")
        return _redirect("/account", error=code)
    session = svc.accounts.sign_in_user(info.actor.user_id, ip=client_ip(request), user_agent=_agent(request))
    renewed = svc.accounts.session(session.cookie_value, ip=client_ip(request))
    if renewed is not None:  # stay in the workspace they were working in
        svc.accounts.set_session_workspace(renewed.session_id, info.workspace_id)
    return _signed_in(request, session, "/account?changed=1")


@router.post("/workspace")
def switch_workspace(request: Request, workspace_id: str = Form(""), next: str = Form("/"),
                     csrf: str = Form("")) -> RedirectResponse:
    """Work in another of the person's workspaces (the session remembers it)."""
    svc = _services(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    info = svc.accounts.session(cookie, ip=client_ip(request)) if cookie else None
    if info is None:
        return _redirect("/login", next=safe_next(next, ""))
    if not _same(info.csrf_token, csrf):
        return _redirect(safe_next(next), error="csrf")
    try:
        svc.scope_for(info.actor, workspace_id)  # NotFound unless a member
    except NotFound:
        return _redirect(safe_next(next), error="workspace")
    svc.accounts.set_session_workspace(info.session_id, workspace_id)
    return RedirectResponse(safe_next(next), status_code=303)
