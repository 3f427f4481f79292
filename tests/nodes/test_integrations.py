"""The integration nodes against real local servers: the outbound-network guard (SSRF), http.request,
email.send (a real SMTP server, aiosmtpd) and slack.post."""

from __future__ import annotations

import email
import email.policy
import ipaddress
import json
import socket
import time

import pytest
from pydantic import ValidationError

from app.services import Services, node_limits
from nodes.base import NodeContext, NodeError, NodeInputError, TransientNodeError
from nodes.email_send import EmailConfig, EmailIn, EmailSend
from nodes.files import Limits
from nodes.http_request import HttpRequest, RequestConfig, RequestIn
from nodes.net import NetworkPolicy, SmtpServer, blocked_reason, fetch, tls_context
from nodes.slack_post import SlackConfig, SlackIn, SlackPost
from tests.conftest import CORPUS, make_settings
from tests.graphs import edge, graph, node, output
from tests.nodes.integration_servers import (
    Password,
    make_certificate,
    server_context,
    smtp_server,
    web_server,
)

LOCAL = NetworkPolicy(allowed_hosts=("127.0.0.1",))  # what an admin sets to let the test server through
PDF = (CORPUS / "pdf_form_libreoffice.pdf").read_bytes()
VAULT = {"api_token": "s3cret-token", "smtp_pw": "correct horse", "wrong_pw": "nope"}


@pytest.fixture(scope="module")
def server():
    with web_server() as running:
        running.server.file_bytes = PDF
        yield running


@pytest.fixture
def web(server):
    server.seen.clear()
    return server


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return make_certificate(tmp_path_factory.mktemp("tls"))


def context(store: Services | None = None, network: NetworkPolicy = LOCAL, smtp: SmtpServer | None = None,
            secrets: dict[str, str] | None = None) -> NodeContext:
    vault = VAULT if secrets is None else secrets
    return NodeContext(run_id="run-1", node_id="n1", artifacts=store.artifacts if store else None,  # type: ignore[arg-type]
                       limits=Limits(network=network, smtp=smtp), secrets=vault.get)


# --- the guard: which addresses are refused ----------------------------------------------------------------


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0", "0.1.2.3",
    "100.64.0.1", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.2.1",
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
    "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::a00:1", "2002:7f00:1::", "2001:db8::1",
])
def test_private_loopback_link_local_multicast_reserved_and_unspecified_addresses_are_refused(address):
    assert blocked_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8",
                                     "64:ff9b::808:808"])
def test_public_addresses_pass(address):
    assert blocked_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:{port}/echo", "http://localhost:{port}/echo", "http://2130706433:{port}/echo",
    "http://0x7f000001:{port}/echo", "http://0x7f.1:{port}/echo", "http://017700000001:{port}/echo",
    "http://127.1:{port}/echo",
    "http://[::1]:{port}/echo", "http://[::ffff:127.0.0.1]:{port}/echo", "http://0.0.0.0:{port}/echo",
    "http://[::]:{port}/echo", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/",
    "https://192.168.0.1/admin", "http://LOCALHOST:{port}/echo",
])
def test_every_spelling_of_an_internal_address_is_refused_before_connecting(web, url):
    # Given the default policy (no allow-list) and a real server listening on 127.0.0.1
    with pytest.raises(NodeError) as caught:
        fetch(NetworkPolicy(), "GET", url.format(port=web.port))

    # Then nothing reached it, and the message says why and what an administrator can do
    assert caught.value.code == "address_blocked"
    assert "MINDDOCS_NETWORK__ALLOWED_HOSTS" in caught.value.message
    assert web.seen == []


@pytest.mark.parametrize("url", ["http://0177.0.0.1:{port}/echo", "http://127.000.000.001:{port}/echo"])
def test_a_dotted_spelling_that_is_not_a_valid_address_is_refused_as_such(web, url):
    with pytest.raises(NodeError, match="is not a valid web address.*Invalid IPv4 address") as caught:
        fetch(LOCAL, "GET", url.format(port=web.port))
    assert caught.value.code == "bad_url" and web.seen == []


