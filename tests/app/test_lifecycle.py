"""The data lifecycle on SQLite and PostgreSQL: retention, the orphan sweep, workspace deletion, export and
deletion of a person's data (docs/data.md)."""

from __future__ import annotations

import io
import json
import os
import time
import uuid
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.accounts import actor_for
from app.errors import Conflict, InvalidAccount
from app.services import Services
from storage.models import (
    Artifact,
    Graph,
    Run,
    Schedule,
    Secret,
    ShareLink,
    User,
    Workspace,
    WorkspaceFile,
    utcnow,
)
from tests.conftest import make_settings
from tests.graphs import edge, graph, node

COPY = graph([node("doc", "io.input", name="doc", kind="file"), node("out", "io.output", name="copy")],
             [edge("doc", "out", "value", "value")], name="Copy")
PASSWORD = "tall ladder 9876 blue"


@pytest.fixture(params=["sqlite", "postgres"])
def svc(request, tmp_path):
    extra = {"database_url": request.getfixturevalue("pg_database")} if request.param == "postgres" else {}
    settings = make_settings(tmp_path / "data", scheduler={"in_server": False},
                             retention={"artifact_days": 30, "orphan_grace_hours": 0}, **extra)
    with Services(settings) as services:
        yield services


def _unique(email: str) -> str:
    """PostgreSQL keeps one database for the whole session: every test gets addresses of its own."""
    name, _, domain = email.partition("@")
    return f"{name}.{uuid.uuid4().hex[:8]}@{domain}"


def _person(svc: Services, email: str, *, admin: bool = False):
    user = svc.accounts.create_user(_unique(email), PASSWORD, is_admin=admin)
    return user, svc.scope_for(actor_for(user))


def _copy_run(ws, content: bytes, name: str = "contrato.txt") -> tuple[str, str]:
    """(run id, sha256 of the file it took and handed back)."""
    version = ws.graphs.save(COPY)
    ref = ws.runs.upload(io.BytesIO(content), name=name)
    run_id = ws.runs.start(version.id, {"doc": ref.model_dump()})
    assert ws.runs.wait(run_id, 30).state == "succeeded"
    return run_id, ref.artifact


def _age(svc: Services, run_id: str, sha: str, days: int) -> None:
    """Make a run (and its workspace's hold on its file) `days` old."""
    moment = utcnow() - timedelta(days=days)
    with svc.db.session() as s:
        s.execute(update(Run).where(Run.id == run_id).values(created_at=moment, started_at=moment,
                                                             finished_at=moment))
        s.execute(update(WorkspaceFile).where(WorkspaceFile.sha256 == sha).values(created_at=moment))
        s.execute(update(Artifact).where(Artifact.sha256 == sha).values(created_at=moment))


def _stored(svc: Services, sha: str) -> bool:
    with svc.db.read() as s:
        recorded = s.get(Artifact, sha) is not None
    assert recorded == svc.artifacts.backend.exists(sha), "record and bytes disagree"
    return recorded


def _count(svc: Services, model, *where) -> int:
    with svc.db.read() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_retention_removes_old_run_files_and_keeps_the_runs(svc):
    # Given a run 40 days old and one from today, each with its own file
    _, scope = _person(svc, "ana@example.com")
    ws = svc.scoped(scope)
    old_run, old_file = _copy_run(ws, b"old contract")
    _, new_file = _copy_run(ws, b"new contract")
    _age(svc, old_run, old_file, 40)

    # When a dry run looks, nothing goes; when the sweep runs, the old file goes
    dry = svc.lifecycle.sweep(dry_run=True)
    assert dry.grants_expired == 1 and old_file in dry.removed and _stored(svc, old_file)
    report = svc.lifecycle.sweep()

    # Then the old run's file is gone, its record stays; the new run keeps its file
    assert old_file in report.removed and new_file not in report.removed
    assert not _stored(svc, old_file) and _stored(svc, new_file)
    kept = ws.runs.get(old_run)
    assert kept.state == "succeeded" and kept.inputs["doc"]["artifact"] == old_file and kept.nodes
    assert not svc.artifacts.granted(scope.workspace_id, old_file)


