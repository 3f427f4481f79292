"""The one way a node calls a URL a person typed, guarded against server-side request forgery (SSRF).

A graph is written by users, and it runs inside the company network: without a guard, "http.request" to
http://169.254.169.254/ or http://localhost:6379/ would reach the cloud metadata service or the Redis
server from behind the firewall. So every request made here:

- goes only to http:// and https:// addresses;
- resolves the host name once and refuses private, loopback, link-local, multicast, reserved and
  unspecified addresses (IPv4 and IPv6, IPv6 forms that carry an IPv4 address, and odd spellings such as
  http://2130706433/ — they all resolve to an address first, and the address is what is checked), unless
  an administrator allowed that host or network (settings `network.allowed_hosts`);
- connects to exactly the address it checked (a second lookup could answer differently: DNS rebinding),
  while the Host header, TLS server name (SNI) and certificate check keep the name that was typed;
- follows redirects itself, at most `max_redirects`, checking every hop the same way;
- stops reading at `max_response_bytes` (counted after decompression) and after `timeout_s`.

The SMTP server of email.send is the administrator's own setting, not a URL a user typed; its settings
travel here too (`SmtpServer`) because nodes never read settings themselves.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .base import NodeError, TransientNodeError

if TYPE_CHECKING:
    import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")  # translates to the site's own IPv4 network
_HOST_NAME = re.compile(r"^(\*\.)?[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$")
ALLOW_SETTING = "MINDDOCS_NETWORK__ALLOWED_HOSTS"


@dataclass(frozen=True)
class NetworkPolicy:
    """Where nodes may connect (settings `network`): public addresses, plus what the administrator allowed.

    `allowed_hosts` holds host names (`intranet.example`, `*.corp.example` for its subdomains), IP
    addresses and CIDR blocks (`10.0.0.0/8`, `fd00::/8`) that may be reached although they are private.
    """

    allowed_hosts: tuple[str, ...] = ()
    timeout_s: float = 30.0
    max_response_bytes: int = 20 * 1024 * 1024
    max_redirects: int = 5
    ca_file: Path | None = None  # extra certificate authority to trust (an internal server's own CA)
    _names: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)
    _networks: tuple[Any, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names, networks = set(), []
        for entry in self.allowed_hosts:
            value = entry.strip().lower().rstrip(".")
            if not value:
                continue
            try:
                networks.append(ipaddress.ip_network(value.strip("[]"), strict=False))
            except ValueError:
                if not _HOST_NAME.match(value):
                    raise ValueError(f"'{entry}' in {ALLOW_SETTING} is neither a host name, an IP address nor a "
                                     "network such as 10.0.0.0/8; correct it.") from None
                names.add(value)
        object.__setattr__(self, "_names", frozenset(names))
        object.__setattr__(self, "_networks", tuple(networks))

    def allows_name(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host in self._names or any(n.startswith("*.") and host.endswith(n[1:]) for n in self._names)

    def allows_address(self, ip: IPAddress) -> bool:
        candidates = [ip] + ([embedded] if (embedded := _embedded_ipv4(ip)) else [])
        return any(c.version == n.version and c in n for c in candidates for n in self._networks)


@dataclass(frozen=True)
class SmtpServer:
    """The mail server email.send uses (settings `smtp`)."""

    host: str
    port: int = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str | None = None
    timeout_s: float = 30.0
    max_message_bytes: int = 25 * 1024 * 1024
    ca_file: Path | None = None


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped ::ffff:a.b.c.d, 6to4, NAT64), if any."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped or ip.sixtofour:
            return ip.ipv4_mapped or ip.sixtofour
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def blocked_reason(ip: IPAddress) -> str | None:
    """Why nodes may not connect to `ip` ('a loopback address (this machine)', ...); None when it is public."""
    if (embedded := _embedded_ipv4(ip)) is not None:
        return blocked_reason(embedded)
    if ip.is_unspecified:
        return "the unspecified address (0.0.0.0 or ::), which means this machine"
    if ip.is_loopback:
        return "a loopback address (this machine)"
    if ip.is_link_local:
        return "a link-local address (such as a cloud metadata service)"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private network address"
    if ip.is_reserved or not ip.is_global or ip in _LOCAL_NAT64:
        return "a reserved address, not on the public internet"
    return None


def parse_url(url: str) -> httpx.URL:
    """The URL, or a NodeError saying what is wrong with it: only http:// and https:// with a host name."""
    import httpx

    shown = url if len(url) <= 200 else url[:200] + "…"
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise NodeError(f"'{shown}' is not a valid web address ({exc}).", code="bad_url") from None
    if parsed.scheme not in ("http", "https"):
        if not parsed.scheme:
            raise NodeError(f"'{shown}' has no scheme; write the whole address, starting with https://.",
                            code="bad_url")
        raise NodeError(f"Only http:// and https:// addresses can be called, not {parsed.scheme}:// ('{shown}').",
                        code="bad_url")
    if not parsed.raw_host:
        raise NodeError(f"'{shown}' has no host name; write it like https://example.com/path.", code="bad_url")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise NodeError(f"'{shown}' has port {parsed.port}; ports go from 1 to 65535.", code="bad_url")
    return parsed