def test_a_name_that_resolves_to_loopback_names_the_address_it_points_to(web):
    with pytest.raises(NodeError, match=r"'localhost' \(it points to 127\.0\.0\.1\).*loopback"):
        fetch(NetworkPolicy(), "GET", web.url("/echo", host="localhost"))


@pytest.mark.parametrize("url, said", [
    ("file:///etc/passwd", "Only http:// and https://"), ("ftp://example.com/x", "not ftp://"),
    ("gopher://127.0.0.1:70/", "Only http://"), ("example.com/path", "has no scheme"),
    ("http:///path", "has no host name"), ("http://example.com:99999/", "ports go from 1 to 65535"),
    ("http://[::1/", "not a valid web address"),
])
def test_only_http_and_https_addresses_are_called(url, said):
    with pytest.raises(NodeError, match=said) as caught:
        fetch(LOCAL, "GET", url)
    assert caught.value.code == "bad_url"


def test_a_host_name_that_does_not_exist_is_a_sentence():
    with pytest.raises(NodeError, match="was not found; check the address") as caught:
        fetch(NetworkPolicy(), "GET", "http://no-such-host.invalid/")
    assert caught.value.code == "host_not_found"


@pytest.mark.parametrize("allowed", [("127.0.0.1",), ("127.0.0.0/8",), ("localhost",), ("*.localhost", "localhost")])
def test_the_allow_list_lets_an_internal_server_through_and_keeps_the_host_name(web, allowed):
    answer = fetch(NetworkPolicy(allowed_hosts=allowed), "GET", web.url("/echo", host="localhost"))

    assert answer.status == 200
    # the connection went to the checked address, and the server still saw the name that was typed
    assert json.loads(answer.content)["headers"]["Host"] == f"localhost:{web.port}"


def test_a_bad_allow_list_entry_is_reported_with_the_setting_name():
    with pytest.raises(ValueError, match="'10.0.0.0/33' in MINDDOCS_NETWORK__ALLOWED_HOSTS"):
        NetworkPolicy(allowed_hosts=("10.0.0.0/33",))


def test_an_allowed_network_also_covers_its_ipv4_mapped_ipv6_form():
    policy = NetworkPolicy(allowed_hosts=("10.20.0.0/16",))
    assert policy.allows_address(ipaddress.ip_address("::ffff:10.20.1.2"))
    assert not policy.allows_address(ipaddress.ip_address("10.21.0.1"))


# --- redirects: each hop checked again ----------------------------------------------------------------------


@pytest.mark.parametrize("target", ["http://127.0.0.2:{port}/echo", "http://169.254.169.254/latest/meta-data/",
                                    "http://10.0.0.1/", "http://[::1]:{port}/echo",
                                    "http://2130706434:{port}/echo"])
def test_a_redirect_from_an_allowed_server_to_a_private_address_is_refused(web, target):
    # Given an allow-list that permits exactly the test server's address
    policy = NetworkPolicy(allowed_hosts=("127.0.0.1/32",))

    # When the allowed server redirects somewhere internal
    with pytest.raises(NodeError) as caught:
        fetch(policy, "GET", web.url(f"/redirect?to={target.format(port=web.port)}"))

    # Then the hop is refused before any connection (127.0.0.2 would answer 'connection refused' instead)
    assert caught.value.code == "address_blocked"
    assert [seen.path.split("?")[0] for seen in web.seen] == ["/redirect"]


def test_a_redirect_to_another_scheme_is_refused(web):
    with pytest.raises(NodeError, match="Only http:// and https://"):
        fetch(LOCAL, "GET", web.url("/redirect?to=file:///etc/passwd"))


