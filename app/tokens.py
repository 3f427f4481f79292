"""API authentication by token (docs/api.md, "Authentication").

Two kinds of bearer token reach the API:
- personal access tokens `md_<id>_<secret>`: made on the API tokens page (shown once), named, scoped,
  optionally expiring and bound to one workspace; only sha256 of the secret is stored;
- short-lived JWT access tokens (HS256, `settings.auth.access_token_minutes`) from the OAuth2 token endpoint
  (`grant`): the password, client-credentials (a personal token as the client secret) and refresh-token
  grants. Refresh tokens rotate: each is used once, and reusing one revokes its whole family.

`authenticate` turns either into an `Actor` (narrowed by the token's scopes) and applies the per-token rate
limit. JWTs are signed and checked with joserfc (authlib's JOSE library; `authlib.jose` is deprecated in
its favour), restricted to HS256: `alg: none` and every other algorithm are refused.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, NoReturn, Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import OctKey
from joserfc.jwt import JWTClaimsRegistry

from storage.accounts import AccountRepository, UserRow
from storage.db import Database
from storage.models import utcnow
from storage.secrets import load_or_create_key, parse_key
from storage.tokens import ApiTokenRow, RefreshRow, TokenRepository

from .audit import AuditLog
from .errors import AppError, Forbidden, InvalidRequest, NotFound, NotSignedIn, TooManyRequests
from .policy import SCOPES, Actor, Scope
from .rate_limit import RateLimiter
from .settings import Settings

log = logging.getLogger("minddocs")

ISSUER = "minddocs"
ALGORITHMS = ["HS256"]  # the only algorithm accepted: never "none", never one the token picks
PAT_PREFIX = "md_"
REFRESH_PREFIX = "mdr_"
MAX_EXPIRY_DAYS = 3650
_INVALID_PAT = ("This API token is not valid: it may have been copied incompletely or deleted. Copy the whole "
                "token (md_...) as it was shown when it was created, or create a new one on the API tokens page.")
_INVALID_JWT = ("This access token is not valid: its signature does not match or it was not issued by this "
                "server. Get a new one from POST /api/v1/oauth/token.")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def jwt_key(settings: Settings) -> OctKey:
    """The HS256 key: MINDDOCS_AUTH__JWT_SECRET, else one derived (HKDF) from the secrets vault's key."""
    if settings.auth.jwt_secret is not None:
        raw = settings.auth.jwt_secret.get_secret_value().encode()
        if len(raw) < 32:
            log.warning("MINDDOCS_AUTH__JWT_SECRET is shorter than 32 characters; use a long random value.")
    else:
        master = (parse_key(settings.secrets.key.get_secret_value()) if settings.secrets.key is not None
                  else load_or_create_key(settings.secrets_key_file)[0])
        raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"minddocs/jwt-hs256").derive(master)
    return OctKey.import_key(raw)


