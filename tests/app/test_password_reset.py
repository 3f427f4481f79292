"""Password reset by emailed link (app/password_reset.py) against a real SMTP server (aiosmtpd) and database."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update

from app.errors import Forbidden, InvalidAccount, NotSignedIn
from app.policy import Actor, Scope
from app.services import Services
from storage.models import OneTimeToken, utcnow
from tests.conftest import make_settings
from tests.nodes.integration_servers import Mailbox, smtp_server

OLD, NEW = "the old passphrase 1", "a brand new passphrase 2"
LINK = re.compile(r"https://docs\.example\.com/reset\?token=(\S+)")


@pytest.fixture
def mail(tmp_path) -> Iterator[tuple[Services, Mailbox]]:
    """Services whose SMTP settings point at a real local SMTP server, and that server's mailbox."""
    with smtp_server() as (mailbox, port):
        settings = make_settings(tmp_path / "data", smtp={"host": "127.0.0.1", "port": port, "security": "none",
                                                          "sender": "MindDocs <avisos@example.com>"},
                                 notifications={"public_url": "https://docs.example.com"})
        with Services(settings) as services:
            yield services, mailbox


def received(services: Services, mailbox: Mailbox, count: int = 1) -> list:
    """The messages the SMTP server has taken once `count` arrived (the reset email goes out in the background)."""
    services.password_reset.wait_for_emails()
    deadline = time.monotonic() + 10
    while len(mailbox.envelopes) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return [message_from_bytes(e.content, policy=policy.default) for e in mailbox.envelopes]


def link_token(message) -> str:
    return parse_qs(urlsplit("https://docs.example.com/reset?token=" + LINK.search(message.get_content()).group(1))
                    .query)["token"][0]


def test_a_reset_link_arrives_by_email_and_sets_a_new_password_once(mail):
    services, mailbox = mail
    user = services.accounts.create_user("Ana@Example.com", OLD, locale="en")
    before = services.accounts.sign_in("ana@example.com", OLD, ip="10.0.0.1")
    assert services.accounts.session(before.cookie_value) is not None

    services.password_reset.request(" ANA@example.com ", ip="10.0.0.2")
    [message] = received(services, mailbox)
    token = link_token(message)
    changed = services.password_reset.reset(token, NEW, ip="10.0.0.3")

    assert mailbox.envelopes[0].rcpt_tos == ["ana@example.com"]
    assert message["Subject"] == "Reset your MindDocs password"
    assert f"for {services.settings.auth.reset_token_minutes} minutes" in message.get_content()
    assert changed.id == user.id and changed.auth_epoch == user.auth_epoch + 1
    assert services.accounts.session(before.cookie_value) is None  # signed out everywhere
    with pytest.raises(NotSignedIn):
        services.accounts.sign_in("ana@example.com", OLD, ip="10.0.0.1")
    assert services.accounts.sign_in("ana@example.com", NEW, ip="10.0.0.1").user.id == user.id
    with pytest.raises(InvalidAccount) as again:
        services.password_reset.reset(token, "yet another passphrase 3", ip="10.0.0.3")
    assert again.value.code == "reset_link_used"
    with services.db.read() as s:  # only the hash of the secret is stored
        assert s.scalar(select(OneTimeToken.token_hash)) not in (token, "") and token not in str(
            s.scalars(select(OneTimeToken.token_hash)).all())


def test_the_email_is_in_the_users_language(mail):
    services, mailbox = mail
    services.accounts.create_user("ana@example.com", OLD, locale="es")

    services.password_reset.request("ana@example.com", ip="10.0.0.2")

    [message] = received(services, mailbox)
    assert message["Subject"] == "Restablecer tu contraseña de MindDocs"
    assert LINK.search(message.get_content())


def test_an_expired_link_is_refused(mail):
    services, mailbox = mail
    services.accounts.create_user("ana@example.com", OLD)
    services.password_reset.request("ana@example.com", ip="10.0.0.2")
    token = link_token(received(services, mailbox)[0])
    with services.db.session() as s:  # the link's minutes pass
        s.execute(update(OneTimeToken).values(expires_at=utcnow() - timedelta(seconds=1)))

    with pytest.raises(InvalidAccount) as refused:
        services.password_reset.reset(token, NEW, ip="10.0.0.3")

    assert refused.value.code == "reset_link_expired"
    assert services.accounts.sign_in("ana@example.com", OLD, ip="10.0.0.1")