def test_a_file_used_by_a_newer_run_outlives_retention(svc):
    _, scope = _person(svc, "ana@example.com")
    ws = svc.scoped(scope)
    old_run, sha = _copy_run(ws, b"the same contract")
    _age(svc, old_run, sha, 40)
    _copy_run(ws, b"the same contract")  # used again today
    svc.lifecycle.sweep()
    assert _stored(svc, sha) and svc.artifacts.granted(scope.workspace_id, sha)


def test_orphans_are_swept_and_referenced_files_kept(svc):
    # Given a file nobody holds, a file a workspace holds, bytes on disk without a record, an abandoned upload
    _, scope = _person(svc, "ana@example.com")
    orphan = svc.artifacts.put_bytes(b"nobody's", name="x.txt").artifact
    held = svc.scoped(scope).runs.upload(io.BytesIO(b"mine"), name="mine.txt").artifact
    stray_sha = "ab" * 32
    stray = svc.artifacts.backend.local_path(stray_sha)
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"left behind")
    partial = svc.artifacts.backend.tmp / "tmpupload"
    partial.write_bytes(b"half")
    unrelated = svc.artifacts.backend.root / "README"
    unrelated.write_text("not ours")
    past = time.time() - 3600
    for path in (stray, partial, unrelated):
        os.utime(path, (past, past))

    report = svc.lifecycle.sweep()

    assert orphan in report.removed and not _stored(svc, orphan)
    assert _stored(svc, held)
    assert report.stray_files_removed >= 2 and not stray.exists() and not partial.exists()
    assert unrelated.exists()


def test_a_young_orphan_waits_for_the_grace_period(tmp_path):
    settings = make_settings(tmp_path / "data", scheduler={"in_server": False})  # 24 hours of grace
    with Services(settings) as svc:
        sha = svc.artifacts.put_bytes(b"being uploaded", name="u.txt").artifact
        assert svc.lifecycle.sweep().files_removed == 0 and _stored(svc, sha)


def test_deleting_a_workspace_takes_everything_and_spares_shared_files(svc):
    # Given a team workspace with a graph, a run, a schedule, a secret and a share link; one of its files
    # is also held by the owner's personal workspace
    owner, owner_scope = _person(svc, "owner@example.com")
    team = svc.workspaces.create(owner_scope, "Team")
    team_scope = svc.scope_for(actor_for(owner), team.id)
    team_ws = svc.scoped(team_scope)
    run_id, own_file = _copy_run(team_ws, b"team only")
    _, shared_file = _copy_run(team_ws, b"shared")
    _, personal_copy = _copy_run(svc.scoped(owner_scope), b"shared")
    assert personal_copy == shared_file
    graph_id = team_ws.graphs.list()[0].id
    team_ws.schedules.create({"name": "daily", "graph_id": graph_id, "cron": "0 9 * * *", "timezone": "UTC",
                              "inputs": team_ws.runs.get(run_id).inputs})
    team_ws.secrets.create("api_key", "s3cret")
    svc.share_links.create(team_scope, graph_id)

    svc.lifecycle.delete_workspace(team_scope, team.id)

    assert _count(svc, Workspace, Workspace.id == team.id) == 0
    for model in (Graph, Run, Schedule, Secret, ShareLink, WorkspaceFile):
        assert _count(svc, model, model.workspace_id == team.id) == 0, model.__name__
    assert not _stored(svc, own_file)
    assert _stored(svc, shared_file) and svc.artifacts.granted(owner_scope.workspace_id, shared_file)


def test_a_personal_workspace_cannot_be_deleted_alone(svc):
    _, scope = _person(svc, "ana@example.com")
    with pytest.raises(Conflict):
        svc.lifecycle.delete_workspace(scope, scope.workspace_id)


def _zip_of(chunks) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(chunks)))


