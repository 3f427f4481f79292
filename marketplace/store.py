"""The marketplace's tables: reads and writes in short transactions (sessions come from storage.db).

Rows leave as frozen dataclasses; nothing here checks permissions (marketplace/service.py does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update

from storage.db import Database
from storage.graphs import spec_sha256
from storage.models import utcnow

from .models import Install, Listing, ListingReport, ListingVersion, Rating
from .search import Filters, reindex, search, unindex

LISTING_FIELDS = ("visibility", "category", "tags", "language", "licence", "title", "short_description",
                  "long_description", "translations")


@dataclass(frozen=True)
class VersionRow:
    id: str
    listing_id: str
    number: int
    spec: dict[str, Any]
    node_types: list[dict[str, Any]]
    interface: dict[str, Any]
    stripped: list[dict[str, str]]
    example_inputs: dict[str, Any]
    example_output: str
    preview_svg: str
    changelog: str
    deprecated: bool
    created_at: datetime
    spec_sha256: str = ""


@dataclass(frozen=True)
class ListingRow:
    id: str
    workspace_id: str | None
    author_id: str | None
    author_name: str
    visibility: str
    official: bool
    origin_key: str | None
    category: str
    tags: list[str]
    language: str
    licence: str
    title: str
    short_description: str
    long_description: str
    translations: dict[str, Any]
    rating_count: int
    rating_average: float | None
    installs: int
    created_at: datetime
    updated_at: datetime
    latest_version: int = 0
    rank: float = 0.0
    node_types: list[str] = field(default_factory=list)

    def text(self, lang: str | None) -> dict[str, str]:
        """Title and descriptions in `lang` when the listing has them, else its own."""
        own = {"title": self.title, "short_description": self.short_description,
               "long_description": self.long_description}
        other = self.translations.get(lang or "", {}) if lang != self.language else {}
        return {k: (other.get(k) or v) for k, v in own.items()}


@dataclass(frozen=True)
class RatingRow:
    id: int
    listing_id: str
    user_id: str
    user_name: str
    stars: int
    review: str
    reply: str
    replied_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class InstallRow:
    id: str
    listing_id: str
    version_id: str
    workspace_id: str
    graph_id: str
    installed_by: str | None
    created_at: datetime
    updated_at: datetime


def _version(v: ListingVersion) -> VersionRow:
    return VersionRow(v.id, v.listing_id, v.number, v.spec, list(v.node_types or []), dict(v.interface or {}),
                      list(v.stripped or []), dict(v.example_inputs or {}), v.example_output, v.preview_svg,
                      v.changelog, v.deprecated, v.created_at, v.spec_sha256)


def _listing(item: Listing, latest: int = 0, rank: float = 0.0) -> ListingRow:
    average = round(item.rating_sum / item.rating_count, 2) if item.rating_count else None
    return ListingRow(item.id, item.workspace_id, item.author_id, item.author_name, item.visibility, item.official,
                      item.origin_key, item.category, list(item.tags or []), item.language, item.licence, item.title,
                      item.short_description, item.long_description, dict(item.translations or {}),
                      item.rating_count, average, item.installs, item.created_at, item.updated_at, latest, rank,
                      [t for t in item.node_types.split(",") if t])


def _rating(r: Rating) -> RatingRow:
    return RatingRow(r.id, r.listing_id, r.user_id, r.user_name, r.stars, r.review, r.reply, r.replied_at,
                     r.created_at, r.updated_at)


def _install(i: Install) -> InstallRow:
    return InstallRow(i.id, i.listing_id, i.version_id, i.workspace_id, i.graph_id, i.installed_by, i.created_at,
                      i.updated_at)


def _set_texts(listing: Listing, values: dict[str, Any]) -> None:
    for key in LISTING_FIELDS:
        if key in values and values[key] is not None:
            setattr(listing, key, values[key])
    langs = [listing.language] + [k for k in (listing.translations or {}) if k != listing.language]
    listing.languages = "," + ",".join(langs) + ","


class ListingStore:
    def __init__(self, db: Database):
        self.db = db

    # --- listings and versions ---------------------------------------------------------------------------------

    def create(self, values: dict[str, Any], version: dict[str, Any], *, workspace_id: str | None,
               author_id: str | None, author_name: str, official: bool = False,
               origin_key: str | None = None) -> tuple[ListingRow, VersionRow]:
        with self.db.session() as s:
            listing = Listing(workspace_id=workspace_id, author_id=author_id, author_name=author_name,
                              official=official, origin_key=origin_key, title=values["title"])
            _set_texts(listing, values)
            s.add(listing)
            s.flush()
            row = self._add_version(s, listing, version, author_id)
            return _listing(listing, row.number), row

    def add_version(self, listing_id: str, version: dict[str, Any], *, author_id: str | None,
                    values: dict[str, Any] | None = None) -> VersionRow:
        """A new version (the listing's texts updated from `values`); the newest one if the graph is the same."""
        with self.db.session() as s:
            listing = s.get(Listing, listing_id, with_for_update=True)
            if listing is None:
                raise LookupError(listing_id)
            latest = s.scalar(select(ListingVersion).where(ListingVersion.listing_id == listing_id)
                              .order_by(ListingVersion.number.desc()).limit(1))
            if values:
                _set_texts(listing, values)
                reindex(s, listing)
            if latest is not None and latest.spec_sha256 == spec_sha256(version["spec"]):
                return _version(latest)
            return self._add_version(s, listing, version, author_id, (latest.number if latest else 0) + 1)

    def _add_version(self, s: Any, listing: Listing, version: dict[str, Any], author_id: str | None,
                     number: int = 1) -> VersionRow:
        row = ListingVersion(listing_id=listing.id, number=number, spec=version["spec"],
                             spec_sha256=spec_sha256(version["spec"]), node_types=version["node_types"],
                             interface=version.get("interface", {}), stripped=version.get("stripped", []),
                             example_inputs=version.get("example_inputs") or {},
                             example_output=version.get("example_output") or "",
                             preview_svg=version.get("preview_svg", ""), changelog=version.get("changelog") or "",
                             created_by=author_id)
        s.add(row)
        listing.node_types = "," + ",".join(sorted({t["type"] for t in version["node_types"]})) + ","
        listing.updated_at = utcnow()
        reindex(s, listing)
        s.flush()
        return _version(row)

    def update_texts(self, listing_id: str, values: dict[str, Any]) -> ListingRow:
        with self.db.session() as s:
            listing = s.get(Listing, listing_id)
            if listing is None:
                raise LookupError(listing_id)
            _set_texts(listing, values)
            listing.updated_at = utcnow()
            reindex(s, listing)
            return _listing(listing)

    def delete(self, listing_id: str) -> None:
        with self.db.session() as s:
            unindex(s, listing_id)
            s.execute(delete(Listing).where(Listing.id == listing_id))

    def get(self, listing_id: str) -> ListingRow | None:
        with self.db.read() as s:
            listing = s.get(Listing, listing_id)
            if listing is None:
                return None
            latest = s.scalar(select(func.max(ListingVersion.number)).where(ListingVersion.listing_id == listing_id))
            return _listing(listing, latest or 0)

    def by_origin(self, origin_key: str, workspace_id: str | None) -> ListingRow | None:
        with self.db.read() as s:
            listing_id = s.scalar(select(Listing.id).where(Listing.origin_key == origin_key,
                                                           Listing.workspace_id.is_(None) if workspace_id is None
                                                           else Listing.workspace_id == workspace_id).limit(1))
        return self.get(listing_id) if listing_id else None

    def search(self, filters: Filters, *, workspace_ids: set[str] | None, limit: int = 50,
               offset: int = 0) -> list[ListingRow]:
        with self.db.read() as s:
            found = search(s, filters, workspace_ids=workspace_ids, limit=limit, offset=offset)
            ids = [item.id for item, _ in found]
            numbers = (select(ListingVersion.listing_id, func.max(ListingVersion.number))
                       .where(ListingVersion.listing_id.in_(ids)).group_by(ListingVersion.listing_id))
            latest: dict[str, int] = {i: n for i, n in s.execute(numbers)} if ids else {}
            return [_listing(item, latest.get(item.id, 0), rank) for item, rank in found]

    def versions(self, listing_id: str) -> list[VersionRow]:
        with self.db.read() as s:
            return [_version(v) for v in s.scalars(select(ListingVersion).where(ListingVersion.listing_id == listing_id)
                                                   .order_by(ListingVersion.number))]

    def version(self, version_id: str) -> VersionRow | None:
        with self.db.read() as s:
            v = s.get(ListingVersion, version_id)
            return _version(v) if v else None

    def latest(self, listing_id: str, *, usable: bool = True) -> VersionRow | None:
        """The newest version (with `usable`: the newest that is not deprecated)."""
        query = select(ListingVersion).where(ListingVersion.listing_id == listing_id)
        if usable:
            query = query.where(ListingVersion.deprecated.is_(False))
        with self.db.read() as s:
            v = s.scalar(query.order_by(ListingVersion.number.desc()).limit(1))
            return _version(v) if v else None

    def set_deprecated(self, listing_id: str, number: int, deprecated: bool) -> VersionRow | None:
        with self.db.session() as s:
            v = s.scalar(select(ListingVersion).where(ListingVersion.listing_id == listing_id,
                                                      ListingVersion.number == number))
            if v is None:
                return None
            v.deprecated = deprecated
            return _version(v)

    # --- ratings and reports -----------------------------------------------------------------------------------

    def rate(self, listing_id: str, user_id: str, user_name: str, stars: int, review: str) -> RatingRow:
        """Add or change the user's rating; the listing's count and sum follow in the same transaction."""
        with self.db.session() as s:
            rating = s.scalar(select(Rating).where(Rating.listing_id == listing_id, Rating.user_id == user_id))
            if rating is None:
                rating = Rating(listing_id=listing_id, user_id=user_id, user_name=user_name, stars=stars,
                                review=review)
                s.add(rating)
            else:
                rating.stars, rating.review, rating.user_name, rating.updated_at = stars, review, user_name, utcnow()
            s.flush()
            count, total = s.execute(select(func.count(Rating.id), func.coalesce(func.sum(Rating.stars), 0))
                                     .where(Rating.listing_id == listing_id)).one()
            s.execute(update(Listing).where(Listing.id == listing_id).values(rating_count=count, rating_sum=total))
            return _rating(rating)

    def rating(self, listing_id: str, user_id: str) -> RatingRow | None:
        with self.db.read() as s:
            r = s.scalar(select(Rating).where(Rating.listing_id == listing_id, Rating.user_id == user_id))
            return _rating(r) if r else None

    def reply(self, rating_id: int, text: str) -> RatingRow | None:
        with self.db.session() as s:
            r = s.get(Rating, rating_id)
            if r is None:
                return None
            r.reply, r.replied_at = text, utcnow() if text else None
            return _rating(r)

    def ratings(self, listing_id: str, limit: int = 100) -> list[RatingRow]:
        with self.db.read() as s:
            return [_rating(r) for r in s.scalars(select(Rating).where(Rating.listing_id == listing_id)
                                                  .order_by(Rating.updated_at.desc()).limit(limit))]

    def report(self, listing_id: str, user_id: str | None, reason: str, details: str) -> int:
        with self.db.session() as s:
            row = ListingReport(listing_id=listing_id, user_id=user_id, reason=reason, details=details)
            s.add(row)
            s.flush()
            return row.id

    def reports(self, listing_id: str | None = None) -> list[dict[str, Any]]:
        query = select(ListingReport).order_by(ListingReport.created_at.desc())
        if listing_id:
            query = query.where(ListingReport.listing_id == listing_id)
        with self.db.read() as s:
            return [{"id": r.id, "listing_id": r.listing_id, "user_id": r.user_id, "reason": r.reason,
                     "details": r.details, "created_at": r.created_at} for r in s.scalars(query)]

    # --- installs ----------------------------------------------------------------------------------------------

    def add_install(self, listing_id: str, version_id: str, workspace_id: str, graph_id: str,
                    user_id: str | None) -> InstallRow:
        with self.db.session() as s:
            row = Install(listing_id=listing_id, version_id=version_id, workspace_id=workspace_id, graph_id=graph_id,
                          installed_by=user_id)
            s.add(row)
            s.execute(update(Listing).where(Listing.id == listing_id).values(installs=Listing.installs + 1))
            s.flush()
            return _install(row)

    def move_install(self, install_id: str, version_id: str) -> None:
        with self.db.session() as s:
            s.execute(update(Install).where(Install.id == install_id).values(version_id=version_id,
                                                                            updated_at=utcnow()))

    def install_of(self, graph_id: str) -> InstallRow | None:
        with self.db.read() as s:
            i = s.scalar(select(Install).where(Install.graph_id == graph_id))
            return _install(i) if i else None

    def installs(self, workspace_id: str) -> list[InstallRow]:
        with self.db.read() as s:
            return [_install(i) for i in s.scalars(select(Install).where(Install.workspace_id == workspace_id)
                                                   .order_by(Install.created_at.desc()))]