def test_redirects_are_followed_with_the_right_method_and_body(web):
    followed = fetch(LOCAL, "GET", web.url("/redirect?to=/json"))
    assert (followed.status, json.loads(followed.content)["total"]) == (200, 1200.5)
    assert followed.url == web.url("/json")

    after_post = json.loads(fetch(LOCAL, "POST", web.url("/redirect?code=303&to=/echo"), content=b"x=1").content)
    assert (after_post["method"], after_post["body"]) == ("GET", "")
    kept = json.loads(fetch(LOCAL, "POST", web.url("/redirect?code=307&to=/echo"), content=b"x=1").content)
    assert (kept["method"], kept["body"]) == ("POST", "x=1")


def test_credentials_are_not_handed_to_another_host_on_redirect(web):
    policy = NetworkPolicy(allowed_hosts=("127.0.0.1", "localhost"))
    headers = {"Authorization": "Bearer s3cret", "X-Api-Key": "k3y"}

    same = fetch(policy, "GET", web.url("/redirect?to=/echo"), headers=headers,
                 private_headers=("authorization", "x-api-key"))
    other = fetch(policy, "GET", web.url(f"/redirect?to={web.url('/echo', host='localhost')}"), headers=headers,
                  private_headers=("authorization", "x-api-key"))

    assert json.loads(same.content)["headers"]["Authorization"] == "Bearer s3cret"
    assert not {"Authorization", "X-Api-Key"} & set(json.loads(other.content)["headers"])


def test_more_than_five_redirects_stop(web):
    with pytest.raises(NodeError, match="redirected more than 5 times") as caught:
        fetch(LOCAL, "GET", web.url("/loop/0"))
    assert caught.value.code == "too_many_redirects"
    assert len(web.seen) == 6


def test_the_name_is_resolved_once_per_hop_and_the_checked_address_is_the_one_used(web, monkeypatch):
    # Given a name server that rebinds: the first answer for rebind.test is the allowed 127.0.0.1, every
    # later one is 127.0.0.2, where nothing listens (the system resolver is the stand-in for real DNS)
    real, answers = socket.getaddrinfo, []

    def rebinding(host, port, *args, **kwargs):
        if host == "rebind.test":
            answers.append(host)
            host = "127.0.0.1" if len(answers) == 1 else "127.0.0.2"
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)

    # When the node calls it
    answer = fetch(LOCAL, "GET", web.url("/echo", host="rebind.test"))

    # Then it asked once and connected to what it checked, not to a second answer
    assert answer.status == 200 and len(answers) == 1
    assert json.loads(answer.content)["headers"]["Host"] == f"rebind.test:{web.port}"


# --- size and time ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/big/5000", "/big/5000?declared=no"])
def test_an_answer_over_the_size_limit_is_not_read(web, path):
    with pytest.raises(NodeError, match="larger than the limit") as caught:
        fetch(NetworkPolicy(allowed_hosts=("127.0.0.1",), max_response_bytes=1000), "GET", web.url(path))
    assert caught.value.code == "response_too_large"
    assert len(fetch(NetworkPolicy(allowed_hosts=("127.0.0.1",), max_response_bytes=1000), "GET",
                     web.url("/big/1000?declared=no")).content) == 1000


def test_a_server_that_never_answers_times_out_as_a_temporary_failure():
    with socket.socket() as silent:  # accepts connections (the backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        started = time.monotonic()
        with pytest.raises(TransientNodeError, match="did not answer within 0.5 s"):
            fetch(NetworkPolicy(allowed_hosts=("127.0.0.1",), timeout_s=0.5), "GET",
                  f"http://127.0.0.1:{silent.getsockname()[1]}/")
        assert time.monotonic() - started < 5


def test_https_connects_to_the_checked_address_with_the_typed_name_for_sni_and_the_certificate(certificate):
    cert, key = certificate
    with web_server(server_context(cert, key)) as secure:
        trusted = NetworkPolicy(allowed_hosts=("127.0.0.1",), ca_file=cert)
        answer = fetch(trusted, "GET", secure.url("/echo", host="localhost"))

        assert answer.status == 200
        assert secure.seen[0].sni == "localhost"
        assert secure.seen[0].headers["Host"] == f"localhost:{secure.port}"

        with pytest.raises(NodeError, match="certificate of localhost cannot be trusted") as caught:
            fetch(NetworkPolicy(allowed_hosts=("127.0.0.1",)), "GET", secure.url("/echo", host="localhost"))
        assert caught.value.code == "bad_certificate"