def checked_address(policy: NetworkPolicy, url: httpx.URL) -> IPAddress:
    """Resolve the URL's host once and return the address to connect to, or refuse with a NodeError."""
    host = url.raw_host.decode("ascii")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if exc.errno == socket.EAI_AGAIN:
            raise TransientNodeError(f"the name server did not answer for '{host}'") from None
        raise NodeError(f"The host name '{host}' was not found; check the address for typing mistakes.",
                        code="host_not_found") from None
    except (UnicodeError, ValueError) as exc:
        raise NodeError(f"The host name '{host}' is not valid ({exc}).", code="bad_url") from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))
    if not addresses:
        raise NodeError(f"The host name '{host}' has no address.", code="host_not_found")
    if policy.allows_name(host):
        return addresses[0]
    refused = []
    for ip in addresses:
        reason = blocked_reason(ip)
        if reason is None or policy.allows_address(ip):
            return ip
        refused.append((ip, reason))
    ip, reason = refused[0]
    what = f"'{host}'" if host == str(ip) else f"'{host}' (it points to {ip})"
    raise NodeError(f"MindDocs does not connect to {what}: that is {reason}. Requests to internal addresses "
                    "are blocked to protect the server's network. If this server should be reachable, an "
                    f"administrator can add it to {ALLOW_SETTING}.", code="address_blocked")


@dataclass
class Fetched:
    status: int
    headers: Any  # httpx.Headers
    content: bytes
    url: str  # the last address, after redirects

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


def fetch(policy: NetworkPolicy, method: str, url: str, *, headers: dict[str, str] | None = None,
          content: bytes | None = None, private_headers: tuple[str, ...] = ("authorization",)) -> Fetched:
    """Make one guarded request, following redirects hop by hop; `private_headers` are dropped when a
    redirect leads to another host (a token meant for one server is never handed to the next)."""
    import httpx

    target, headers = parse_url(url), dict(headers or {})
    deadline = time.monotonic() + policy.timeout_s
    verify: Any = tls_context(policy.ca_file, public=_public_authorities()) if policy.ca_file else True
    with httpx.Client(trust_env=False, follow_redirects=False, timeout=policy.timeout_s, verify=verify) as client:
        for _hop in range(policy.max_redirects + 1):
            ip = checked_address(policy, target)
            response = _send(client, method, target, ip, headers, content)
            try:
                location = response.headers.get("location")
                if response.status_code not in REDIRECTS or not location:
                    body = _read(response, policy, target, deadline)
                    return Fetched(response.status_code, response.headers, body, str(target))
            finally:
                response.close()
            following = parse_url(str(target.join(location)))
            if response.status_code == 303 and method != "HEAD" or response.status_code in (301, 302) \
                    and method == "POST":
                method, content = "GET", None
                headers = {k: v for k, v in headers.items() if k.lower() not in ("content-type", "content-length")}
            if (following.scheme, following.raw_host, following.port) != (target.scheme, target.raw_host,
                                                                           target.port):
                dropped = {h.lower() for h in private_headers} | {"authorization", "cookie", "proxy-authorization"}
                headers = {k: v for k, v in headers.items() if k.lower() not in dropped}
            target = following
    raise NodeError(f"The address redirected more than {policy.max_redirects} times (last to {target}); "
                    "call the final address directly.", code="too_many_redirects")


def tls_context(ca_file: Path | None, public: str | None = None) -> ssl.SSLContext:
    """Certificates are checked against the public authorities (`public`: a bundle file; None: the system's),
    plus the administrator's own authority when `ca_file` is set (an internal server's certificates)."""
    context = ssl.create_default_context(cafile=public)
    if ca_file:
        context.load_verify_locations(cafile=str(ca_file))
    return context


def _public_authorities() -> str:
    import certifi  # the bundle httpx uses by default

    return certifi.where()


def _send(client: httpx.Client, method: str, url: httpx.URL, ip: IPAddress, headers: dict[str, str],
          content: bytes | None) -> httpx.Response:
    """Send to the checked address: the URL names the IP, Host and SNI name the host that was typed."""
    import httpx

    host = url.raw_host.decode("ascii")
    extensions = {"sni_hostname": host} if url.scheme == "https" else {}
    request = client.build_request(method, url.copy_with(host=str(ip)), content=content, extensions=extensions,
                                   headers={**headers, "Host": url.netloc.decode("ascii")})
    try:
        return client.send(request, stream=True)
    except httpx.TimeoutException:
        raise TransientNodeError(f"{host} did not answer within {client.timeout.read or 0:g} s") from None
    except httpx.ConnectError as exc:
        if "CERTIFICATE_VERIFY_FAILED" in str(exc) or "certificate" in str(exc).lower():
            raise NodeError(f"The HTTPS certificate of {host} cannot be trusted ({exc}); check the address, or "
                            "ask the server's owner to fix its certificate.", code="bad_certificate") from None
        raise TransientNodeError(f"could not connect to {host}: {exc}") from None
    except httpx.LocalProtocolError as exc:
        raise NodeError(f"The request cannot be sent as written ({exc}); check the headers.",
                        code="bad_request") from None
    except httpx.TransportError as exc:
        raise TransientNodeError(f"the connection to {host} failed: {exc}") from None


def _read(response: httpx.Response, policy: NetworkPolicy, url: httpx.URL, deadline: float) -> bytes:
    import httpx

    limit, host = policy.max_response_bytes, url.raw_host.decode("ascii")
    too_large = NodeError(f"The answer from {host} is larger than the limit of {limit / 1e6:g} MB, so it was not "
                          "read; ask for less data, or raise MINDDOCS_NETWORK__MAX_RESPONSE_MB.",
                          code="response_too_large")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    try:
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise too_large
            if time.monotonic() > deadline:
                raise TransientNodeError(f"{host} took longer than {policy.timeout_s:g} s to answer")
            chunks.append(chunk)
    except httpx.TimeoutException:
        raise TransientNodeError(f"{host} took longer than {policy.timeout_s:g} s to answer") from None
    except httpx.DecodingError as exc:
        raise NodeError(f"The answer from {host} is damaged ({exc}).", code="bad_response") from None
    except httpx.TransportError as exc:
        raise TransientNodeError(f"the connection to {host} broke while reading: {exc}") from None
    return b"".join(chunks)
