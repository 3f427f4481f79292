"""Real local servers for the integration nodes' tests: an HTTP(S) server on 127.0.0.1 and an SMTP server
(aiosmtpd), with a self-signed certificate for 'localhost' made on the spot."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword


def make_certificate(folder: Path, name: str = "localhost") -> tuple[Path, Path]:
    """A self-signed certificate (its own authority) for `name` and 127.0.0.1: (certificate, key) PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


# --- HTTP ------------------------------------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    sni: str | None = None


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: Any) -> None:  # keep the test output quiet
        pass

    def _answer(self, status: int, body: bytes, media_type: str = "text/plain", **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", media_type)
        if "no_length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            if name != "no_length":
                self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        sni = getattr(self.connection, "sni", None)
        self.server.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body, sni))
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        parts = url.path.strip("/").split("/")
        if parts[0] == "echo":
            self._answer(200, json.dumps({"method": self.command, "path": self.path, "body": body.decode("utf-8"),
                                          "headers": dict(self.headers.items())}).encode(), "application/json")
        elif parts[0] == "json":
            self._answer(200, json.dumps({"client": {"name": "Ana Pérez"}, "total": 1200.5}).encode(),
                         "application/json; charset=utf-8")
        elif parts[0] == "latin1":
            self._answer(200, "Señal acústica".encode("latin-1"), "text/plain; charset=ISO-8859-1")
        elif parts[0] == "html":
            self._answer(200, b"<html><body>Hello</body></html>", "text/html")
        elif parts[0] == "status":
            self._answer(int(parts[1]), f"problem number {parts[1]}".encode())
        elif parts[0] == "redirect":
            self._answer(int(query.get("code", "302")), b"", Location=query["to"])
        elif parts[0] == "loop":
            self._answer(302, b"", Location=f"/loop/{int(parts[1]) + 1}")
        elif parts[0] == "big":
            size = int(parts[1])
            self._answer(200, b"x" * size, "application/octet-stream",
                         **({"no_length": "1"} if query.get("declared") == "no" else {}))
        elif parts[0] == "file":
            self._answer(200, self.server.file_bytes, "application/pdf")
        elif parts[0] == "flaky":  # busy the first time each key is asked for, then fine
            first = parts[1] not in self.server.flaky
            self.server.flaky.add(parts[1])
            if first:
                self._answer(503, b"busy, try later")
            else:
                self._answer(200, b'{"ok": true}', "application/json")
        elif parts[0] == "slack":
            self._answer(200, b"ok")
        elif parts[0] == "slack-gone":
            self._answer(404, b"no_service")
        else:
            self._answer(404, b"not here")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    seen: list[Seen]
    file_bytes: bytes = b"%PDF-1.4 test"
    flaky: set[str]


@dataclass
class WebServer:
    server: _Server
    scheme: str
    host: str = "127.0.0.1"
    seen: list[Seen] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str, host: str | None = None) -> str:
        return f"{self.scheme}://{host or self.host}:{self.port}{path}"


@contextmanager
def web_server(tls: ssl.SSLContext | None = None) -> Iterator[WebServer]:
    """An HTTP server on 127.0.0.1 (HTTPS with `tls`; it records the TLS server name each client sent)."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.seen, server.flaky = [], set()
    if tls is not None:
        names: dict[int, str | None] = {}

        def remember(sock: ssl.SSLSocket, name: str | None, _context: ssl.SSLContext) -> None:
            names[id(sock)] = name

        tls.sni_callback = remember
        inner = server.get_request

        def get_request() -> tuple[socket.socket, Any]:
            sock, address = inner()
            wrapped = tls.wrap_socket(sock, server_side=True)
            wrapped.sni = names.get(id(wrapped))  # type: ignore[attr-defined]
            return wrapped, address

        server.get_request = get_request  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield WebServer(server, "https" if tls else "http", seen=server.seen)
    finally:
        server.shutdown()
        server.server_close()


# --- SMTP ------------------------------------------------------------------------------------------------


class Mailbox:
    """aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


class Password:
    def __init__(self, user: str, password: str):
        self.user, self.password = user.encode(), password.encode()

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (self.user, self.password)
        return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def smtp_server(**options: Any) -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server on 127.0.0.1 (aiosmtpd); options go to its SMTP class (tls_context, authenticator…)."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    try:
        yield mailbox, controller.port
    finally:
        controller.stop()
