"""Accounts and sign-in: the first administrator, users, passwords, browser sessions, the sign-in throttle.

Workspaces, members and invitations are app/workspaces.py; password reset app/password_reset.py; API tokens
app/tokens.py; OpenID Connect app/oidc.py (which ends here, in `sign_in_external`).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

from storage.accounts import AccountRepository, EmailTaken, UserRow
from storage.auth import AuthRepository
from storage.models import utcnow

from .audit import AuditLog
from .errors import Conflict, InvalidAccount, NotSignedIn, TooManyRequests
from .passwords import check_password_policy, hash_password, needs_rehash, verify_password
from .policy import Actor, Scope
from .settings import AuthSettings

THROTTLE_WINDOW = timedelta(minutes=15)
_TOUCH_EVERY = timedelta(minutes=5)  # a session's expiry slides, written at most this often


def token_hash(value: str) -> str:
    """How the secrets in cookies, links and tokens are stored: their SHA-256 (they are random, 256 bits)."""
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class NewSession:
    cookie_value: str  # goes into the session cookie, nowhere else
    csrf_token: str
    user: UserRow


@dataclass(frozen=True)
class SessionInfo:
    actor: Actor
    workspace_id: str
    csrf_token: str
    session_id: str


def actor_for(user: UserRow, *, kind: str = "user", ip: str | None = None) -> Actor:
    return Actor(user_id=user.id, kind=kind, label=user.email, is_admin=user.is_admin, ip=ip)


class AccountService:
    def __init__(self, repo: AccountRepository, auth: AuthRepository, audit: AuditLog, settings: AuthSettings):
        self.repo = repo
        self.auth = auth
        self.audit = audit
        self.settings = settings

    # --- users -------------------------------------------------------------------------------------------------

    def needs_setup(self) -> bool:
        """True until the first administrator account exists (the installation's placeholder is unclaimed)."""
        return self.repo.count_users() == 0

    def check_password_policy(self, password: str, email: str = "") -> None:
        check_password_policy(password, email=email, min_length=self.settings.min_password_length)

    def setup_admin(self, email: str, password: str | None, *, name: str = "", locale: str = "es",
                    ip: str = "") -> UserRow:
        """The first administrator. They take over the installation's placeholder user, so the graphs and
        runs made before (samples, the CLI) are theirs. Conflict once an administrator exists."""
        email = _email(email)
        if not self.needs_setup():
            raise Conflict("MindDocs already has an administrator; sign in, or ask them for an account.",
                           code="already_set_up")
        if password is not None:
            self.check_password_policy(password, email)
        local = self.repo.user(self.repo.ensure_local_user())
        assert local is not None
        try:
            user = self.repo.update_user(local.id, email=email, name=name or email.split("@")[0], locale=locale,
                                         is_admin=True, is_active=True,
                                         password_hash=hash_password(password) if password else None)
        except EmailTaken:
            raise InvalidAccount(f"There is already an account for {email}.", code="email_taken") from None
        self.audit.record(actor_for(user, ip=ip), "auth.setup", target_type="user", target_id=user.id, ip=ip)
        return user

    def create_user(self, email: str, password: str | None = None, *, name: str = "", is_admin: bool = False,
                    locale: str = "es") -> UserRow:
        """An account with its personal workspace (the CLI, an admin, registration, single sign-on)."""
        email = _email(email)
        if password is not None:
            self.check_password_policy(password, email)
        try:
            return self.repo.create_user(email, name=name or email.split("@")[0], is_admin=is_admin, locale=locale,
                                         password_hash=hash_password(password) if password else None)
        except EmailTaken:
            raise InvalidAccount(f"There is already an account for {email}; sign in instead, or reset its "
                                 "password.", code="email_taken") from None

    def user(self, user_id: str) -> UserRow | None:
        return self.repo.user(user_id)

    # --- signing in --------------------------------------------------------------------------------------------

    def verify_password(self, email: str, password: str, *, ip: str) -> UserRow:
        """The user whose email and password these are; throttled per account and per address. Every failure
        is counted and audited; the answer is the same for an unknown email and a wrong password."""
        email = email.strip().lower()[:320]
        keys = (f"email:{email}", f"ip:{ip}")
        self._check_throttle(email, ip)
        user = self.repo.user_by_email(email)
        ok = verify_password(user.password_hash if user else None, password[:1024])
        if not ok or user is None or not user.is_active or not user.claimed:
            self.auth.add_failure(*keys)
            self.audit.record(None, "auth.sign_in_failed", label=email, ip=ip,
                              details={"reason": "disabled" if ok and user and not user.is_active else "credentials"})
            if ok and user is not None and not user.is_active:
                raise NotSignedIn("This account is disabled; ask an administrator.", code="account_disabled")
            raise NotSignedIn("The email or the password is not right. Check both, or reset your password.",
                              code="bad_credentials")
        self.auth.clear_failures(keys[0])
        if user.password_hash and needs_rehash(user.password_hash):
            self.repo.update_user(user.id, password_hash=hash_password(password))
        return user

    def sign_in(self, email: str, password: str, *, ip: str, user_agent: str = "") -> NewSession:
        user = self.verify_password(email, password, ip=ip)
        return self.sign_in_user(user.id, ip=ip, user_agent=user_agent)

    def sign_in_user(self, user_id: str, *, ip: str, user_agent: str = "", method: str = "password") -> NewSession:
        """A new browser session for a user already identified (password checked, or single sign-on)."""
        user = self.repo.user(user_id)
        if user is None or not user.is_active:
            raise NotSignedIn("This account is disabled; ask an administrator.", code="account_disabled")
        cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        self.auth.create_session(token_hash=token_hash(cookie), user_id=user.id, csrf_token=csrf,
                                 workspace_id=self.repo.personal_workspace(user.id), ip=ip, user_agent=user_agent,
                                 expires_at=utcnow() + timedelta(days=self.settings.session_days))
        user = self.repo.update_user(user.id, last_login_at=utcnow())
        self.audit.record(actor_for(user, ip=ip), "auth.sign_in", target_type="user", target_id=user.id, ip=ip,
                          details={"method": method})
        return NewSession(cookie, csrf, user)

    def sign_in_external(self, provider: str, subject: str, email: str, name: str = "", *, ip: str,
                         user_agent: str = "", allowed_domains: Collection[str] = ()) -> NewSession:
        """Single sign-on: the user linked to (provider, subject), else the account with that email (linked
        now), else a new account when registration is open or the email has a pending invitation."""
        from storage.identities import IdentityRepository  # small, used only here

        email = _email(email)
        domain = email.rsplit("@", 1)[1]
        if allowed_domains and domain not in {d.lower().lstrip("@") for d in allowed_domains}:
            self.audit.record(None, "auth.sign_in_failed", label=email, ip=ip,
                              details={"reason": "domain", "provider": provider})
            raise NotSignedIn(f"Accounts of {domain} may not sign in with {provider} here.", code="domain_not_allowed")
        identities = IdentityRepository(self.repo.db)
        user_id = identities.user_for(provider, subject)
        if user_id is None:
            user = self.repo.user_by_email(email)
            if user is None:
                if self.settings.registration != "open" and not identities.invited(email):
                    self.audit.record(None, "auth.sign_in_failed", label=email, ip=ip,
                                      details={"reason": "not_registered", "provider": provider})
                    raise NotSignedIn(f"There is no account for {email}, and this MindDocs accepts invited people "
                                      "only. Ask a workspace owner to invite you.", code="registration_closed")
                user = self.create_user(email, name=name)
            identities.link(user.id, provider, subject, email)
            user_id = user.id
        return self.sign_in_user(user_id, ip=ip, user_agent=user_agent, method=provider)

    def session(self, cookie_value: str, *, ip: str = "") -> SessionInfo | None:
        """The signed-in person behind a session cookie; None when unknown, expired, or ended (password
        changed, account disabled, signed out everywhere)."""
        if not cookie_value or len(cookie_value) > 200:
            return None
        found = self.auth.session(token_hash(cookie_value))
        if found is None:
            return None
        row, epoch, active = found
        now = utcnow()
        if row.expires_at <= now or row.auth_epoch != epoch or not active:
            return None
        if now - row.last_seen_at > _TOUCH_EVERY:
            self.auth.touch(row.id, now + timedelta(days=self.settings.session_days))
        user = self.repo.user(row.user_id)
        assert user is not None
        workspace_id = row.workspace_id or self.repo.personal_workspace(user.id)
        return SessionInfo(actor_for(user, ip=ip), workspace_id, row.csrf_token, row.id)

    def set_session_workspace(self, session_id: str, workspace_id: str) -> None:
        self.auth.set_workspace(session_id, workspace_id)

    def sign_out(self, cookie_value: str, *, actor: Actor | None = None) -> None:
        self.auth.delete_session(token_hash(cookie_value))
        if actor is not None:
            self.audit.record(actor, "auth.sign_out", target_type="user", target_id=actor.user_id)

    def sign_out_everywhere(self, scope: Scope) -> None:
        """End every browser session and short-lived access/refresh token of the signed-in person (their
        password stays). Personal API tokens stay valid until revoked: scripts keep working (docs/accounts.md)."""
        self.repo.update_user(scope.user_id, bump_epoch=True)
        self.auth.delete_sessions_of(scope.user_id)
        self.audit.record(scope.actor, "auth.signed_out_everywhere", target_type="user", target_id=scope.user_id)

    def change_password(self, scope: Scope, old: str, new: str) -> UserRow:
        """Other sessions and tokens of the person end; the caller signs them in again."""
        user = self.repo.user(scope.user_id)
        assert user is not None
        if user.password_hash and not verify_password(user.password_hash, old):
            raise InvalidAccount("The current password is not right.", code="bad_credentials")
        self.check_password_policy(new, user.email)
        user = self.repo.update_user(user.id, password_hash=hash_password(new), bump_epoch=True)
        self.auth.delete_sessions_of(user.id)
        self.audit.record(scope.actor, "auth.password_changed", target_type="user", target_id=user.id)
        return user

    def update_profile(self, scope: Scope, *, name: str | None = None, locale: str | None = None) -> UserRow:
        values = {k: v for k, v in {"name": name, "locale": locale}.items() if v is not None}
        if "locale" in values and values["locale"] not in ("es", "en"):
            raise InvalidAccount("The language must be 'es' or 'en'.", code="invalid_locale")
        return self.repo.update_user(scope.user_id, **values)

    def _check_throttle(self, email: str, ip: str) -> None:
        since = utcnow() - THROTTLE_WINDOW
        for key, limit in ((f"email:{email}", self.settings.max_failures_per_account),
                           (f"ip:{ip}", self.settings.max_failures_per_ip)):
            count, oldest = self.auth.failures(key, since)
            if count >= limit:
                wait = max(1, int(((oldest or since) + THROTTLE_WINDOW - utcnow()).total_seconds()) + 1)
                self.audit.record(None, "auth.throttled", label=email, ip=ip, details={"key": key.split(":")[0]})
                raise TooManyRequests(f"Too many failed sign-ins; wait {max(1, round(wait / 60))} minute(s) and try "
                                      "again, or reset your password.", code="throttled",
                                      details={"retry_after_s": wait})


def _email(email: str) -> str:
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 320 or any(c.isspace() for c in email):
        raise InvalidAccount(f"'{email[:100]}' is not an email address.", code="invalid_email")
    return email
