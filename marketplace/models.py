"""Marketplace tables: listings, their versions, ratings, reports and installs (migration 0007).

The search index is not a model: SQLite keeps an FTS5 table (`SEARCH_TABLE`) in step with the listings, and
PostgreSQL builds a weighted tsvector from the `search_*` columns at query time (marketplace/search.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, new_id, utcnow

#: the SQLite FTS5 table (and its shadow tables `<name>_data`, `_idx`, ...): made by the migration, not a model
SEARCH_TABLE = "listing_search"


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """For Alembic's comparisons: the FTS5 table and its shadow tables are not models, so leave them out."""
    return not (type_ == "table" and name is not None and name.startswith(SEARCH_TABLE))


class Listing(Base):
    """A graph template offered to the instance (public) or to one workspace's members (workspace)."""

    __tablename__ = "listings"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    #: the publisher's workspace; None for the official templates of the installation
    workspace_id: Mapped[str | None] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"),
                                                     nullable=True, index=True)
    author_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True,
                                                  index=True)
    author_name: Mapped[str] = mapped_column(String(200), default="")  # "MindDocs" for official templates
    visibility: Mapped[str] = mapped_column(String(16), default="workspace")  # public | workspace
    official: Mapped[bool] = mapped_column(Boolean, default=False)
    #: stable key of an official template ("sample:<file stem>") or of an imported listing
    #: ("bundle:<workspace id>:<listing id in the bundle>"): loading the same one again adds versions
    origin_key: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True, index=True)
    category: Mapped[str] = mapped_column(String(40), default="general", index=True)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    language: Mapped[str] = mapped_column(String(8), default="es")  # the language the template works in
    #: ",es,en," - the languages of the listing's texts (its own plus translations), for the language filter
    languages: Mapped[str] = mapped_column(String(100), default="")
    licence: Mapped[str] = mapped_column(String(100), default="CC-BY-4.0")
    title: Mapped[str] = mapped_column(String(200))
    short_description: Mapped[str] = mapped_column(String(300), default="")
    long_description: Mapped[str] = mapped_column(Text, default="")  # Markdown
    #: other languages' texts: {"en": {"title": ..., "short_description": ..., "long_description": ...}}
    translations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: what full-text search reads (every language's texts), kept in step by the repository
    search_title: Mapped[str] = mapped_column(Text, default="")
    search_tags: Mapped[str] = mapped_column(Text, default="")
    search_body: Mapped[str] = mapped_column(Text, default="")
    #: ",doc.extract,text.summarise," - node types of the newest version, for the node-type filter
    node_types: Mapped[str] = mapped_column(Text, default="")
    rating_count: Mapped[int] = mapped_column(Integer, default=0)
    rating_sum: Mapped[int] = mapped_column(Integer, default=0)
    installs: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ListingVersion(Base):
    """One published state of a listing's graph; never changed after it is written, except `deprecated`."""

    __tablename__ = "listing_versions"
    __table_args__ = (UniqueConstraint("listing_id", "number"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    listing_id: Mapped[str] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]]  # secrets and workspace files stripped
    spec_sha256: Mapped[str] = mapped_column(String(64))
    #: [{"type": "doc.extract", "version": 1}, ...]
    node_types: Mapped[list[Any]] = mapped_column(default=list)
    #: the graph's inputs and outputs: {"inputs": [{name, kind, ...}], "outputs": [...]}
    interface: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: settings emptied at publish: [{"node_id", "setting", "kind": "secret" | "file"}]
    stripped: Mapped[list[Any]] = mapped_column(default=list)
    example_inputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    example_output: Mapped[str] = mapped_column(Text, default="")
    preview_svg: Mapped[str] = mapped_column(Text, default="")
    changelog: Mapped[str] = mapped_column(Text, default="")
    deprecated: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Rating(Base):
    """One person's stars (1-5) and review of a listing; the author may reply."""

    __tablename__ = "listing_ratings"
    __table_args__ = (UniqueConstraint("listing_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    listing_id: Mapped[str] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    user_name: Mapped[str] = mapped_column(String(200), default="")
    stars: Mapped[int] = mapped_column(Integer)
    review: Mapped[str] = mapped_column(Text, default="")
    reply: Mapped[str] = mapped_column(Text, default="")
    replied_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ListingReport(Base):
    """Someone flagged a listing (spam, harmful, broken, copyright...) for the administrators."""

    __tablename__ = "listing_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    listing_id: Mapped[str] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    reason: Mapped[str] = mapped_column(String(40))
    details: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Install(Base):
    """A workspace graph made from a listing version; updates move it to a newer version."""

    __tablename__ = "listing_installs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    listing_id: Mapped[str] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("listing_versions.id", ondelete="CASCADE"))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    graph_id: Mapped[str] = mapped_column(ForeignKey("graphs.id", ondelete="CASCADE"), unique=True)
    installed_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
