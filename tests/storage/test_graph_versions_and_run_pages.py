"""Saving a version based on a stale one, and paging runs, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from storage.accounts import AccountRepository
from storage.db import Database
from storage.graphs import GraphRepository, VersionConflict
from storage.migrate import upgrade
from storage.runs import RunRepository


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'g.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database")
    database = Database(url)
    upgrade(database)
    yield database
    database.dispose()


def spec(description: str) -> dict:
    return {"format_version": 2, "meta": {"name": f"g-{uuid.uuid4().hex[:6]}", "description": description},
            "nodes": [], "edges": []}


def account(db) -> tuple[str, str]:
    """A user and their personal workspace (the PostgreSQL database is shared by the session's tests)."""
    accounts = AccountRepository(db)
    user = accounts.create_user(f"{uuid.uuid4().hex[:8]}@example.invalid")
    return user.id, accounts.personal_workspace(user.id)


def test_a_save_from_a_stale_version_is_refused(db):
    repo = GraphRepository(db)
    owner, workspace = account(db)
    first = spec("v1")
    graph_id = repo.create(owner, first, workspace_id=workspace).graph_id
    mine = {**first, "meta": {**first["meta"], "description": "mine"}}
    theirs = {**first, "meta": {**first["meta"], "description": "theirs"}}

    assert repo.add_version(graph_id, mine, expected=1).number == 2
    with pytest.raises(VersionConflict) as exc:
        repo.add_version(graph_id, theirs, expected=1)

    assert (exc.value.expected, exc.value.latest) == (1, 2)
    assert [v.number for v in repo.versions(graph_id)] == [1, 2]
    assert repo.add_version(graph_id, mine, expected=1).number == 2  # the newest already: nothing to save
    assert repo.add_version(graph_id, theirs).number == 3  # no expectation: saved as before


def test_runs_page_by_keyset_without_repeats(db):
    graphs, runs = GraphRepository(db), RunRepository(db)
    owner, workspace = account(db)
    version = graphs.create(owner, spec("runs"), workspace_id=workspace)
    made = [runs.create(version_id=version.id, owner_id=owner, workspace_id=workspace, inputs={}, executor="test",
                        nodes=[], first=[]) for _ in range(5)]
    runs.cancel(made[0])

    seen, after = [], None
    while True:
        page = runs.list(owner_id=owner, limit=2, after=after)
        seen += [r.id for r in page]
        if len(page) < 2:
            break
        after = (page[-1].created_at, page[-1].id)

    assert sorted(seen) == sorted(made) and len(seen) == 5
    assert [r.id for r in runs.list(owner_id=owner, state="cancelled")] == [made[0]]
    assert len(runs.list(owner_id=owner, state="running")) == 4
