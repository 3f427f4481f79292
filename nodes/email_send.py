"""email.send: send an email, with upstream files attached, through the administrator's SMTP server."""

from __future__ import annotations

import re
import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, getaddresses, make_msgid, parseaddr
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .base import NodeContext, NodeError, NodeInputError, NodeType, Port, SecretName, TransientNodeError
from .files import safe_file_name
from .http_request import check_templates, variable_ports
from .net import SmtpServer, tls_context
from .ports import FILE, TEXT, File, FileRef, ListOf, Text, list_of
from .registry import register
from .templating import check_variable_names, render_text, sandbox

_text = sandbox(autoescape=False)
_html = sandbox(autoescape=True)  # values put into the HTML version are escaped: no markup from documents
_EMAIL = re.compile(r"^[^@\s<>(),;:\"\[\]\\]+@[\w-]+(\.[\w-]+)+$")
NOT_CONFIGURED = ("Email is not set up on this server: an administrator must set MINDDOCS_SMTP__HOST and "
                  "MINDDOCS_SMTP__SENDER (and the user and password, if the server asks for them); see "
                  "docs/integrations.md.")


class EmailConfig(BaseModel):
    to: str = Field("", max_length=5000, title="To",
                    description="One or more addresses separated by commas, e.g. ana@example.com, {{ email }}")
    cc: str = Field("", max_length=5000, title="Cc", description="Copies, separated by commas; may be empty")
    subject: str = Field("", max_length=1000, description="e.g. Your contract, {{ name }}")
    body: str = Field("", max_length=200_000, json_schema_extra={"format": "textarea"},
                      description="The message as plain text, with {{ placeholders }}")
    html: str = Field("", max_length=500_000, json_schema_extra={"format": "textarea"}, title="HTML version",
                      description="Optional formatted version shown by mail programs that can; values are "
                      "escaped")
    variables: list[str] = Field(default_factory=list, max_length=50,
                                 description="One input per name, usable in the recipients, subject and texts")
    smtp_password: SecretName | None = Field(None, title="SMTP password (secret)",
                                             description="Use this stored secret as the mail server password "
                                             "instead of the configured one; empty: the configured one")

    @field_validator("variables")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        return check_variable_names(names, reserved={"attachments"})

    @model_validator(mode="after")
    def _templates(self) -> EmailConfig:
        if not self.to.strip():
            raise ValueError("write at least one recipient under To")
        check_templates(self.variables, recipients=self.to, copies=self.cc, subject=self.subject,
                        body=self.body, **{"HTML version": self.html})
        return self


class EmailIn(BaseModel):
    model_config = ConfigDict(extra="allow")  # one input per declared variable
    attachments: ListOf[File] = Field(default_factory=list, description="Files to attach")


class EmailOut(BaseModel):
    message_id: Text = Field(description="The Message-ID of the email sent")


@register
class EmailSend(NodeType[EmailConfig, EmailIn, EmailOut]):
    """Send an email built from upstream values, with files attached, through the configured mail server.

    Recipients, subject and texts may use {{ placeholders }}; line breaks in recipients or the subject are
    refused, so a value taken from a document cannot add hidden recipients.
    """

    type_id = "email.send"
    display_name = "Send email"
    category = "integrations"
    queue = "default"
    timeout_s = 300
    max_retries = 2  # a server that is busy (4xx) or unreachable
    retry_delay_s = 5.0
    deterministic = False  # sending is the point: never reuse an earlier result

    @classmethod
    def input_ports(cls, config: EmailConfig) -> list[Port]:
        return variable_ports(config.variables) + [Port("attachments", list_of(FILE), False, "Files to attach")]

    @classmethod
    def output_ports(cls, config: EmailConfig) -> list[Port]:
        return [Port("message_id", TEXT, True, "The Message-ID of the email sent")]

    def run(self, ctx: NodeContext, config: EmailConfig, inputs: EmailIn) -> EmailOut:
        server: SmtpServer | None = ctx.limits.smtp
        if server is None or not server.sender:
            raise NodeError(NOT_CONFIGURED, code="smtp_not_configured")
        if not _EMAIL.match(parseaddr(server.sender)[1]):
            raise NodeError(f"The configured sender '{server.sender}' is not an email address; an administrator "
                            "must correct MINDDOCS_SMTP__SENDER (e.g. 'Oficina <avisos@example.com>').",
                            code="smtp_not_configured")
        values = dict(inputs.model_extra or {})
        to = addresses("To", render_text(_text, config.to, values))
        cc = addresses("Cc", render_text(_text, config.cc, values))
        if not to:
            raise NodeError("There is no recipient once the placeholders are filled; check the To setting and "
                            "the values connected to it.", code="no_recipient")
        subject = render_text(_text, config.subject, values).strip()
        if "\n" in subject or "\r" in subject:
            raise NodeError("The subject holds a line break once filled; a subject must be one line (a value "
                            "with line breaks could add hidden headers).", code="header_injection")
        message = EmailMessage(policy=SMTP)
        message["From"], message["To"], message["Subject"] = server.sender, to, subject
        if cc:
            message["Cc"] = cc
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(domain=parseaddr(server.sender)[1].rpartition("@")[2] or None)
        message.set_content(render_text(_text, config.body, values))
        if config.html.strip():
            message.add_alternative(render_text(_html, config.html, values), subtype="html")
        for ref in inputs.attachments:
            attach(ctx, message, ref)
        size = len(message.as_bytes())
        if size > server.max_message_bytes:
            raise NodeInputError("attachments", f"The email would be {size / 1e6:.1f} MB, more than the mail "
                                 f"server limit of {server.max_message_bytes / 1e6:g} MB; attach fewer or smaller "
                                 "files (Zip them, or send a link instead).")
        password = ctx.secret(config.smtp_password, "SMTP password") if config.smtp_password else server.password
        send(server, password, message)
        ctx.log(f"Sent '{subject}' to {len(to) + len(cc)} recipient(s) with {len(inputs.attachments)} file(s).")
        return EmailOut(message_id=str(message["Message-ID"]))


