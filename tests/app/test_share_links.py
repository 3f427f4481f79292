"""Share links (app/share_links.py) on a real database with the embedded worker: editors create, list and revoke
them; visitors without an account run the graph, and see only their own submission."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from app.errors import (
    Forbidden,
    InvalidGraph,
    InvalidInputs,
    InvalidRequest,
    NotFound,
    NotSignedIn,
    TooManyRequests,
)
from app.policy import Actor, Scope
from app.services import Services
from app.share_limits import RateLimiter
from app.share_links import ShareLinkGone, sha256
from app.share_models import Upload, frame_ancestors, normalise_origin
from storage.models import Run, ShareLink
from tests.conftest import REDIS_URL, make_settings
from tests.graphs import edge, graph, node, output

PASSWORD = "a long passphrase 42"


def echo_graph(name: str = "Echo") -> dict:
    """One text input 'note' handed back as the output 'echo' (inline nodes: runs in milliseconds)."""
    out, wire = output("echo", "echo", "note", "value")
    return graph([node("note", "io.input", name="note", kind="text", label="Your note"), out], [wire], name=name)


def extract_graph() -> dict:
    """A document input whose text is extracted (doc.extract) and returned as 'text'."""
    out, wire = output("out", "text", "extract", "text")
    out["config"]["label"] = "Texto del documento"
    return graph([node("doc", "io.input", name="doc", kind="document"), node("extract", "doc.extract"), out],
                 [edge("doc", "extract", "value", "document"), wire], name="Extract")


def person(services: Services, email: str) -> Scope:
    user = services.accounts.create_user(email, PASSWORD)
    return scope_of(services, user.id)


def scope_of(services: Services, user_id: str, workspace_id: str | None = None) -> Scope:
    user = services.accounts_repo.user(user_id)
    return services.scope_for(Actor(user.id, label=user.email), workspace_id)


@pytest.fixture
def editor(services: Services) -> Scope:
    return person(services, "editor@example.com")


@pytest.fixture
def echo(services: Services, editor: Scope) -> str:
    return services.scoped(editor).graphs.save(echo_graph()).graph_id


def finished(services: Services, token: str, run_id: str, secret: str):
    """The submission's status once the embedded worker has finished its run."""
    deadline = datetime.now(UTC) + timedelta(seconds=30)
    while datetime.now(UTC) < deadline:
        status = services.share_links.status(token, run_id, secret)
        if status.finished:
            return status
        threading.Event().wait(0.05)
    raise AssertionError(f"run {run_id} did not finish")


# --- editors -------------------------------------------------------------------------------------------------


def test_an_editor_creates_a_link_that_can_be_copied_again_and_is_audited(services, editor, echo):
    created = services.share_links.create(editor, echo, name="Check-in", allowed_origins=["https://Hotel.example/"])
    assert created.url == f"{services.settings.notifications.public_url}/s/{created.token}"
    assert created.link.allowed_origins == ["https://hotel.example"]
    stored = services.share_links.repo.get(created.link.id)
    assert stored.token_hash == sha256(created.token) and created.token not in stored.token_sealed
    listed = services.share_links.list(editor, echo)
    assert [(v.link.id, v.url) for v in listed] == [(created.link.id, created.url)]
    json = listed[0].to_json()
    assert json["state"] == "active" and "token_hash" not in json and "token_sealed" not in json
    assert created.embed_url in json["embed_html"]
    events = services.audit.list(editor, action="share_link.created")
    assert [e.target_id for e in events] == [created.link.id]


def test_viewers_and_outsiders_cannot_create_list_or_revoke_links(services, editor, echo):
    created = services.share_links.create(editor, echo)
    viewer, outsider = person(services, "viewer@example.com"), person(services, "outsider@example.com")
    services.accounts_repo.set_role(editor.workspace_id, viewer.user_id, "viewer")
    viewer = scope_of(services, viewer.user_id, editor.workspace_id)
    with pytest.raises(Forbidden):
        services.share_links.create(viewer, echo)
    with pytest.raises(Forbidden):
        services.share_links.list(viewer, echo)
    with pytest.raises(Forbidden):
        services.share_links.revoke(viewer, created.link.id)
    for call in (lambda: services.share_links.create(outsider, echo), lambda: services.share_links.list(outsider, echo),
                 lambda: services.share_links.revoke(outsider, created.link.id)):
        with pytest.raises(NotFound):
            call()
    assert services.share_links.link(created.token).state() == "active"