def test_export_holds_the_persons_data(svc):
    user, scope = _person(svc, "ana@example.com")
    svc.accounts.sign_in_user(user.id, ip="10.0.0.7", user_agent="Firefox")
    ws = svc.scoped(scope)
    run_id, sha = _copy_run(ws, b"Contrato de arrendamiento")
    graph_id = ws.graphs.list()[0].id

    archive = _zip_of(svc.lifecycle.export_user(scope))

    names = set(archive.namelist())
    assert {"README.txt", "account.json", "workspaces.json", "schedules.json", "audit.jsonl",
            f"graphs/{graph_id}.json", f"runs/{run_id}/run.json", f"runs/{run_id}/files/contrato.txt"} <= names
    account = json.loads(archive.read("account.json"))
    assert account["email"] == user.email and account["sessions"][0]["ip"] == "10.0.0.7"
    assert "password_hash" not in account and "hash" not in archive.read("account.json").decode().lower()
    assert archive.read(f"runs/{run_id}/files/contrato.txt") == b"Contrato de arrendamiento"
    run = json.loads(archive.read(f"runs/{run_id}/run.json"))
    assert run["state"] == "succeeded" and run["files"] == [{"artifact": sha, "file": "files/contrato.txt",
                                                             "stored": True}]
    assert json.loads(archive.read(f"graphs/{graph_id}.json"))["spec"]["meta"]["name"] == "Copy"
    events = [json.loads(line) for line in archive.read("audit.jsonl").splitlines()]
    assert any(e["action"] == "auth.sign_in" for e in events)
    assert [w["personal"] for w in json.loads(archive.read("workspaces.json"))] == [True]


def test_delete_my_data_removes_everything_of_mine_and_leaves_others(svc):
    # Given Ana with a personal run, a member of Carla's team where she made a graph and a run; a file both
    # Ana and Carla hold in their personal workspaces
    ana, ana_scope = _person(svc, "ana@example.com")
    carla, carla_scope = _person(svc, "carla@example.com")
    team = svc.workspaces.create(carla_scope, "Team")
    svc.accounts_repo.set_role(team.id, ana.id, "editor")
    ana_ws = svc.scoped(ana_scope)
    _, mine_only = _copy_run(ana_ws, b"Ana's payslip")
    _, both = _copy_run(ana_ws, b"the public form")
    _copy_run(svc.scoped(carla_scope), b"the public form")
    team_run, team_file = _copy_run(svc.scoped(svc.scope_for(actor_for(ana), team.id)), b"team contract")
    personal = ana_scope.workspace_id
    # and a graph she made in a team she has left since
    old_team = svc.workspaces.create(svc.scope_for(actor_for(carla)), "Old team")
    svc.accounts_repo.set_role(old_team.id, ana.id, "editor")
    left_graph = svc.scoped(svc.scope_for(actor_for(ana), old_team.id)).graphs.save(COPY).graph_id
    svc.accounts_repo.set_role(old_team.id, ana.id, None)
    ana_scope = svc.scope_for(actor_for(ana))

    # When she asks with a wrong password, nothing happens; with hers, everything of hers goes
    with pytest.raises(InvalidAccount):
        svc.lifecycle.delete_user(ana_scope, password="wrong")
    svc.lifecycle.delete_user(ana_scope, password=PASSWORD)

    assert svc.accounts_repo.user(ana.id) is None
    assert _count(svc, Workspace, Workspace.id == personal) == 0
    assert _count(svc, Run, Run.workspace_id == personal) == 0
    assert not _stored(svc, mine_only)
    assert _stored(svc, both) and _stored(svc, team_file)
    # what she made for the team stays with the team, now Carla's
    assert _count(svc, Run, Run.owner_id == ana.id) == 0 and _count(svc, Graph, Graph.owner_id == ana.id) == 0
    assert svc.runs.get(team_run).owner_id == carla.id
    assert svc.graph_repo.get(left_graph).owner_id == carla.id
    assert svc.accounts_repo.roles(carla.id) == {carla_scope.workspace_id: "owner", team.id: "owner",
                                                 old_team.id: "owner"}
    events = svc.audit.list(svc.scope_for(actor_for(carla), team.id), workspace_id=team.id)
    assert "member.deleted" in [e.action for e in events]
    assert all(ana.email not in e.actor_label for e in events)


def test_the_last_owner_of_a_team_cannot_delete_their_account(svc):
    ana, scope = _person(svc, "ana@example.com")
    svc.workspaces.create(scope, "Ana's team")
    with pytest.raises(Conflict, match="last owner of 'Ana's team'"):
        svc.lifecycle.delete_user(scope, password=PASSWORD)
    assert svc.accounts_repo.user(ana.id) is not None


def test_an_account_without_password_confirms_with_its_email(svc):
    user = svc.accounts.create_user(_unique("sso@example.com"))
    scope = svc.scope_for(actor_for(user))
    with pytest.raises(InvalidAccount):
        svc.lifecycle.delete_user(scope, confirm="other@example.com")
    svc.lifecycle.delete_user(scope, confirm=user.email.upper() + " ")
    assert _count(svc, User, User.id == user.id) == 0


