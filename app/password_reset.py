"""Password reset by a single-use, expiring link (docs/accounts.md, "Password reset").

- Anyone may ask for a link for an email address; the answer is the same whether an account exists or not,
  and the email goes out in the background, so neither the answer nor its timing tells who has an account.
- The link holds a random secret (256 bits); only its SHA-256 is stored. It works once, for
  `settings.auth.reset_token_minutes`, and using it ends every session (and OAuth2 token) of the account.
- Without SMTP, an instance administrator makes the link (`minddocs user reset-link EMAIL`) and passes it on.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import quote

from nodes.net import SmtpServer
from storage.accounts import UserRow
from storage.models import utcnow
from storage.reset_tokens import ResetTokenRepository

from .account_mail import send_account_email
from .errors import Forbidden, InvalidAccount, NotFound
from .passwords import hash_password
from .policy import Actor, Scope
from .settings import Settings

if TYPE_CHECKING:
    from .accounts import AccountService

log = logging.getLogger("minddocs.accounts")

#: reset emails sent to one account per hour at most (someone asking again and again fills no mailbox)
MAX_EMAILS_PER_HOUR = 5


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class PasswordResetService:
    def __init__(self, accounts: AccountService, settings: Settings, smtp: SmtpServer | None):
        self.accounts = accounts  # users, the password policy, the audit log
        self.repo = accounts.repo
        self.audit = accounts.audit
        self.tokens = ResetTokenRepository(accounts.repo.db)
        self.settings = settings
        self.smtp = smtp
        self._sending: list[threading.Thread] = []

    def request(self, email: str, *, ip: str) -> None:
        """Email a reset link to `email` when it has an active account and SMTP is set up. Returns nothing, and
        as fast, in every case."""
        email = email.strip().lower()[:320]
        user = self.repo.user_by_email(email) if email else None
        if user is None or not user.is_active or not user.claimed:
            self.audit.record(None, "auth.password_reset_requested", label=email, ip=ip,
                              details={"account": False})
            return
        if self.smtp is None or not self.smtp.sender:
            log.info("Password reset asked for an account, but email is not set up; an administrator can make a "
                     "link with: minddocs user reset-link")
            self.audit.record(None, "auth.password_reset_requested", label=email, ip=ip, target_type="user",
                              target_id=user.id, details={"account": True, "emailed": False})
            return
        if self.tokens.count_since(user.id, utcnow() - timedelta(hours=1)) >= MAX_EMAILS_PER_HOUR:
            self.audit.record(None, "auth.password_reset_requested", label=email, ip=ip, target_type="user",
                              target_id=user.id, details={"account": True, "emailed": False, "throttled": True})
            return
        link = self._new_link(user)
        self.audit.record(None, "auth.password_reset_requested", label=email, ip=ip, target_type="user",
                          target_id=user.id, details={"account": True, "emailed": True})
        thread = threading.Thread(target=send_account_email, name="minddocs-reset-email", daemon=True,
                                  args=(self.smtp, "reset", user.locale, user.email),
                                  kwargs={"link": link, "minutes": self.settings.auth.reset_token_minutes})
        self._sending = [t for t in self._sending if t.is_alive()] + [thread]
        thread.start()

    def admin_link(self, scope: Scope, user_id: str) -> str:
        """A reset link for someone else, made by an instance administrator (to pass on when there is no SMTP)."""
        if not scope.actor.is_admin:
            raise Forbidden("Only an administrator of this MindDocs can make a password-reset link for someone "
                            "else; use 'Forgot your password?' on the sign-in page instead.", code="admin_only")
        user = self.repo.user(user_id)
        if user is None or not user.claimed:
            raise NotFound("There is no such account.")
        if not user.is_active:
            raise InvalidAccount(f"The account {user.email} is disabled; enable it first (minddocs user enable).",
                                 code="account_disabled")
        link = self._new_link(user)
        self.audit.record(scope.actor, "auth.password_reset_requested", target_type="user", target_id=user.id,
                          details={"account": True, "emailed": False, "by_admin": True, "email": user.email})
        return link

    def reset(self, token: str, new_password: str, *, ip: str) -> UserRow:
        """Set a new password with a reset link's token. The token works once and until it expires; afterwards
        every session and OAuth2 token of the account has ended (the person signs in again)."""
        found = self.tokens.find(_hash(token)) if token and len(token) <= 200 else None
        if found is None:
            raise InvalidAccount("This password-reset link is not valid; check that the whole link was copied, or "
                                 "ask for a new one.", code="reset_link_invalid")
        if found.state != "valid":
            raise InvalidAccount({"used": "This password-reset link was already used; a link works once. Ask for "
                                          "a new one if you need it.",
                                  "expired": "This password-reset link has expired; ask for a new one."}[found.state],
                                 code=f"reset_link_{found.state}")
        user = self.repo.user(found.user_id)
        if user is None or not user.is_active:
            raise InvalidAccount("This account is disabled; ask an administrator.", code="account_disabled")
        self.accounts.check_password_policy(new_password, user.email)  # before the link is used up
        if not self.tokens.use(found.id):
            raise InvalidAccount("This password-reset link was already used; a link works once. Ask for a new one "
                                 "if you need it.", code="reset_link_used")
        user = self.repo.update_user(user.id, password_hash=hash_password(new_password), bump_epoch=True)
        self.audit.record(Actor(user.id, label=user.email, ip=ip), "auth.password_reset", target_type="user",
                          target_id=user.id, ip=ip)
        return user

    def wait_for_emails(self, timeout_s: float = 30) -> None:
        """Until the emails being sent have gone (tests, and a clean shutdown)."""
        for thread in list(self._sending):
            thread.join(timeout_s)

    def _new_link(self, user: UserRow) -> str:
        token = secrets.token_urlsafe(32)
        self.tokens.create(user.id, _hash(token),
                           utcnow() + timedelta(minutes=self.settings.auth.reset_token_minutes))
        return f"{self.settings.notifications.public_url.rstrip('/')}/reset?token={quote(token)}"
