"""Full-text search through the one query function, on SQLite (FTS5) and PostgreSQL (tsvector)."""

from __future__ import annotations

import uuid

import pytest

from marketplace.models import Listing
from marketplace.search import Filters
from marketplace.store import ListingStore
from storage.db import Database
from storage.migrate import upgrade
from tests.marketplace.helpers import WELCOME


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database")
    db = Database(url)
    upgrade(db)
    yield ListingStore(db)
    db.dispose()


def add(store: ListingStore, title: str, *, tags=(), short="", long="", category="general", language="es",
        visibility="public", workspace_id=None, node_types=("io.input", "io.output", "text.template"),
        translations=None):
    version = {"spec": {**WELCOME, "meta": {**WELCOME["meta"], "name": title}},
               "node_types": [{"type": t, "version": 1} for t in node_types]}
    listing, _ = store.create({"title": title, "short_description": short, "long_description": long,
                               "category": category, "tags": list(tags), "language": language,
                               "visibility": visibility, "translations": translations or {}},
                              version, workspace_id=workspace_id, author_id=None, author_name="t")
    return listing


def titles(rows) -> list[str]:
    return [r.title for r in rows]


def test_ranking_title_before_tags_before_description(store):
    word = "zq" + uuid.uuid4().hex[:6]  # a word no other test's listing has (the PostgreSQL database is shared)
    add(store, "Plain letter", long=f"Mentions {word} once in a long description about other things.")
    add(store, f"The {word} generator", short="Makes documents")
    add(store, "Tagged one", tags=[word, "legal"])
    add(store, "Unrelated", long="nothing to see")

    rows = store.search(Filters(query=word), workspace_ids=set())

    assert titles(rows) == [f"The {word} generator", "Tagged one", "Plain letter"]
    assert rows[0].rank > rows[1].rank > rows[2].rank > 0


def test_every_word_must_match_and_translations_are_searched(store):
    word = "zq" + uuid.uuid4().hex[:6]
    add(store, f"Contrato {word}", translations={"en": {"title": f"Contract {word}",
                                                        "short_description": "rental agreement"}})
    add(store, f"Factura {word}")

    assert titles(store.search(Filters(query=f"{word} rental"), workspace_ids=set())) == [f"Contrato {word}"]
    assert titles(store.search(Filters(query=f"contract {word}"), workspace_ids=set())) == [f"Contrato {word}"]
    assert store.search(Filters(query=f"{word} nonexistentword"), workspace_ids=set()) == []


def test_filters_and_visibility(store):
    word = "zq" + uuid.uuid4().hex[:6]
    add(store, f"{word} hotel", category="hospitality", tags=["checkin"], language="en")
    add(store, f"{word} clinic", category="health", node_types=("doc.extract", "io.output"))
    private = add(store, f"{word} team only", visibility="workspace", workspace_id=None)

    q = Filters(query=word)
    assert titles(store.search(Filters(query=word, category="hospitality"), workspace_ids=set())) == [f"{word} hotel"]
    assert titles(store.search(Filters(query=word, tag="checkin"), workspace_ids=set())) == [f"{word} hotel"]
    assert titles(store.search(Filters(query=word, language="en"), workspace_ids=set())) == [f"{word} hotel"]
    assert titles(store.search(Filters(query=word, node_type="doc.extract"), workspace_ids=set())) == [
        f"{word} clinic"]
    assert private.title not in titles(store.search(q, workspace_ids=set()))
    assert private.title in titles(store.search(q, workspace_ids=None))  # the system sees everything


def test_sorting_by_rating_installs_and_recency(store):
    tag = "zq" + uuid.uuid4().hex[:6]
    old = add(store, "Old favourite", tags=[tag])
    new = add(store, "Newest", tags=[tag])
    with store.db.session() as s:  # the counters ratings and installs keep (their rules: test_ratings.py)
        s.get(Listing, old.id).rating_sum, s.get(Listing, old.id).rating_count = 9, 2
        s.get(Listing, new.id).installs = 7

    by = {sort: titles(store.search(Filters(tag=tag, sort=sort), workspace_ids=set()))
          for sort in ("rating", "installs", "recent")}
    assert by == {"rating": ["Old favourite", "Newest"], "installs": ["Newest", "Old favourite"],
                  "recent": ["Newest", "Old favourite"]}


def test_query_syntax_is_not_interpreted(store):
    word = "zq" + uuid.uuid4().hex[:6]
    add(store, f"{word} quotes")
    for query in [f'"{word}', f"{word} *", f"({word} ^", f"{word} -- ;", f"{word}:*"]:
        assert titles(store.search(Filters(query=query), workspace_ids=set())) == [f"{word} quotes"], query