def test_the_api_exports_and_deletes_my_data(tmp_path):
    from fastapi.testclient import TestClient

    from app.main import create_app
    from tests.conftest import ADMIN_PASSWORD, sign_in

    settings = make_settings(tmp_path / "data", scheduler={"in_server": False})
    with TestClient(create_app(settings)) as client:
        svc = client.app.state.services
        sign_in(client, svc)  # the administrator
        user = sign_in(client, svc, "bea@example.com")
        run_id, _ = _copy_run(svc.scoped(svc.scope_for(actor_for(user))), b"Bea's letter", name="carta.txt")

        answer = client.get("/api/v1/me/export")
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
        assert "attachment" in answer.headers["content-disposition"]
        archive = zipfile.ZipFile(io.BytesIO(answer.content))
        assert archive.read(f"runs/{run_id}/files/carta.txt") == b"Bea's letter"

        refused = client.request("DELETE", "/api/v1/me", json={"password": "not it"})
        assert refused.status_code == 422 and refused.json()["code"] == "bad_credentials"
        assert client.request("DELETE", "/api/v1/me", json={"password": ADMIN_PASSWORD}).status_code == 204
        assert svc.accounts_repo.user(user.id) is None
        assert client.get("/api/v1/me").status_code == 401


def test_the_command_line(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from app.cli import cli

    monkeypatch.setenv("MINDDOCS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MINDDOCS_LOAD_SAMPLES", "false")
    monkeypatch.setenv("MINDDOCS_SCHEDULER__IN_SERVER", "false")
    monkeypatch.chdir(tmp_path)
    with Services(make_settings(tmp_path / "data", scheduler={"in_server": False})) as svc:
        user, scope = _person(svc, "dora@example.com")
        orphan = svc.artifacts.put_bytes(b"orphan", name="o.txt").artifact
        with svc.db.session() as s:
            s.execute(update(Artifact).where(Artifact.sha256 == orphan).values(created_at=utcnow() - timedelta(days=2)))
        _copy_run(svc.scoped(scope), b"Dora's file")
    runner = CliRunner()

    dry = runner.invoke(cli, ["data", "sweep", "--dry-run"])
    assert dry.exit_code == 0 and "Would remove 1 stored file(s)" in dry.output, dry.output
    assert runner.invoke(cli, ["data", "sweep"]).exit_code == 0

    target = tmp_path / "dora.zip"
    exported = runner.invoke(cli, ["data", "export-user", user.email, "-o", str(target)])
    assert exported.exit_code == 0, exported.output
    assert "account.json" in zipfile.ZipFile(target).namelist()

    unconfirmed = runner.invoke(cli, ["data", "delete-user", user.email])
    assert unconfirmed.exit_code == 2 and "--yes" in unconfirmed.output
    deleted = runner.invoke(cli, ["data", "delete-user", user.email, "--yes"])
    assert deleted.exit_code == 0, deleted.output
    assert runner.invoke(cli, ["data", "delete-user", user.email, "--yes"]).exit_code == 2
    with Services(make_settings(tmp_path / "data", scheduler={"in_server": False})) as svc:
        assert svc.accounts_repo.user_by_email(user.email) is None
        assert not svc.artifacts.backend.exists(orphan)


def test_the_scheduler_loop_sweeps_at_its_pace(tmp_path):
    import threading

    settings = make_settings(tmp_path / "data", scheduler={"in_server": False, "poll_s": 0.05},
                             retention={"orphan_grace_hours": 0, "sweep_hours": 1})
    with Services(settings) as svc:
        assert svc.lifecycle.maybe_sweep in svc.scheduler.chores
        orphan = svc.artifacts.put_bytes(b"orphan", name="o.txt").artifact
        svc.lifecycle.maybe_sweep()  # too early: the first sweep comes minutes after the start
        assert _stored(svc, orphan)
        svc.lifecycle._next_sweep = 0
        ticked = threading.Event()
        svc.scheduler.chores.append(ticked.set)
        svc.scheduler.start()
        assert ticked.wait(10)
        svc.scheduler.stop()
        assert not _stored(svc, orphan)
        assert svc.lifecycle._next_sweep > time.monotonic() + 3000  # the next one in an hour