def test_an_extra_certificate_authority_adds_to_the_public_ones(certificate):
    import certifi

    public = tls_context(None, public=certifi.where()).get_ca_certs()
    both = tls_context(certificate[0], public=certifi.where()).get_ca_certs()

    assert len(public) > 50 and len(both) == len(public) + 1
    assert any(dict(entry[0] for entry in ca["subject"]).get("commonName") == "localhost" for ca in both)


# --- http.request -------------------------------------------------------------------------------------------


def request(ctx: NodeContext, values: dict | None = None, **config):
    return HttpRequest().run(ctx, RequestConfig(**config), RequestIn(**(values or {})))


def test_get_fills_the_address_from_an_input_and_reads_json(web):
    out = request(context(), {"name": "Ana Pérez & Co"}, variables=["name"],
                  url=web.url("/echo") + "?client={{ name|urlencode }}")

    assert out.status == 200
    assert out.data["path"] == "/echo?client=Ana%20P%C3%A9rez%20%26%20Co"


def test_post_sends_a_json_body_headers_and_the_token_from_a_secret(web):
    out = request(context(), {"name": 'Ana "la jefa"', "ref": "A-17"}, variables=["name", "ref"], method="POST",
                  url=web.url("/echo"), headers="X-Reference: {{ ref }}\nAccept: application/json",
                  body_type="json", body='{"name": {{ name|tojson }}, "items": [1, 2]}', auth_secret="api_token")

    sent = out.data
    assert json.loads(sent["body"]) == {"name": 'Ana "la jefa"', "items": [1, 2]}
    assert sent["headers"]["Authorization"] == "Bearer s3cret-token"
    assert sent["headers"]["X-Reference"] == "A-17"
    assert sent["headers"]["Content-Type"] == "application/json"


def test_an_api_key_header_without_prefix(web):
    out = request(context(), url=web.url("/echo"), auth_secret="api_token", auth_header="X-Api-Key", auth_prefix="")
    assert out.data["headers"]["X-Api-Key"] == "s3cret-token" and "Authorization" not in out.data["headers"]


def test_the_answer_as_text_in_its_charset_and_as_a_stored_file(store, web):
    ctx = context(store)
    assert request(ctx, url=web.url("/latin1"), response="text").text == "Señal acústica"

    out = request(ctx, url=web.url("/file"), response="file", file_name="informe")

    assert (out.file.name, out.file.media_type) == ("informe.pdf", "application/pdf")
    assert store.artifacts.read_bytes(out.file) == PDF


@pytest.mark.parametrize("status, error, said", [
    (404, NodeError, (r"The server answered 404 \(Not Found\) to GET http://127.0.0.1:\d+/status/404: "
                      r"problem number 404\. Check the address\.")),
    (401, NodeError, "401 \\(Unauthorized\\).*Check the authentication secret"),
    (400, NodeError, "400 \\(Bad Request\\)"),
    (429, TransientNodeError, "429 \\(Too Many Requests\\)"),
    (503, TransientNodeError, "503 \\(Service Unavailable\\)"),
])
def test_a_status_outside_2xx_names_the_status_and_busy_servers_are_retried(web, status, error, said):
    with pytest.raises(error, match=said) as caught:
        request(context(), url=web.url(f"/status/{status}"))
    assert type(caught.value) is error


def test_an_answer_that_is_not_json_says_what_it_is(web):
    with pytest.raises(NodeError, match="The answer is not JSON \\(it is text/html\\)") as caught:
        request(context(), url=web.url("/html"))
    assert caught.value.code == "not_json"