def addresses(field: str, text: str) -> list[Address]:
    """The addresses in `text` (commas or semicolons between them), each checked; NodeError otherwise."""
    if "\n" in text or "\r" in text:
        raise NodeError(f"The {field} addresses hold a line break once filled; write addresses separated by "
                        "commas (a value with line breaks could add hidden recipients).", code="header_injection")
    found = []
    for name, spec in getaddresses([text.replace(";", ",")]):
        if not name and not spec:
            if text.replace(",", "").replace(";", "").strip():  # there was something, but not an address
                raise NodeError(f"'{text.strip()[:200]}' under {field} is not a list of email addresses; write "
                                "them like ana@example.com, separated by commas.", code="bad_address")
            continue
        if not _EMAIL.match(spec):
            within = f" (read from '{text.strip()[:200]}')" if text.strip() != (spec or name) else ""
            raise NodeError(f"'{spec or name}'{within} under {field} is not an email address; write it like "
                            "ana@example.com.", code="bad_address")
        user, _, domain = spec.rpartition("@")
        found.append(Address(display_name=name, username=user, domain=domain))
    return found


def attach(ctx: NodeContext, message: EmailMessage, ref: FileRef) -> None:
    maintype, _, subtype = ref.media_type.partition("/")
    if not maintype or not subtype:
        maintype, subtype = "application", "octet-stream"
    with ctx.artifacts.open(ref) as source:
        data = source.read()
    message.add_attachment(data, maintype=maintype, subtype=subtype,
                           filename=safe_file_name(ref.name, fallback="attachment"))


def send(server: SmtpServer, password: str | None, message: EmailMessage) -> None:
    """Hand the message to the SMTP server; its answers become sentences (4xx and lost connections: retried)."""
    where = f"the mail server {server.host}:{server.port}"
    context = tls_context(server.ca_file)
    try:
        if server.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(server.host, server.port, timeout=server.timeout_s, context=context)
        else:
            smtp = smtplib.SMTP(server.host, server.port, timeout=server.timeout_s)
        with smtp:
            if server.security == "starttls":
                smtp.starttls(context=context)
            if server.username:
                smtp.login(server.username, password or "")
            refused = smtp.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise NodeError(f"{where} refused the user name or password ({_said(exc)}); check MINDDOCS_SMTP__USERNAME "
                        "and the password.", code="smtp_auth") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise NodeError(f"{where} refused every recipient: {_refused(exc.recipients)}.", code="smtp_refused") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise NodeError(f"{where} does not support this ({exc}); check MINDDOCS_SMTP__SECURITY (starttls, tls or "
                        "none) and the port.", code="smtp_not_supported") from None
    except smtplib.SMTPResponseException as exc:
        if 400 <= exc.smtp_code < 500:
            raise TransientNodeError(f"{where} answered {exc.smtp_code}: {_said(exc)}") from None
        raise NodeError(f"{where} refused the email ({exc.smtp_code}: {_said(exc)}).", code="smtp_error") from None
    except ssl.SSLCertVerificationError as exc:
        raise NodeError(f"The certificate of {where} cannot be trusted ({exc.verify_message}); set "
                        "MINDDOCS_SMTP__CA_FILE to its certificate authority.", code="bad_certificate") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise TransientNodeError(f"could not reach {where}: {exc or type(exc).__name__}") from None
    if refused:
        raise NodeError(f"The email was sent, but {where} refused some recipients: {_refused(refused)}.",
                        code="smtp_refused")


def _said(exc: smtplib.SMTPResponseException) -> str:
    message = exc.smtp_error
    return (message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)).strip()


def _refused(recipients: dict[str, Any]) -> str:
    return "; ".join(f"{who} ({code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text})"
                     for who, (code, text) in recipients.items())