def parse_scopes(value: str | list[str] | tuple[str, ...] | None, *, default: tuple[str, ...] = SCOPES
                 ) -> tuple[str, ...]:
    """Scopes from a list or an OAuth2 space-separated string, in SCOPES order; ValueError for unknown ones."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return tuple(default)
    items = value.split() if isinstance(value, str) else list(value)
    unknown = sorted({s for s in items if s not in SCOPES})
    if unknown:
        raise ValueError(", ".join(repr(s) for s in unknown))
    if not items:
        raise ValueError("none given")
    return tuple(s for s in SCOPES if s in items)


def bound_scope(scope: Scope, workspace_id: str) -> Scope:
    """The scope of a token bound to `workspace_id`: that workspace only, whatever else its person belongs to
    (objects elsewhere answer NotFound; so does asking for another workspace with X-Workspace)."""
    if scope.workspace_id != workspace_id:
        raise NotFound("This API token works only in its own workspace; leave out X-Workspace, or use a token "
                       "made for the workspace you want.")
    role = scope.roles.get(workspace_id)
    return Scope(scope.actor, workspace_id, {workspace_id: role} if role else {})


class OAuthError(Exception):
    """An error of the OAuth2 token endpoint, answered as RFC 6749 5.2 says: `{error, error_description}`."""

    def __init__(self, error: str, description: str, status: int = 400, *, retry_after_s: int | None = None):
        super().__init__(description)
        self.error, self.description, self.status, self.retry_after_s = error, description, status, retry_after_s

    def to_json(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class PasswordChecker(Protocol):
    def verify_password(self, email: str, password: str, *, ip: str) -> UserRow: ...


class TokenService:
    """Personal access tokens, JWT access tokens, the OAuth2 grants, and `authenticate` for the API."""

    def __init__(self, settings: Settings, db: Database, users: AccountRepository, audit: AuditLog,
                 accounts: PasswordChecker | None = None, *, clock: Callable[[], float] = time.time):
        self.settings, self.users, self.audit, self.accounts = settings, users, audit, accounts
        self.repo = TokenRepository(db)
        self.clock = clock
        self._key = jwt_key(settings)
        self.limiter = RateLimiter(settings.auth.token_rate_per_minute, redis_url=settings.redis_url,
                                   namespace=settings.broker.namespace, clock=clock)

    # --- personal access tokens ---------------------------------------------------------------------------------

    def create(self, scope: Scope, name: str, scopes: list[str] | tuple[str, ...], expires_days: int | None = None,
               workspace_id: str | None = None) -> tuple[ApiTokenRow, str]:
        """A new token of the signed-in person and its plaintext, which is shown once and never again."""
        scope.require("token.write", what="token")
        if scope.actor.kind == "token":  # a token must not mint tokens wider or longer-lived than itself
            raise Forbidden("API tokens cannot create other API tokens; sign in to MindDocs and create it on the "
                            "API tokens page.", details={"permission": "token.write"})
        name = (name or "").strip()
        if not 1 <= len(name) <= 100:
            raise InvalidRequest("Give the token a name of 1 to 100 characters that says where it is used "
                                 "(e.g. 'CI pipeline').", details={"field": "name"})
        try:
            granted = parse_scopes(list(scopes), default=())
        except ValueError as exc:
            raise InvalidRequest(f"Unknown or missing token scopes ({exc}); choose one or more of "
                                 f"{', '.join(SCOPES)}.", details={"field": "scopes", "allowed": list(SCOPES)}) from None
        if expires_days is not None and not (isinstance(expires_days, int) and 1 <= expires_days <= MAX_EXPIRY_DAYS):
            raise InvalidRequest(f"A token expires after 1 to {MAX_EXPIRY_DAYS} days; leave the expiry empty for a "
                                 "token that does not expire.", details={"field": "expires_days"})
        if workspace_id is not None:
            scope.require("workspace.read", workspace_id, what="workspace")  # NotFound unless a member
        token_id, secret = uuid.uuid4().hex, secrets.token_urlsafe(32)
        expires_at = utcnow() + timedelta(days=expires_days) if expires_days else None
        row = self.repo.create_api_token(token_id=token_id, user_id=scope.user_id, workspace_id=workspace_id,
                                         name=name, secret_hash=_sha256(secret), scopes=list(granted),
                                         expires_at=expires_at)
        self.audit.record(scope.actor, "token.created", workspace_id=self._audit_workspace(row),
                          target_type="api_token", target_id=row.id,
                          details={"name": name, "scopes": list(granted), "expires_days": expires_days})
        return row, f"{PAT_PREFIX}{token_id}_{secret}"

    def list(self, scope: Scope) -> list[ApiTokenRow]:
        """The signed-in person's tokens (active, expired and revoked), newest first."""
        scope.require("token.read", what="token")
        return self.repo.api_tokens(scope.user_id)

    def revoke(self, scope: Scope, token_id: str) -> ApiTokenRow:
        """Revoke one of the person's own tokens at once (revoking a revoked one changes nothing)."""
        scope.require("token.write", what="token")
        before = self.repo.api_token(token_id)
        row = self.repo.revoke_api_token(scope.user_id, token_id)
        if row is None:
            raise NotFound(f"There is no API token with id {token_id[:40]} among yours.")
        if before is not None and before.revoked_at is None:
            self.audit.record(scope.actor, "token.revoked", workspace_id=self._audit_workspace(row),
                              target_type="api_token", target_id=row.id, details={"name": row.name})
        return row

    def _audit_workspace(self, row: ApiTokenRow) -> str | None:
        return row.workspace_id or self.users.personal_workspace(row.user_id)

    # --- JWT access tokens --------------------------------------------------------------------------------------

    def issue_access(self, user: UserRow, scopes: tuple[str, ...], *, workspace_id: str | None, limit_key: str,
                     pat_id: str | None = None, now: float | None = None) -> str:
        """A signed access token for `user`. `limit_key`: what the rate limit counts it against (the refresh
        family or the personal token it came from); `pat_id`: the personal token it came from, which must
        stay valid for the JWT to work. `now`: the issue time (tests issue tokens in the past)."""
        issued = int(self.clock() if now is None else now)
        claims: dict[str, Any] = {
            "iss": ISSUER, "sub": user.id, "ws": workspace_id, "scope": " ".join(scopes), "epoch": user.auth_epoch,
            "iat": issued, "exp": issued + self.settings.auth.access_token_minutes * 60, "jti": uuid.uuid4().hex,
            "lim": limit_key}
        if pat_id:
            claims["pat"] = pat_id
        return jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, self._key, algorithms=ALGORITHMS)

    def _check_jwt(self, bearer: str) -> tuple[dict[str, Any], UserRow]:
        try:
            token = jwt.decode(bearer, self._key, algorithms=ALGORITHMS)
            JWTClaimsRegistry(now=int(self.clock()), leeway=0, iss={"essential": True, "value": ISSUER},
                              sub={"essential": True}, exp={"essential": True}, iat={"essential": True},
                              jti={"essential": True}).validate(token.claims)
        except ExpiredTokenError:
            raise NotSignedIn("This access token has expired (they last "
                              f"{self.settings.auth.access_token_minutes} minutes). Get a new one with your refresh "
                              "token: POST /api/v1/oauth/token with grant_type=refresh_token.",
                              code="token_expired") from None
        except (JoseError, ValueError, TypeError):
            raise NotSignedIn(_INVALID_JWT, code="invalid_token") from None
        claims = token.claims
        if not isinstance(claims.get("epoch"), int) or not isinstance(claims.get("scope"), str) \
                or not isinstance(claims.get("lim"), str):
            raise NotSignedIn(_INVALID_JWT, code="invalid_token")
        user = self._active_user(claims["sub"])
        if claims["epoch"] != user.auth_epoch:
            raise NotSignedIn("This access token was issued before the password was changed or everyone was signed "
                              "out; sign in again for a new one.", code="token_revoked")
        if claims.get("pat"):
            self._usable_pat(self.repo.api_token(claims["pat"]))
        return claims, user

    # --- authentication of API requests -------------------------------------------------------------------------

    def authenticate(self, bearer: str, *, ip: str) -> tuple[Actor, str | None]:
        """The actor of a request's bearer token and the workspace the token is bound to (None: not bound).
        NotSignedIn (with a sentence) for a token that is not valid; TooManyRequests past the rate limit."""
        bearer = (bearer or "").strip()
        if bearer.startswith(PAT_PREFIX):
            row, user = self._check_pat(bearer)
            self.limiter.hit(row.id)
            if row.last_used_at is None or row.last_used_at < utcnow() - timedelta(seconds=60):
                self.repo.touch_api_token(row.id)
            return (Actor(user.id, kind="token", label=f"token '{row.name}'", is_admin=user.is_admin,
                          scopes=frozenset(row.scopes), token_id=row.id, ip=ip), row.workspace_id)
        claims, user = self._check_jwt(bearer)
        self.limiter.hit(claims["lim"])
        return (Actor(user.id, kind="token", label="jwt", is_admin=user.is_admin,
                      scopes=frozenset(claims["scope"].split()), token_id=claims["lim"], ip=ip), claims.get("ws"))

    def _check_pat(self, plaintext: str) -> tuple[ApiTokenRow, UserRow]:
        parts = plaintext.split("_", 2)
        if len(parts) != 3 or not parts[1] or not parts[2] or len(parts[1]) > 32:
            raise NotSignedIn(_INVALID_PAT, code="invalid_token")
        row = self.repo.api_token(parts[1])
        # the same answer for an unknown id and a wrong secret: ids are not secret, and reveal nothing
        if row is None or not hmac.compare_digest(_sha256(parts[2]), row.secret_hash):
            raise NotSignedIn(_INVALID_PAT, code="invalid_token")
        self._usable_pat(row)
        return row, self._active_user(row.user_id)

    @staticmethod
    def _usable_pat(row: ApiTokenRow | None) -> ApiTokenRow:
        if row is None:
            raise NotSignedIn(_INVALID_PAT, code="invalid_token")
        state = row.state()
        if state == "revoked":
            raise NotSignedIn(f"The API token '{row.name}' was revoked on {row.revoked_at:%Y-%m-%d %H:%M} UTC; create "
                              "a new one on the API tokens page.", code="token_revoked")
        if state == "expired":
            raise NotSignedIn(f"The API token '{row.name}' expired on {row.expires_at:%Y-%m-%d %H:%M} UTC; create a "
                              "new one on the API tokens page.", code="token_expired")
        return row

    def _active_user(self, user_id: str) -> UserRow:
        user = self.users.user(user_id)
        if user is None or not user.is_active:
            raise NotSignedIn("The account of this token is disabled or was deleted; ask an administrator of "
                              "MindDocs.", code="account_disabled")
        return user

    # --- the OAuth2 token endpoint ------------------------------------------------------------------------------

    def grant(self, form: Mapping[str, str], *, ip: str, basic: tuple[str, str] | None = None) -> dict[str, Any]:
        """The answer of POST /api/v1/oauth/token for the form fields (RFC 6749 4.3, 4.4, 6). `basic`: client
        id and secret from an `Authorization: Basic` header. Raises OAuthError."""
        kind = form.get("grant_type", "")
        if kind == "password":
            return self._password_grant(form, ip)
        if kind == "client_credentials":
            return self._client_grant(form, ip, basic)
        if kind == "refresh_token":
            return self._refresh_grant(form, ip)
        if not kind:
            raise OAuthError("invalid_request", "grant_type is missing; use password, client_credentials or "
                             "refresh_token.")
        raise OAuthError("unsupported_grant_type", f"grant_type '{kind[:40]}' is not supported; use password, "
                         "client_credentials or refresh_token.")

    def _scopes(self, requested: str | None, allowed: tuple[str, ...]) -> tuple[str, ...]:
        try:
            scopes = parse_scopes(requested, default=allowed)
        except ValueError as exc:
            raise OAuthError("invalid_scope", f"Unknown scopes ({exc}); use any of: {' '.join(SCOPES)}.") from None
        if not set(scopes) <= set(allowed):
            raise OAuthError("invalid_scope", f"The scope may be at most '{' '.join(allowed)}' here; ask for "
                             "less, or leave scope out.")
        return scopes

    def _answer(self, user: UserRow, scopes: tuple[str, ...], *, workspace_id: str | None, limit_key: str,
                pat_id: str | None = None, family_id: str | None = None, rotates: RefreshRow | None = None,
                ip: str = "") -> dict[str, Any]:
        """The token endpoint's answer; with `family_id`, a refresh token in that family too (`rotates`: the one
        it replaces, marked used at the same moment; when another request got there first, a reuse)."""
        body: dict[str, Any] = {"token_type": "Bearer", "expires_in": self.settings.auth.access_token_minutes * 60,
                                "scope": " ".join(scopes)}
        if family_id is not None:
            refresh = REFRESH_PREFIX + secrets.token_urlsafe(32)
            added = self.repo.add_refresh(
                token_hash=_sha256(refresh), family_id=family_id, user_id=user.id, workspace_id=workspace_id,
                scopes=list(rotates.scopes if rotates else scopes), auth_epoch=user.auth_epoch,
                expires_at=utcnow() + timedelta(days=self.settings.auth.refresh_token_days),
                replaces=rotates.id if rotates else None)
            if added is None:
                self._reused(rotates, ip)  # type: ignore[arg-type]  (added is None only when rotating)
            body["refresh_token"] = refresh
        body["access_token"] = self.issue_access(user, scopes, workspace_id=workspace_id, limit_key=limit_key,
                                                 pat_id=pat_id)
        return body

    def _password_grant(self, form: Mapping[str, str], ip: str) -> dict[str, Any]:
        email, password = form.get("username", ""), form.get("password", "")
        if not email or not password:
            raise OAuthError("invalid_request", "The password grant needs username (your email) and password.")
        scopes = self._scopes(form.get("scope"), SCOPES)
        if self.accounts is None:
            raise OAuthError("unsupported_grant_type", "Password sign-in is not available on this server.")
        try:
            user = self.accounts.verify_password(email, password, ip=ip)
        except TooManyRequests as exc:
            raise OAuthError("slow_down", exc.message, 429,
                             retry_after_s=(exc.details or {}).get("retry_after_s")) from None
        except AppError as exc:  # wrong password, disabled account: the sign-in's own sentence
            raise OAuthError("invalid_grant", exc.message) from None
        family = uuid.uuid4().hex
        self.audit.record(Actor(user.id, label=user.email, ip=ip), "token.issued", target_type="user",
                          target_id=user.id, workspace_id=self.users.personal_workspace(user.id),
                          details={"grant": "password", "scopes": list(scopes)})
        return self._answer(user, scopes, workspace_id=None, limit_key=family, family_id=family)

    def _client_grant(self, form: Mapping[str, str], ip: str, basic: tuple[str, str] | None) -> dict[str, Any]:
        client_id, secret = basic if basic else (form.get("client_id", ""), form.get("client_secret", ""))
        if not secret:
            raise OAuthError("invalid_client", "The client_credentials grant needs client_secret: a personal access "
                             "token (md_...), with its id as client_id.", 401)
        try:
            row, user = self._check_pat(secret)
            self.limiter.hit(row.id)
        except TooManyRequests as exc:
            raise OAuthError("slow_down", exc.message, 429, retry_after_s=exc.details["retry_after_s"]) from None
        except NotSignedIn as exc:
            raise OAuthError("invalid_client", exc.message, 401) from None
        if client_id and client_id != row.id:
            raise OAuthError("invalid_client", "client_id is not the id of the token given as client_secret; use "
                             "the token's id (the part after md_ up to the next '_') or leave client_id out.", 401)
        scopes = self._scopes(form.get("scope"), row.scopes)
        # RFC 6749 4.4.3: no refresh token here: the client can ask again with its secret
        return self._answer(user, scopes, workspace_id=row.workspace_id, limit_key=row.id, pat_id=row.id)

    def _refresh_grant(self, form: Mapping[str, str], ip: str) -> dict[str, Any]:
        presented = form.get("refresh_token", "")
        if not presented:
            raise OAuthError("invalid_request", "The refresh_token grant needs refresh_token.")
        row = self.repo.refresh(_sha256(presented))
        if row is None:
            raise OAuthError("invalid_grant", "This refresh token is not valid; sign in again.")
        if row.used_at is not None:
            self._reused(row, ip)
        if row.revoked_at is not None:
            raise OAuthError("invalid_grant", "This refresh token was revoked; sign in again.")
        if row.expires_at <= utcnow():
            raise OAuthError("invalid_grant", "This refresh token has expired; sign in again.")
        user = self.users.user(row.user_id)
        if user is None or not user.is_active or user.auth_epoch != row.auth_epoch:
            self.repo.revoke_family(row.family_id)
            raise OAuthError("invalid_grant", "This refresh token stopped working: the password was changed, "
                             "everyone was signed out, or the account was disabled. Sign in again.")
        scopes = self._scopes(form.get("scope"), row.scopes)
        return self._answer(user, scopes, workspace_id=row.workspace_id, limit_key=row.family_id,
                            family_id=row.family_id, rotates=row, ip=ip)

    def _reused(self, row: RefreshRow, ip: str) -> NoReturn:
        """A used refresh token came back: whoever holds the family may have stolen it; revoke all of it."""
        revoked = self.repo.revoke_family(row.family_id)
        if revoked:
            self.audit.record(None, "token.refresh_reused", target_type="user", target_id=row.user_id,
                              workspace_id=row.workspace_id or self.users.personal_workspace(row.user_id),
                              label="refresh token", ip=ip, details={"family_id": row.family_id, "revoked": revoked})
        raise OAuthError("invalid_grant", "This refresh token was already used; a used one coming back means it may "
                         "have been copied by someone else, so every token of this sign-in is now revoked. Sign in "
                         "again.")