def test_a_body_that_is_not_json_once_filled_is_refused_before_sending(web):
    with pytest.raises(NodeError, match="not valid JSON once filled.*tojson") as caught:
        request(context(), {"name": 'Ana "la jefa"'}, variables=["name"], method="POST", url=web.url("/echo"),
                body_type="json", body='{"name": "{{ name }}"}')
    assert caught.value.code == "bad_body" and web.seen == []


def test_a_header_value_with_a_line_break_is_refused(web):
    with pytest.raises(NodeError, match="line break") as caught:
        request(context(), {"ref": "x\r\nX-Evil: 1"}, variables=["ref"], url=web.url("/echo"),
                headers="X-Reference: {{ ref }}")
    assert caught.value.code == "bad_header" and web.seen == []


def test_a_missing_secret_stops_the_request(web):
    with pytest.raises(NodeError, match="The secret 'gone'.*does not exist") as caught:
        request(context(), url=web.url("/echo"), auth_secret="gone")
    assert caught.value.code == "secret_missing" and web.seen == []


def test_without_an_allow_list_the_node_refuses_the_internal_server(web):
    with pytest.raises(NodeError, match="MindDocs does not connect to '127.0.0.1'"):
        request(context(network=NetworkPolicy()), url=web.url("/echo"))
    assert web.seen == []


@pytest.mark.parametrize("config, said", [
    ({"url": "https://x.example/{{ id }}"}, "uses id but no such variable is declared"),
    ({"url": "https://x.example/{{ id"}, "the address has a mistake on line 1"),
    ({"url": "https://x.example/", "headers": "Accept application/json"}, "header line 1 .* is not 'Name: value'"),
    ({"url": "https://x.example/", "headers": "Host: other"}, "the Host header is set by MindDocs"),
    ({"url": "https://x.example/", "body": "hello"}, "there is a body but the body type is 'none'"),
    ({"url": "https://x.example/", "auth_header": "Bad Header"}, "auth_header"),
])
def test_config_mistakes_are_reported_when_the_node_is_set_up(config, said):
    with pytest.raises(ValidationError, match=said):
        RequestConfig(**config)


def test_output_ports_follow_the_response_setting():
    ports = {kind: [p.name for p in HttpRequest.output_ports(RequestConfig(response=kind))]
             for kind in ("json", "text", "file")}
    assert ports == {"json": ["data", "status"], "text": ["text", "status"], "file": ["file", "status"]}
    assert [p.name for p in HttpRequest.input_ports(RequestConfig(variables=["a", "b"]))] == ["a", "b"]


# --- through the runtime: settings reach the node -----------------------------------------------------------


def test_the_allow_list_setting_reaches_the_node_in_a_real_run(tmp_path, web):
    spec_nodes = [node("id", "io.input", name="id", kind="text"),
                  node("call", "http.request", url=web.url("/echo") + "?id={{ id }}", variables=["id"])]
    out_node, out_edge = output("out", "answer", "call", "data")
    spec = graph(spec_nodes + [out_node], [edge("id", "call", "value", "id"), out_edge], name="http")

    for allowed, state in (([], "failed"), (["127.0.0.1"], "succeeded")):
        with Services(make_settings(tmp_path / f"data{len(allowed)}", network={"allowed_hosts": allowed})) as svc:
            version = svc.graphs.save(spec)
            run = svc.runs.wait(svc.runs.start(version.id, {"id": "7"}), timeout_s=60)
            assert run.state == state, [(n.node_id, n.error_message) for n in run.nodes]
            if state == "failed":
                assert "MINDDOCS_NETWORK__ALLOWED_HOSTS" in " ".join(str(n.error_message) for n in run.nodes)
            else:
                assert run.outputs["answer"]["path"] == "/echo?id=7"