def test_unknown_links_and_weak_passwords_are_refused_without_using_the_link(mail):
    services, mailbox = mail
    services.accounts.create_user("ana@example.com", OLD)
    services.password_reset.request("ana@example.com", ip="10.0.0.2")
    token = link_token(received(services, mailbox)[0])

    with pytest.raises(InvalidAccount) as unknown:
        services.password_reset.reset(token[:-2], NEW, ip="10.0.0.3")
    with pytest.raises(InvalidAccount) as weak:
        services.password_reset.reset(token, "short", ip="10.0.0.3")

    assert (unknown.value.code, weak.value.code) == ("reset_link_invalid", "weak_password")
    assert services.password_reset.reset(token, NEW, ip="10.0.0.3").email == "ana@example.com"


def test_a_newer_link_ends_the_older_ones(mail):
    services, mailbox = mail
    services.accounts.create_user("ana@example.com", OLD)
    services.password_reset.request("ana@example.com", ip="10.0.0.2")
    services.password_reset.request("ana@example.com", ip="10.0.0.2")
    first, second = (link_token(m) for m in received(services, mailbox, 2))

    services.password_reset.reset(second, NEW, ip="10.0.0.3")

    with pytest.raises(InvalidAccount) as refused:
        services.password_reset.reset(first, "yet another passphrase 3", ip="10.0.0.3")
    assert refused.value.code == "reset_link_used"


def test_the_answer_is_the_same_for_unknown_and_disabled_accounts_and_nothing_is_sent(mail):
    services, mailbox = mail
    user = services.accounts.create_user("ana@example.com", OLD)
    services.accounts_repo.update_user(user.id, is_active=False)

    assert services.password_reset.request("nobody@example.com", ip="10.0.0.2") is None
    assert services.password_reset.request("ana@example.com", ip="10.0.0.2") is None

    services.password_reset.wait_for_emails()
    time.sleep(0.2)
    assert mailbox.envelopes == []
    events = services.audit.list(services.local_scope, workspace_id="*", action="auth.password_reset_requested")
    assert sorted((e.actor_label, e.ip, e.details["account"]) for e in events) == [
        ("ana@example.com", "10.0.0.2", False), ("nobody@example.com", "10.0.0.2", False)]


def test_reset_emails_to_one_address_are_capped(mail):
    services, mailbox = mail
    services.accounts.create_user("ana@example.com", OLD)

    for _ in range(8):
        services.password_reset.request("ana@example.com", ip="10.0.0.2")

    assert len(received(services, mailbox, 5)) == 5
    time.sleep(0.2)
    assert len(mailbox.envelopes) == 5


def test_without_smtp_an_administrator_makes_the_link(services):
    ana = services.accounts.create_user("ana@example.com", OLD)
    bruno = services.accounts.create_user("bruno@example.com", OLD)
    services.password_reset.request("ana@example.com", ip="10.0.0.2")  # no email server: nothing to send

    with pytest.raises(Forbidden):
        services.password_reset.admin_link(Scope(Actor(bruno.id), services.accounts_repo.personal_workspace(bruno.id)),
                                           ana.id)
    link = services.password_reset.admin_link(services.local_scope, ana.id)
    services.password_reset.reset(parse_qs(urlsplit(link).query)["token"][0], NEW, ip="10.0.0.3")

    assert link.startswith("http://127.0.0.1:8080/reset?token=")
    assert services.accounts.sign_in("ana@example.com", NEW, ip="10.0.0.1").user.id == ana.id
    events = services.audit.list(services.local_scope, workspace_id="*", action="auth.password_reset")
    assert [(e.action, e.actor_id, e.target_id) for e in events] == [("auth.password_reset", ana.id, ana.id)]
    requested = services.audit.list(services.local_scope, workspace_id="*", action="auth.password_reset_requested")
    assert [(e.details.get("emailed"), e.details.get("by_admin", False)) for e in reversed(requested)] == [
        (False, False), (False, True)]
