"""The marketplace as a service: every method takes the asking Scope and checks it (app/policy.py).

Public listings are visible to every signed-in person, workspace listings only to that workspace's members.
Publishing needs `listing.publish` in the graph's workspace, installing `listing.install` in the chosen one;
official listings (no workspace) are changed only by instance administrators.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError

from app.audit import AuditLog
from app.errors import AppError, Forbidden, InvalidRequest, NotFound
from app.policy import Scope
from nodes.registry import Registry
from storage.db import Database
from storage.graphs import spec_sha256

from . import bundle as bundles
from .installs import Installer
from .official import AUTHOR, official_files, official_listing
from .preview import render_svg
from .publish import prepare
from .search import Filters
from .store import ListingRow, ListingStore, RatingRow, VersionRow

log = logging.getLogger("minddocs")

CATEGORIES = ("legal", "real_estate", "hospitality", "hr", "health", "marketing", "photography", "general")
REPORT_REASONS = ("spam", "harmful", "broken", "copyright", "other")


@dataclass
class ListingForm:
    """What the publisher writes about a listing (texts, classification, examples)."""

    title: str
    short_description: str = ""
    long_description: str = ""
    category: str = "general"
    tags: list[str] = field(default_factory=list)
    language: str = "es"
    licence: str = "CC-BY-4.0"
    visibility: str = "workspace"
    translations: dict[str, dict[str, str]] = field(default_factory=dict)
    example_inputs: dict[str, Any] = field(default_factory=dict)
    example_output: str = ""
    changelog: str = ""

    def check(self) -> dict[str, Any]:
        problems = []
        if not self.title.strip() or len(self.title) > 200:
            problems.append({"field": "title", "message": "Give a title of 1 to 200 characters."})
        if len(self.short_description) > 300:
            problems.append({"field": "short_description", "message": "Keep the short description under 300 "
                             "characters; the long description takes the rest."})
        if self.category not in CATEGORIES:
            problems.append({"field": "category", "message": f"Choose one of: {', '.join(CATEGORIES)}."})
        if self.visibility not in ("public", "workspace"):
            problems.append({"field": "visibility", "message": "Choose 'public' or 'workspace'."})
        if len(self.tags) > 30 or any(not t.strip() or len(t) > 40 for t in self.tags):
            problems.append({"field": "tags", "message": "Use at most 30 tags of 1 to 40 characters."})
        if len(self.translations) > 10 or any(
                len(lang) > 8 or not isinstance(texts, dict) or len(str(texts.get("title", ""))) > 200
                or len(str(texts.get("short_description", ""))) > 300
                or len(str(texts.get("long_description", ""))) > 100_000 for lang, texts in self.translations.items()):
            problems.append({"field": "translations", "message": "Give at most 10 translations, each with a title of "
                             "at most 200 characters and descriptions as long as the listing's own."})
        if len(self.long_description) > 100_000:
            problems.append({"field": "long_description", "message": "Keep the description under 100,000 characters."})
        if problems:
            raise InvalidRequest("The listing cannot be published: " + " ".join(p["message"] for p in problems),
                                 code="invalid_listing", details=problems)
        return {"title": self.title.strip(), "short_description": self.short_description.strip(),
                "long_description": self.long_description, "category": self.category,
                "tags": sorted({t.strip() for t in self.tags}), "language": self.language[:8],
                "licence": self.licence[:100], "visibility": self.visibility, "translations": self.translations}


@dataclass(frozen=True)
class ListingDetail:
    listing: ListingRow
    versions: list[VersionRow]
    ratings: list[RatingRow]
    my_rating: RatingRow | None
    can_manage: bool


class MarketplaceService(Installer):
    def __init__(self, db: Database, registry: Registry, graphs_for: Callable[[Scope], Any], audit: AuditLog,
                 accounts: Any = None, *, samples_dir: Path | None = None, max_nodes: int = 500):
        self.store = ListingStore(db)
        self.registry = registry
        self.graphs_for = graphs_for  # Scope -> the graph service bound to it (services.scoped(scope).graphs)
        self.audit = audit
        self.accounts = accounts
        self.max_nodes = max_nodes
        self.samples_dir = samples_dir
        self._official_lock = threading.Lock()
        self._official_done = samples_dir is None

    # --- seeing listings ---------------------------------------------------------------------------------------

    def _member_workspaces(self, scope: Scope) -> set[str] | None:
        if scope.actor.kind == "system":
            return None
        return {ws for ws in scope.roles if scope.can("graph.read", ws)}

    def _visible(self, scope: Scope, listing_id: str) -> ListingRow:
        self.ensure_official()
        listing = self.store.get(listing_id)
        if listing is None or not (listing.visibility == "public" or listing.workspace_id is None
                                   or scope.can("graph.read", listing.workspace_id)):
            raise NotFound(f"There is no listing with id {listing_id[:40]}.")
        return listing

    def _managed(self, scope: Scope, listing_id: str) -> ListingRow:
        listing = self._visible(scope, listing_id)
        if listing.workspace_id is None:
            if not scope.actor.is_admin:
                raise Forbidden("Official templates are changed by the instance administrators only.")
        else:
            scope.require("listing.publish", listing.workspace_id, what="listing")
        return listing

    def can_manage(self, scope: Scope, listing: ListingRow) -> bool:
        if listing.workspace_id is None:
            return scope.actor.is_admin
        return scope.can("listing.publish", listing.workspace_id)

    def search(self, scope: Scope, filters: Filters, *, limit: int = 50, offset: int = 0) -> list[ListingRow]:
        """Listings the scope may see, matching `filters` (full-text query, category, tag, language, node type)."""
        self.ensure_official()
        return self.store.search(filters, workspace_ids=self._member_workspaces(scope), limit=min(max(limit, 1), 500),
                                 offset=max(offset, 0))

    def get(self, scope: Scope, listing_id: str) -> ListingDetail:
        listing = self._visible(scope, listing_id)
        return ListingDetail(listing, self.store.versions(listing_id), self.store.ratings(listing_id),
                             self.store.rating(listing_id, scope.user_id), self.can_manage(scope, listing))

    def version(self, scope: Scope, listing_id: str, number: int | None = None) -> VersionRow:
        """Version `number` of a listing, or the newest one that is not deprecated."""
        self._visible(scope, listing_id)
        if number is None:
            row = self.store.latest(listing_id) or self.store.latest(listing_id, usable=False)
        else:
            row = next((v for v in self.store.versions(listing_id) if v.number == number), None)
        if row is None:
            raise NotFound(f"Listing {listing_id[:40]} has no version {number}.")
        return row

    # --- publishing --------------------------------------------------------------------------------------------

    def _author_name(self, scope: Scope) -> str:
        user = self.accounts.user(scope.user_id) if self.accounts is not None else None
        return (user.name or user.email.split("@")[0]) if user else scope.actor.label

    def _version_values(self, source: dict[str, Any], form: ListingForm) -> dict[str, Any]:
        prepared = prepare(source, self.registry, max_nodes=self.max_nodes)
        return {"spec": prepared.spec, "node_types": prepared.node_types, "interface": prepared.interface,
                "stripped": prepared.stripped, "preview_svg": render_svg(prepared.spec),
                "example_inputs": form.example_inputs, "example_output": form.example_output[:100_000],
                "changelog": form.changelog[:20_000]}

    def publish(self, scope: Scope, graph_version_id: str, form: ListingForm, *,
                listing_id: str | None = None) -> tuple[ListingRow, VersionRow]:
        """Publish a saved graph version: a new listing, or (`listing_id`) a new version of one, which takes
        only the changelog and examples of `form` (`edit` changes a listing's texts)."""
        graphs = self.graphs_for(scope)
        graph_version = graphs.version(graph_version_id)
        workspace_id = graphs.get(graph_version.graph_id).workspace_id
        scope.require("listing.publish", workspace_id, what="graph")
        values = form.check() if listing_id is None else {}
        if listing_id is not None:
            listing = self._managed(scope, listing_id)
        version = self._version_values(graph_version.spec, form)
        if listing_id is not None:
            row = self.store.add_version(listing_id, version, author_id=scope.user_id)
        else:
            listing, row = self.store.create(values, version, workspace_id=workspace_id, author_id=scope.user_id,
                                             author_name=self._author_name(scope))
        self.audit.record(scope.actor, "listing.published", workspace_id=workspace_id, target_type="listing",
                          target_id=listing.id, details={"version": row.number, "visibility": listing.visibility,
                                                         "stripped": len(row.stripped)})
        return self.store.get(listing.id), row  # type: ignore[return-value]

    def edit(self, scope: Scope, listing_id: str, form: ListingForm) -> ListingRow:
        self._managed(scope, listing_id)
        return self.store.update_texts(listing_id, form.check())

    def deprecate(self, scope: Scope, listing_id: str, number: int, deprecated: bool = True) -> VersionRow:
        self._managed(scope, listing_id)
        row = self.store.set_deprecated(listing_id, number, deprecated)
        if row is None:
            raise NotFound(f"Listing {listing_id[:40]} has no version {number}.")
        return row

    def unpublish(self, scope: Scope, listing_id: str) -> None:
        listing = self._managed(scope, listing_id)
        self.store.delete(listing_id)
        self.audit.record(scope.actor, "listing.deleted", workspace_id=listing.workspace_id, target_type="listing",
                          target_id=listing_id)

    # --- ratings, reviews, reports -----------------------------------------------------------------------------

    def _reviewer(self, scope: Scope, listing_id: str) -> ListingRow:
        """The listing, when the scope may review it: it sees the listing, and its role (and API token) allows
        `listing.review` in the listing's workspace, or in its own current one for another workspace's public
        listing."""
        listing = self._visible(scope, listing_id)
        here = listing.workspace_id if listing.workspace_id and scope.role(listing.workspace_id) else None
        scope.require("listing.review", here or scope.workspace_id, what="listing")
        return listing

    def rate(self, scope: Scope, listing_id: str, stars: int, review: str = "") -> RatingRow:
        """Add or change the asking person's rating; authors cannot rate their own listings."""
        listing = self._reviewer(scope, listing_id)
        if listing.author_id == scope.user_id:
            raise Forbidden("You published this listing, so you cannot rate it; reply to reviews instead.",
                            code="own_listing")
        if scope.actor.kind == "system":
            raise Forbidden("Ratings come from people; sign in to rate a listing.")
        if not isinstance(stars, int) or not 1 <= stars <= 5:
            raise InvalidRequest("Give 1 to 5 stars.", details={"field": "stars"})
        if len(review) > 5000:
            raise InvalidRequest("Keep the review under 5,000 characters.", details={"field": "review"})
        return self.store.rate(listing_id, scope.user_id, self._author_name(scope), stars, review.strip())

    def reply(self, scope: Scope, listing_id: str, rating_id: int, text: str) -> RatingRow:
        """The listing's author answers a review (an empty text removes the reply)."""
        listing = self._reviewer(scope, listing_id)
        if listing.author_id != scope.user_id and not self.can_manage(scope, listing):
            raise Forbidden("Only the author of the listing can reply to its reviews.")
        if len(text) > 5000:
            raise InvalidRequest("Keep the reply under 5,000 characters.", details={"field": "text"})
        if all(r.id != rating_id for r in self.store.ratings(listing_id, limit=10_000)):
            raise NotFound(f"Listing {listing_id[:40]} has no review {rating_id}.")
        return self.store.reply(rating_id, text.strip())  # type: ignore[return-value]

    def report(self, scope: Scope, listing_id: str, reason: str, details: str = "") -> int:
        listing = self._reviewer(scope, listing_id)
        if reason not in REPORT_REASONS:
            raise InvalidRequest(f"Choose a reason: {', '.join(REPORT_REASONS)}.", details={"field": "reason"})
        report_id = self.store.report(listing_id, scope.user_id, reason, details[:5000])
        self.audit.record(scope.actor, "listing.reported", workspace_id=listing.workspace_id, target_type="listing",
                          target_id=listing_id, details={"reason": reason})
        return report_id

    def reports(self, scope: Scope) -> list[dict[str, Any]]:
        if not scope.actor.is_admin:
            raise Forbidden("Reports are read by the instance administrators.")
        return self.store.reports()

    # --- bundles -----------------------------------------------------------------------------------------------

    def export_bundle(self, scope: Scope, listing_ids: list[str]) -> bytes:
        if not listing_ids:
            raise InvalidRequest("Choose at least one listing to export.", details={"field": "listing_ids"})
        items = []
        for listing_id in listing_ids[: bundles.MAX_LISTINGS]:
            listing = self._visible(scope, listing_id)
            versions = self.store.versions(listing_id)[-bundles.MAX_VERSIONS:]
            items.append({"id": listing.id, "title": listing.title, "short_description": listing.short_description,
                          "long_description": listing.long_description, "category": listing.category,
                          "tags": listing.tags, "language": listing.language, "licence": listing.licence,
                          "visibility": listing.visibility, "translations": listing.translations,
                          "author_name": listing.author_name,
                          "versions": [{"number": v.number, "spec": v.spec, "changelog": v.changelog,
                                        "example_inputs": v.example_inputs, "example_output": v.example_output,
                                        "deprecated": v.deprecated} for v in versions]})
        return bundles.write(items)

    def import_bundle(self, scope: Scope, data: bytes, workspace_id: str | None = None) -> list[ListingRow]:
        """Publish a bundle's listings in a workspace; every version is checked like a publish, and nothing is
        imported unless all of them pass. Importing the same bundle again adds only changed versions."""
        workspace_id = workspace_id or scope.workspace_id
        scope.require("listing.publish", workspace_id, what="workspace")
        parsed = bundles.read(data)
        ready, problems = [], []
        for item in parsed.listings:
            form = ListingForm(title=item.title, short_description=item.short_description,
                               long_description=item.long_description, category=item.category, tags=item.tags,
                               language=item.language, licence=item.licence, visibility=item.visibility,
                               translations=item.translations)
            try:
                values = form.check()
                versions = [(v, self._version_values(v.spec, ListingForm(
                    title=item.title, example_inputs=v.example_inputs, example_output=v.example_output,
                    changelog=v.changelog))) for v in sorted(item.versions, key=lambda v: v.number)]
            except AppError as exc:  # a listing that could not be published here: say which, and why
                problems.append({"listing": item.id, "title": item.title, "message": exc.message,
                                 "details": exc.details})
                continue
            ready.append((item, values, versions))
        if problems:
            raise InvalidRequest(f"The bundle was not imported: {len(problems)} listing(s) cannot be published here. "
                                 + " ".join(f"'{p['title']}': {p['message']}" for p in problems[:3]),
                                 code="invalid_bundle", details=problems)
        out = []
        for item, values, versions in ready:
            key = f"bundle:{workspace_id}:{item.id}"
            existing = self.store.by_origin(key, workspace_id)
            known = {v.spec_sha256 for v in self.store.versions(existing.id)} if existing else set()
            for source, version in versions:
                if spec_sha256(version["spec"]) in known:
                    continue  # imported before
                if existing is None:
                    existing, _ = self.store.create(values, version, workspace_id=workspace_id,
                                                    author_id=scope.user_id,
                                                    author_name=(item.author_name or self._author_name(scope))[:200],
                                                    origin_key=key)
                else:
                    self.store.add_version(existing.id, version, author_id=scope.user_id, values=values)
                if source.deprecated:
                    self.store.set_deprecated(existing.id, self.store.latest(existing.id, usable=False).number, True)
            out.append(self.store.get(existing.id))
            self.audit.record(scope.actor, "listing.imported", workspace_id=workspace_id, target_type="listing",
                              target_id=existing.id, details={"versions": len(versions)})
        return out  # type: ignore[return-value]

    # --- official templates ------------------------------------------------------------------------------------

    def ensure_official(self) -> None:
        """Publish the sample graphs as official listings once per process (idempotent across restarts)."""
        if self._official_done:
            return
        with self._official_lock:
            if not self._official_done:
                self.load_official(self.samples_dir)  # type: ignore[arg-type]
                self._official_done = True

    def load_official(self, directory: Path) -> int:
        """Publish or update the official listing of each sample graph; how many versions were added."""
        added = 0
        for path in official_files(directory):
            try:
                key, values, spec = official_listing(path)
                version = self._version_values(spec, ListingForm(title=values["title"]))
                existing = self.store.by_origin(key, None)
                if existing is None:
                    self.store.create(values, version, workspace_id=None, author_id=None, author_name=AUTHOR,
                                      official=True, origin_key=key)
                    added += 1
                else:
                    before = existing.latest_version
                    row = self.store.add_version(existing.id, version, author_id=None, values=values)
                    added += row.number != before  # the same graph adds nothing
            except IntegrityError:  # another process published it at the same moment
                continue
            except Exception as exc:  # noqa: BLE001  (one broken sample must not hide the others)
                log.warning("The sample graph %s was not published as an official template: %s", path.name,
                            getattr(exc, "message", exc))
        return added

    @classmethod
    def build(cls, services: Any) -> MarketplaceService:
        """The marketplace of an app.services.Services (the one line that wires it there)."""
        settings = services.settings
        return cls(services.db, services.registry, lambda scope: services.scoped(scope).graphs, services.audit,
                   services.accounts_repo, samples_dir=settings.samples_dir if settings.load_samples else None,
                   max_nodes=settings.runtime.max_graph_nodes)
