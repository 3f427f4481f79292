"""The emails of accounts: an invitation to a workspace and a password-reset link, in Spanish or English,
sent through the administrator's SMTP server (the same one, and the same sending code, as email.send)."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from nodes.base import NodeError, TransientNodeError
from nodes.net import SmtpServer

log = logging.getLogger("minddocs.accounts")

_TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    "invitation": {
        "es": ("Invitación a «{workspace}» en MindDocs",
               "{inviter} te invita a trabajar en «{workspace}» en MindDocs con el papel de {role}.\n\n"
               "Abre este enlace para aceptar; funciona hasta el {expires} (UTC):\n{link}\n\n"
               "Entra (o crea tu cuenta) con esta dirección, {email}. Si no esperabas esta invitación, ignora "
               "este mensaje.\n"),
        "en": ("Invitation to '{workspace}' on MindDocs",
               "{inviter} invites you to work in '{workspace}' on MindDocs as {role}.\n\n"
               "Open this link to accept; it works until {expires} (UTC):\n{link}\n\n"
               "Sign in (or create your account) with this address, {email}. If you did not expect this "
               "invitation, ignore this message.\n"),
    },
    "reset": {
        "es": ("Restablecer tu contraseña de MindDocs",
               "Alguien (esperamos que tú) pidió restablecer la contraseña de {email} en MindDocs.\n\n"
               "Abre este enlace para elegir una nueva; funciona una sola vez y durante {minutes} minutos:\n"
               "{link}\n\nSi no lo pediste tú, ignora este mensaje: tu contraseña no cambia.\n"),
        "en": ("Reset your MindDocs password",
               "Someone (we hope you) asked to reset the password of {email} on MindDocs.\n\n"
               "Open this link to choose a new one; it works once and for {minutes} minutes:\n{link}\n\n"
               "If it was not you, ignore this message: your password stays as it is.\n"),
    },
}


def compose(kind: str, locale: str, to: str, sender: str, **values: object) -> EmailMessage:
    subject, body = _TEXTS[kind]["en" if locale == "en" else "es"]
    message = EmailMessage()
    message["From"], message["To"] = sender, to
    message["Subject"] = subject.format(**values)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body.format(email=to, **values))
    return message


def send_account_email(smtp: SmtpServer | None, kind: str, locale: str, to: str, **values: object) -> str | None:
    """Send one account email; None when the server took it, else a sentence saying why not (never raises:
    the link still works, and whoever asked can pass it on). The message, which holds the link, is not logged."""
    from nodes.email_send import send

    if smtp is None or not smtp.sender:
        return "Email is not set up on this server (MINDDOCS_SMTP__HOST and MINDDOCS_SMTP__SENDER)."
    try:
        send(smtp, smtp.password, compose(kind, locale, to, smtp.sender, **values))
    except (NodeError, TransientNodeError) as exc:
        log.warning("Could not send the %s email to %s: %s", kind, to, exc)
        return f"The email could not be sent: {exc}"
    return None
