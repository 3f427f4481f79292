"""Full-text search of the listings: one query function over SQLite FTS5 and PostgreSQL tsvector.

Both rank by relevance with titles weighing most, then tags, then descriptions; both match every word
of the query (as a prefix on SQLite, as a word on PostgreSQL's 'simple' configuration, accents ignored on
SQLite only). Without words, the sort asked for decides the order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Select, and_, func, literal_column, or_, select, text
from sqlalchemy.orm import Session

from .models import SEARCH_TABLE, Listing

Sort = Literal["relevance", "rating", "installs", "recent"]
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Filters:
    query: str = ""
    category: str | None = None
    tag: str | None = None
    language: str | None = None
    node_type: str | None = None
    official: bool | None = None
    sort: Sort = "relevance"


def words(query: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(query)][:20]


def search_texts(listing: Listing) -> tuple[str, str, str]:
    """(title, tags, body) as indexed: every language's title and descriptions."""
    translations = [t for t in (listing.translations or {}).values() if isinstance(t, dict)]
    title = " ".join([listing.title] + [str(t.get("title", "")) for t in translations])
    body = " ".join([listing.short_description, listing.long_description]
                    + [f"{t.get('short_description', '')} {t.get('long_description', '')}" for t in translations])
    return title, " ".join(str(t) for t in listing.tags or []), body


def reindex(session: Session, listing: Listing) -> None:
    """Bring a listing's search texts (and, on SQLite, its FTS5 row) up to date; call after each change."""
    listing.search_title, listing.search_tags, listing.search_body = search_texts(listing)
    if session.get_bind().dialect.name == "sqlite":
        session.flush()
        session.execute(text(f"DELETE FROM {SEARCH_TABLE} WHERE listing_id = :id"), {"id": listing.id})
        session.execute(text(f"INSERT INTO {SEARCH_TABLE} (listing_id, title, tags, body) VALUES (:id, :t, :g, :b)"),
                        {"id": listing.id, "t": listing.search_title, "g": listing.search_tags,
                         "b": listing.search_body})


def unindex(session: Session, listing_id: str) -> None:
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text(f"DELETE FROM {SEARCH_TABLE} WHERE listing_id = :id"), {"id": listing_id})


def search(session: Session, filters: Filters, *, workspace_ids: set[str] | None, limit: int = 50,
           offset: int = 0) -> list[tuple[Listing, float]]:
    """Listings matching `filters` that someone may see, best first, with their relevance (0 without words).

    `workspace_ids`: the workspaces whose workspace-only listings they see (besides every public listing);
    None: all listings (the system)."""
    terms = words(filters.query)
    query: Select = select(Listing)
    rank = literal_column("0.0")
    if terms:
        if session.get_bind().dialect.name == "sqlite":
            match = " ".join('"' + t.replace('"', "") + '"*' for t in terms)
            # bm25: lower is better; weights per column (listing_id, title, tags, body)
            fts = (select(literal_column("listing_id").label("listing_id"),
                          literal_column(f"bm25({SEARCH_TABLE}, 0.0, 10.0, 4.0, 1.0)").label("score"))
                   .select_from(text(SEARCH_TABLE))
                   .where(text(f"{SEARCH_TABLE} MATCH :match")).subquery())
            query = query.join(fts, fts.c.listing_id == Listing.id).params(match=match)
            rank = -fts.c.score
        else:
            vector = (func.setweight(func.to_tsvector("simple", Listing.search_title), literal_column("'A'"))
                      .op("||")(func.setweight(func.to_tsvector("simple", Listing.search_tags), literal_column("'B'")))
                      .op("||")(func.setweight(func.to_tsvector("simple", Listing.search_body), literal_column("'C'"))))
            tsquery = func.plainto_tsquery("simple", " ".join(terms))
            query = query.where(vector.op("@@")(tsquery))
            rank = func.ts_rank(vector, tsquery)
    query = query.add_columns(rank.label("rank"))
    if workspace_ids is not None:
        query = query.where(or_(Listing.visibility == "public",
                                and_(Listing.visibility == "workspace", Listing.workspace_id.in_(workspace_ids))))
    if filters.category:
        query = query.where(Listing.category == filters.category)
    if filters.tag:
        query = query.where(Listing.search_tags.contains(filters.tag))  # then checked exactly below
    if filters.language:
        query = query.where(Listing.languages.contains(f",{filters.language},"))
    if filters.node_type:
        query = query.where(Listing.node_types.contains(f",{filters.node_type},"))
    if filters.official is not None:
        query = query.where(Listing.official == filters.official)
    average = (Listing.rating_sum * 1.0) / func.nullif(Listing.rating_count, 0)
    orders = {"rating": [func.coalesce(average, 0).desc(), Listing.rating_count.desc()],
              "installs": [Listing.installs.desc()], "recent": [Listing.updated_at.desc()]}
    sort = filters.sort if filters.sort in orders or not terms else "relevance"
    order = [literal_column("rank").desc()] if sort == "relevance" else orders.get(sort, orders["recent"])
    query = query.order_by(*order, Listing.updated_at.desc(), Listing.id)
    if filters.tag:  # exact tag match needs the JSON list: filter after the query, page in Python
        rows = [(listing, float(r or 0)) for listing, r in session.execute(query)
                if filters.tag in (listing.tags or [])]
        return rows[offset:offset + limit]
    return [(listing, float(r or 0)) for listing, r in session.execute(query.limit(limit).offset(offset))]