def test_a_busy_server_is_tried_again_by_the_runtime(tmp_path, web):
    # Given a server that answers 503 the first time and 200 after
    call = node("call", "http.request", url=web.url("/flaky/run-1"))
    out_node, out_edge = output("out", "answer", "call", "data")
    spec = graph([call, out_node], [out_edge], name="flaky")

    with Services(make_settings(tmp_path / "data", network={"allowed_hosts": ["127.0.0.1"]})) as svc:
        run = svc.runs.wait(svc.runs.start(svc.graphs.save(spec).id, {}), timeout_s=60)

    # Then the node was retried once (after 2 s) and the run succeeded
    assert run.state == "succeeded", [(n.node_id, n.error_message) for n in run.nodes]
    assert run.outputs["answer"] == {"ok": True}
    assert [seen.path for seen in web.seen] == ["/flaky/run-1", "/flaky/run-1"]


def test_smtp_settings_reach_the_nodes_without_showing_the_password(tmp_path):
    settings = make_settings(tmp_path, smtp={"host": "mail.example", "port": 465, "security": "tls",
                                             "username": "robot", "password": "pw-123", "sender": "a@b.example"},
                             network={"allowed_hosts": ["10.0.0.0/8"], "max_response_mb": 2})
    limits = node_limits(settings)

    assert (limits.smtp.host, limits.smtp.port, limits.smtp.password) == ("mail.example", 465, "pw-123")
    assert "pw-123" not in repr(limits)
    assert limits.network.allows_address(ipaddress.ip_address("10.9.8.7"))
    assert limits.network.max_response_bytes == 2 * 1024 * 1024
    assert node_limits(make_settings(tmp_path)).smtp is None


# --- email.send ---------------------------------------------------------------------------------------------


def mail_server(port: int, **options) -> SmtpServer:
    return SmtpServer(**{"host": "127.0.0.1", "port": port, "security": "none",
                         "sender": "MindDocs <robot@minddocs.example>", "timeout_s": 10, **options})


def send(ctx: NodeContext, values: dict | None = None, **config):
    return EmailSend().run(ctx, EmailConfig(**config), EmailIn(**(values or {})))


def received(mailbox) -> email.message.EmailMessage:
    (envelope,) = mailbox.envelopes
    return email.message_from_bytes(envelope.content, policy=email.policy.default)


def text_of(message: email.message.EmailMessage, kind: str) -> str:
    return message.get_body((kind,)).get_content().replace("\r\n", "\n")  # SMTP carries CRLF line ends


def test_an_email_with_placeholders_html_and_attachments_arrives_whole(store):
    with smtp_server() as (mailbox, port):
        ctx = context(store, smtp=mail_server(port))
        pdf = store.artifacts.put_bytes(PDF, name="contrato.pdf", media_type="application/pdf")
        notes = store.artifacts.put_bytes("Señal\n".encode(), name="notas.txt", media_type="text/plain")

        out = send(ctx, {"name": "José <jefe>", "address": "jose@cliente.example", "attachments": [pdf, notes]},
                   variables=["name", "address"], to="{{ address }}, Ana Pérez <ana@example.com>",
                   cc="archivo@example.com", subject="Su contrato, {{ name }}", body="Hola {{ name }},\nadjunto.",
                   html="<p>Hola <b>{{ name }}</b></p>")

        envelope = mailbox.envelopes[0]
        message = received(mailbox)

    assert sorted(envelope.rcpt_tos) == ["ana@example.com", "archivo@example.com", "jose@cliente.example"]
    assert envelope.mail_from == "robot@minddocs.example"
    assert message["Subject"] == "Su contrato, José <jefe>"
    assert message["To"] == "jose@cliente.example, Ana Pérez <ana@example.com>"
    assert message["Message-ID"] == out.message_id and out.message_id.endswith("@minddocs.example>")
    assert text_of(message, "plain") == "Hola José <jefe>,\nadjunto.\n"
    assert text_of(message, "html").strip() == "<p>Hola <b>José &lt;jefe&gt;</b></p>"
    attachments = [(a.get_filename(), a.get_content_type(), a.get_payload(decode=True))
                   for a in message.iter_attachments()]
    assert attachments == [("contrato.pdf", "application/pdf", PDF), ("notas.txt", "text/plain", "Señal\n".encode())]