@pytest.mark.parametrize("origin, problem", [
    ("ftp://example.com", "https://"), ("https://example.com/form", "without a path"),
    ("https://user@example.com", "user name"), ("javascript:alert(1)", "https://"),
    ("https://example.com; script-src *", "host name"), ("https://exa mple.com", "host name"),
    ("https://example.com:99999", "port"), ("https://example.com?x=1", "without a path"),
])
def test_allowed_origins_are_checked(origin, problem):
    with pytest.raises(InvalidRequest, match=problem):
        normalise_origin(origin)


def test_origins_are_normalised_and_become_frame_ancestors():
    assert normalise_origin(" HTTPS://Www.Example.com:8443/ ") == "https://www.example.com:8443"
    assert normalise_origin("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert normalise_origin("https://*.example.com") == "https://*.example.com"
    assert frame_ancestors(["https://a.example", "http://b.example:81"]) == \
        "frame-ancestors https://a.example http://b.example:81"
    assert frame_ancestors([]) == "frame-ancestors 'none'"


def test_a_link_to_a_graph_with_problems_is_refused(services, editor):
    broken = graph([node("o", "io.output", name="o")], [])  # the output's value is not connected
    graph_id = services.scoped(editor).graphs.save(broken).graph_id
    with pytest.raises(InvalidGraph, match="fix them before sharing"):
        services.share_links.create(editor, graph_id)


# --- visitors ------------------------------------------------------------------------------------------------


def test_a_visitor_runs_the_form_and_sees_only_their_result(services, editor, echo):
    created = services.share_links.create(editor, echo)
    form = services.share_links.form(created.token)
    assert [(i["name"], i["kind"], i["label"], i["required"]) for i in form.inputs] == \
        [("note", "text", "Your note", True)]
    assert "node_id" not in form.inputs[0]
    sent = services.share_links.submit(created.token, values={"note": "hola"}, ip="10.0.0.1")
    status = finished(services, created.token, sent.run_id, sent.secret)
    assert status.state == "succeeded"
    assert status.to_json()["outputs"] == [{"name": "echo", "label": "echo", "kind": "value", "value": "hola"}]
    run = services.run_repo.get(sent.run_id)
    assert (run.owner_id, run.workspace_id, run.share_link_id) == (editor.user_id, editor.workspace_id,
                                                                   created.link.id)
    assert services.share_links.repo.get(created.link.id).runs_count == 1
    assert [e.details["run_id"] for e in services.audit.list(editor, action="share_link.run")] == [sent.run_id]
    # the owner finds it among the workspace's runs
    assert sent.run_id in [r.id for r in services.scoped(editor).runs.list()]


def test_submitters_cannot_see_each_others_runs(services, editor, echo):
    created = services.share_links.create(editor, echo)
    other = services.share_links.create(editor, echo, name="other link")
    a = services.share_links.submit(created.token, values={"note": "secret of A"}, ip="10.0.0.1")
    b = services.share_links.submit(created.token, values={"note": "B"}, ip="10.0.0.2")
    finished(services, created.token, a.run_id, a.secret)
    own_run = services.scoped(editor).runs.start(services.scoped(editor).graphs.latest(echo).id, {"note": "x"})
    attempts = [
        (created.token, a.run_id, b.secret),  # B's secret on A's run
        (created.token, a.run_id, a.secret[:-1] + ("A" if a.secret[-1] != "A" else "B")),  # altered secret
        (created.token, a.run_id, ""),
        (other.token, a.run_id, a.secret),  # the right secret through another link
        (created.token, own_run, a.secret),  # a run not started through the link
        (created.token, "0" * 32, a.secret),  # a guessed id
    ]
    for token, run_id, secret in attempts:
        with pytest.raises(NotFound):
            services.share_links.status(token, run_id, secret)
        with pytest.raises(NotFound):
            services.share_links.output(token, run_id, secret, "echo")
    assert services.share_links.output(created.token, a.run_id, a.secret, "echo") == "secret of A"
    stored = services.share_links.repo.submission(a.run_id)
    assert stored.submission_hash == sha256(a.secret) and a.secret not in str(services.run_repo.get(a.run_id))


def test_outputs_are_withheld_when_the_link_delivers_to_the_owner_only(services, editor, echo):
    created = services.share_links.create(editor, echo, show_outputs=False)
    assert services.share_links.form(created.token).to_json()["show_outputs"] is False
    sent = services.share_links.submit(created.token, values={"note": "for the owner"})
    status = finished(services, created.token, sent.run_id, sent.secret)
    assert status.state == "succeeded"
    assert status.to_json()["outputs"] is None and status.to_json()["delivered_to_owner_only"] is True
    with pytest.raises(Forbidden, match="owner only"):
        services.share_links.output(created.token, sent.run_id, sent.secret, "echo")
    assert services.scoped(editor).runs.get(sent.run_id).outputs == {"echo": "for the owner"}


def test_a_revoked_link_stops_at_once(services, editor, echo):
    created = services.share_links.create(editor, echo)
    sent = services.share_links.submit(created.token, values={"note": "x"})
    finished(services, created.token, sent.run_id, sent.secret)
    services.share_links.revoke(editor, created.link.id)
    for call in (lambda: services.share_links.form(created.token),
                 lambda: services.share_links.submit(created.token, values={"note": "y"}),
                 lambda: services.share_links.status(created.token, sent.run_id, sent.secret),
                 lambda: services.share_links.output(created.token, sent.run_id, sent.secret, "echo")):
        with pytest.raises(ShareLinkGone) as caught:
            call()
        assert caught.value.status == 410 and caught.value.code == "share_link_revoked"
    assert services.share_links.list(editor, echo)[0].to_json()["state"] == "revoked"
    assert [e.target_id for e in services.audit.list(editor, action="share_link.revoked")] == [created.link.id]


def test_an_expired_link_takes_no_more_runs_but_shows_a_run_already_sent(services, editor, echo):
    with pytest.raises(InvalidRequest, match="past"):
        services.share_links.create(editor, echo, expires_at=datetime.now(UTC) - timedelta(minutes=1))
    created = services.share_links.create(editor, echo, expires_at=datetime.now(UTC) + timedelta(hours=1))
    sent = services.share_links.submit(created.token, values={"note": "x"})
    finished(services, created.token, sent.run_id, sent.secret)
    with services.db.session() as s:
        s.execute(update(ShareLink).where(ShareLink.id == created.link.id)
                  .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    with pytest.raises(ShareLinkGone) as caught:
        services.share_links.form(created.token)
    assert caught.value.code == "share_link_expired"
    with pytest.raises(ShareLinkGone):
        services.share_links.submit(created.token, values={"note": "y"})
    assert services.share_links.status(created.token, sent.run_id, sent.secret).state == "succeeded"


def test_max_runs_holds_under_concurrent_submissions(services, editor, echo):
    created = services.share_links.create(editor, echo, max_runs=3)
    results: list[object] = []

    def submit(i: int) -> None:
        try:
            results.append(services.share_links.submit(created.token, values={"note": str(i)}, ip=f"10.0.1.{i}"))
        except ShareLinkGone as exc:
            results.append(exc)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    gone = [r for r in results if isinstance(r, ShareLinkGone)]
    assert len(results) - len(gone) == 3 and len(gone) == 5
    assert {g.code for g in gone} == {"share_link_used_up"}
    assert services.share_links.repo.get(created.link.id).runs_count == 3
    with services.db.read() as s:
        assert s.query(Run).filter(Run.share_link_id == created.link.id).count() == 3


def test_refused_inputs_do_not_use_up_a_run(services, editor, echo):
    created = services.share_links.create(editor, echo, max_runs=1)
    with pytest.raises(InvalidInputs, match="no input 'other'"):
        services.share_links.submit(created.token, values={"other": "x"})
    with pytest.raises(InvalidInputs, match="missing"):
        services.share_links.submit(created.token, values={})
    with pytest.raises(InvalidInputs, match="not a file"):
        services.share_links.submit(created.token, uploads=[Upload("note", io.BytesIO(b"x"), "note.txt")])
    assert services.share_links.repo.get(created.link.id).runs_count == 0
    services.share_links.submit(created.token, values={"note": "x"})


def test_file_inputs_take_uploads_only_and_check_their_type(services, editor):
    graph_id = services.scoped(editor).graphs.save(extract_graph()).graph_id
    created = services.share_links.create(editor, graph_id)
    assert services.share_links.form(created.token).inputs[0]["accept"] == \
        ["docx", "epub", "html", "odt", "pdf", "text"]
    copied = services.scoped(editor).runs.upload(io.BytesIO(b"the owner's file"), name="owner.txt")
    with pytest.raises(InvalidInputs, match="is a file"):
        services.share_links.submit(created.token, values={"doc": copied.model_dump()})
    with pytest.raises(InvalidInputs, match="accepts"):
        services.share_links.submit(created.token, uploads=[Upload("doc", io.BytesIO(b"\x00\x01\x02\x89PNG" * 50),
                                                                   "x.txt")])
    sent = services.share_links.submit(created.token, uploads=[Upload("doc", io.BytesIO(
        b"# Reserva\n\nLlegada el 3 de mayo."), "reserva.md", "text/markdown")])
    status = finished(services, created.token, sent.run_id, sent.secret)
    assert status.state == "succeeded", status.error
    assert "Llegada el 3 de mayo." in services.share_links.output(created.token, sent.run_id, sent.secret, "text")


def test_uploads_over_the_size_limit_are_refused(tmp_path):
    with Services(make_settings(tmp_path / "data", storage={"max_upload_mb": 1})) as services:
        editor = person(services, "editor@example.com")
        graph_id = services.scoped(editor).graphs.save(extract_graph()).graph_id
        created = services.share_links.create(editor, graph_id)
        with pytest.raises(Exception) as caught:
            services.share_links.submit(created.token, uploads=[Upload("doc", io.BytesIO(b"a" * (1024 * 1024 + 10)),
                                                                       "big.txt")])
        assert caught.value.status == 413
        assert services.share_links.repo.get(created.link.id).runs_count == 0


def test_unknown_and_tampered_tokens_are_not_found(services, editor, echo):
    created = services.share_links.create(editor, echo)
    flipped = created.token[:-1] + ("a" if created.token[-1] != "a" else "b")
    for token in (flipped, created.token + "x", "", "../etc/passwd", "s" * 43, created.link.id):
        with pytest.raises(NotFound) as caught:
            services.share_links.form(token)
        assert caught.value.code == "share_link_not_found"


def test_password_protected_links(tmp_path):
    settings = make_settings(tmp_path / "data", auth={"max_failures_per_ip": 3})
    with Services(settings) as services:
        editor = person(services, "editor@example.com")
        echo = services.scoped(editor).graphs.save(echo_graph()).graph_id
        with pytest.raises(InvalidRequest, match="6 to 200"):
            services.share_links.create(editor, echo, password="abc")
        created = services.share_links.create(editor, echo, password="hotel-2026")
        assert services.share_links.repo.get(created.link.id).password_hash.startswith("$argon2")
        locked = services.share_links.form(created.token)
        assert locked.needs_password and locked.to_json()["inputs"] == []
        with pytest.raises(NotSignedIn) as caught:
            services.share_links.submit(created.token, values={"note": "x"}, ip="10.0.0.9")
        assert caught.value.code == "share_password_required"
        for _ in range(3):
            with pytest.raises(NotSignedIn) as caught:
                services.share_links.form(created.token, password="guess", ip="10.0.0.9")
            assert caught.value.code == "share_password_wrong"
        with pytest.raises(TooManyRequests) as caught:  # throttled, even with the right password
            services.share_links.form(created.token, password="hotel-2026", ip="10.0.0.9")
        assert caught.value.details["retry_after_s"] > 0
        assert services.share_links.form(created.token, password="hotel-2026", ip="10.0.0.10").inputs
        sent = services.share_links.submit(created.token, values={"note": "x"}, password="hotel-2026", ip="10.0.0.10")
        assert finished(services, created.token, sent.run_id, sent.secret).state == "succeeded"


def test_submissions_are_rate_limited_per_address(tmp_path):
    with Services(make_settings(tmp_path / "data", auth={"share_rate_per_minute": 2})) as services:
        editor = person(services, "editor@example.com")
        echo = services.scoped(editor).graphs.save(echo_graph()).graph_id
        created = services.share_links.create(editor, echo)
        for _ in range(2):
            services.share_links.submit(created.token, values={"note": "x"}, ip="10.0.0.1")
        with pytest.raises(TooManyRequests) as caught:
            services.share_links.submit(created.token, values={"note": "x"}, ip="10.0.0.1")
        assert 0 < caught.value.details["retry_after_s"] <= 60
        services.share_links.submit(created.token, values={"note": "x"}, ip="10.0.0.2")  # another address
        assert services.share_links.repo.get(created.link.id).runs_count == 3


def test_the_rate_limiter_counts_in_redis_across_processes(redis_namespace):
    first, second = RateLimiter(REDIS_URL, redis_namespace), RateLimiter(REDIS_URL, redis_namespace)
    try:
        assert first.hit("share:ip:1", 2) is None and second.hit("share:ip:1", 2) is None
        assert first.hit("share:ip:1", 2) is not None  # the third, counted by both
        assert second.blocked("share:ip:1", 3) is not None and second.blocked("share:ip:2", 3) is None
    finally:
        first.close()
        second.close()


def test_a_link_stops_when_its_creator_can_no_longer_share(services, editor, echo):
    team = services.workspaces.create(scope_of(services, editor.user_id), "Team")
    member = person(services, "member@example.com")
    services.accounts_repo.set_role(team.id, member.user_id, "editor")
    member = scope_of(services, member.user_id, team.id)
    graph_id = services.scoped(member).graphs.save(echo_graph("Team echo")).graph_id
    created = services.share_links.create(member, graph_id)
    services.share_links.submit(created.token, values={"note": "x"})
    services.accounts_repo.set_role(team.id, member.user_id, "viewer")
    with pytest.raises(ShareLinkGone):
        services.share_links.submit(created.token, values={"note": "y"})