def test_starttls_and_login_with_the_password_from_a_secret(certificate):
    cert, key = certificate
    with smtp_server(tls_context=server_context(cert, key), require_starttls=True,
                     authenticator=Password("robot", "correct horse"), auth_require_tls=True) as (mailbox, port):
        server = mail_server(port, security="starttls", username="robot", ca_file=cert, host="localhost")
        send(context(smtp=server), to="ana@example.com", subject="Hola", body="Cuerpo", smtp_password="smtp_pw")
        assert received(mailbox)["Subject"] == "Hola"

        with pytest.raises(NodeError, match="refused the user name or password") as caught:
            send(context(smtp=server), to="ana@example.com", subject="Hola", body="x", smtp_password="wrong_pw")
        assert caught.value.code == "smtp_auth"

        with pytest.raises(NodeError, match="cannot be trusted.*MINDDOCS_SMTP__CA_FILE") as caught:
            send(context(smtp=mail_server(port, security="starttls", host="localhost")), to="ana@example.com",
                 subject="Hola", body="x")
        assert caught.value.code == "bad_certificate"
        assert len(mailbox.envelopes) == 1


def test_implicit_tls_with_the_configured_password(certificate):
    cert, key = certificate
    # aiosmtpd only counts STARTTLS as TLS for AUTH; this connection is encrypted from the first byte
    with smtp_server(ssl_context=server_context(cert, key), authenticator=Password("robot", "pw-9"),
                     auth_require_tls=False) as (box, port):
        send(context(smtp=mail_server(port, security="tls", username="robot", password="pw-9", ca_file=cert,
                                      host="localhost")), to="ana@example.com", subject="TLS", body="ok")
        assert text_of(received(box), "plain") == "ok\n"


@pytest.mark.parametrize("values, config, said", [
    ({"subject": "Hola\r\nBcc: evil@attacker.example"}, {"subject": "{{ subject }}"}, "subject holds a line break"),
    ({"to": "ana@example.com\nBcc: evil@attacker.example"}, {"to": "{{ to }}"}, "To addresses hold a line break"),
    ({"to": "ana@example.com", "cc": "x@example.com\r\nBcc: evil@a.example"}, {"to": "{{ to }}", "cc": "{{ cc }}"},
     "Cc addresses hold a line break"),
])
def test_line_breaks_in_recipients_or_subject_are_refused_and_nothing_is_sent(values, config, said):
    with smtp_server() as (mailbox, port):
        with pytest.raises(NodeError, match=said) as caught:
            send(context(smtp=mail_server(port)), values, variables=list(values),
                 **{"to": "ana@example.com", "body": "x", **config})
        assert caught.value.code == "header_injection" and mailbox.envelopes == []


@pytest.mark.parametrize("to, said", [
    ("ana(at)example.com", "'ana' \\(read from 'ana\\(at\\)example.com'\\) under To is not an email address"),
    ("ana@example.com, bob", "'bob' \\(read from 'ana@example.com, bob'\\) under To is not an email address"),
    ("ana@", "'ana@' under To is not a list of email addresses"),
])
def test_addresses_are_checked(to, said):
    with pytest.raises(NodeError, match=said) as caught:
        send(context(smtp=mail_server(1)), {"to": to}, variables=["to"], to="{{ to }}", body="x")
    assert caught.value.code == "bad_address"


def test_without_smtp_settings_the_node_says_how_to_set_them_up():
    with pytest.raises(NodeError, match="MINDDOCS_SMTP__HOST") as caught:
        send(context(), to="ana@example.com", body="x")
    assert caught.value.code == "smtp_not_configured"


def test_a_sender_that_is_not_an_address_points_at_the_setting():
    with pytest.raises(NodeError, match="sender 'robot' is not an email address.*MINDDOCS_SMTP__SENDER"):
        send(context(smtp=mail_server(1, sender="robot")), to="ana@example.com", body="x")


def test_a_message_over_the_size_limit_is_refused(store):
    pdf = store.artifacts.put_bytes(PDF, name="big.pdf", media_type="application/pdf")
    with pytest.raises(NodeInputError, match="more than the mail server limit"):
        send(context(store, smtp=mail_server(1, max_message_bytes=1000)), {"attachments": [pdf]},
             to="ana@example.com", body="x")


def test_an_unreachable_mail_server_is_a_temporary_failure():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransientNodeError, match=f"could not reach the mail server 127.0.0.1:{port}"):
        send(context(smtp=mail_server(port)), to="ana@example.com", body="x")


def test_email_config_mistakes():
    with pytest.raises(ValidationError, match="write at least one recipient"):
        EmailConfig(to=" ")
    with pytest.raises(ValidationError, match="'attachments' is already an input"):
        EmailConfig(to="a@b.example", variables=["attachments"])
    with pytest.raises(ValidationError, match="the subject uses name but no such variable"):
        EmailConfig(to="a@b.example", subject="Hola {{ name }}")


# --- slack.post ---------------------------------------------------------------------------------------------


def test_slack_posts_to_an_allow_listed_webhook_and_escapes_values(web):
    ctx = context(secrets={"hook": web.url("/slack/T000/B000/XXXXSECRET")})

    out = SlackPost().run(ctx, SlackConfig(webhook="hook", variables=["client", "link"],
                                           message="*Informe* de {{ client }}: <{{ link }}|abrir>"),
                          SlackIn(client="<!channel> Ana & Co", link="https://example.com/r/1"))

    (seen,) = web.seen
    posted = json.loads(seen.body)
    assert posted == {"text": "*Informe* de &lt;!channel&gt; Ana &amp; Co: <https://example.com/r/1|abrir>"}
    assert seen.headers["Content-Type"] == "application/json" and out.text == posted["text"]


def test_slack_refuses_a_private_webhook_address_without_showing_it(web):
    ctx = context(network=NetworkPolicy(), secrets={"hook": web.url("/slack/T000/B000/XXXXSECRET")})

    with pytest.raises(NodeError, match="MINDDOCS_NETWORK__ALLOWED_HOSTS") as caught:
        SlackPost().run(ctx, SlackConfig(webhook="hook"), SlackIn(text="hola"))

    assert caught.value.code == "address_blocked" and "XXXXSECRET" not in caught.value.message
    assert web.seen == []


@pytest.mark.parametrize("secret, code, said", [
    ("hooks.slack.com/services/T0/B0/XXXXSECRET", "bad_url", "has no scheme"),
    ("ftp://hooks.slack.com/XXXXSECRET", "bad_url", "Only http:// and https://"),
])
def test_a_webhook_secret_that_is_not_a_web_address_is_reported_without_showing_it(secret, code, said):
    with pytest.raises(NodeError, match=said) as caught:
        SlackPost().run(context(secrets={"hook": secret}), SlackConfig(webhook="hook"), SlackIn(text="hola"))
    assert caught.value.code == code and "XXXXSECRET" not in caught.value.message
    assert "the address in secret 'hook'" in caught.value.message


def test_slack_says_when_the_webhook_is_gone(web):
    ctx = context(secrets={"hook": web.url("/slack-gone")})
    with pytest.raises(NodeError, match="Slack refused the message \\(404: no_service\\).*create a new one") as caught:
        SlackPost().run(ctx, SlackConfig(webhook="hook"), SlackIn(text="hola"))
    assert caught.value.code == "slack_refused"


def test_slack_needs_its_secret_and_a_message(web):
    with pytest.raises(NodeError, match="The secret 'hook'") as caught:
        SlackPost().run(context(secrets={}), SlackConfig(webhook="hook"), SlackIn(text="hola"))
    assert caught.value.code == "secret_missing"
    with pytest.raises(NodeError, match="The message is empty once filled"):
        SlackPost().run(context(secrets={"hook": web.url("/slack")}), SlackConfig(webhook="hook"), SlackIn(text=" "))
    assert web.seen == []

