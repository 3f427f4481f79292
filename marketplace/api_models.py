"""Request and response bodies of the marketplace API (/api/v1/marketplace), and the rows as JSON."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .installs import UpdateInfo
from .store import ListingRow, RatingRow, VersionRow


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class PublishRequest(BaseModel):
    graph_version_id: str = Field(description="The saved graph version to publish")
    title: str = Field(min_length=1, max_length=200)
    short_description: str = Field("", max_length=300)
    long_description: str = Field("", max_length=100_000, description="Markdown")
    category: str = Field("general", description="legal, real_estate, hospitality, hr, health, marketing, "
                          "photography, general")
    tags: list[str] = Field(default_factory=list, max_length=30)
    language: str = Field("es", max_length=8, description="The language the template works in")
    licence: str = Field("CC-BY-4.0", max_length=100)
    visibility: Literal["public", "workspace"] = "workspace"
    translations: dict[str, dict[str, str]] = Field(default_factory=dict,
                                                    description='Other languages: {"en": {"title": ...}}')
    example_inputs: dict[str, Any] = Field(default_factory=dict)
    example_output: str = Field("", max_length=100_000)
    changelog: str = Field("", max_length=20_000)


class VersionRequest(BaseModel):
    graph_version_id: str = Field(description="The saved graph version to publish as the listing's next version")
    changelog: str = Field("", max_length=20_000, description="What changed, for people who installed it")
    example_inputs: dict[str, Any] = Field(default_factory=dict)
    example_output: str = Field("", max_length=100_000)


class EditRequest(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    short_description: str = Field("", max_length=300)
    long_description: str = Field("", max_length=100_000)
    category: str = "general"
    tags: list[str] = Field(default_factory=list, max_length=30)
    language: str = Field("es", max_length=8)
    licence: str = Field("CC-BY-4.0", max_length=100)
    visibility: Literal["public", "workspace"] = "workspace"
    translations: dict[str, dict[str, str]] = Field(default_factory=dict)


class InstallRequest(BaseModel):
    workspace_id: str | None = Field(None, description="Where to install (default: the current workspace)")
    version: int | None = Field(None, ge=1, description="Version number (default: the newest not deprecated)")
    name: str | None = Field(None, max_length=200, description="Name of the new graph (default: the title)")


class RatingRequest(BaseModel):
    stars: int = Field(ge=1, le=5)
    review: str = Field("", max_length=5000)


class ReplyRequest(BaseModel):
    text: str = Field("", max_length=5000)


class ReportRequest(BaseModel):
    reason: Literal["spam", "harmful", "broken", "copyright", "other"]
    details: str = Field("", max_length=5000)


class DeprecateRequest(BaseModel):
    deprecated: bool = True


class UpdateRequest(BaseModel):
    side_by_side: bool = Field(False, description="Install the new version as another graph instead of merging")


class ExportRequest(BaseModel):
    listing_ids: list[str] = Field(min_length=1, max_length=200)


class ListingSummary(_Open):
    id: str
    title: str
    short_description: str
    category: str
    tags: list[str]
    language: str
    visibility: str
    official: bool
    author_name: str
    rating_average: float | None
    rating_count: int
    installs: int
    latest_version: int
    node_types: list[str]
    updated_at: str


class VersionSummary(_Open):
    id: str
    number: int
    changelog: str
    deprecated: bool
    node_types: list[dict[str, Any]]
    stripped: list[dict[str, str]]
    interface: dict[str, Any]
    example_inputs: dict[str, Any]
    example_output: str
    created_at: str


class RatingOut(_Open):
    id: int
    user_name: str
    stars: int
    review: str
    reply: str
    updated_at: str


class ListingOut(ListingSummary):
    long_description: str
    licence: str
    translations: dict[str, Any]
    workspace_id: str | None
    versions: list[VersionSummary]
    ratings: list[RatingOut]
    my_rating: RatingOut | None
    can_manage: bool


class InstallOut(_Open):
    install_id: str
    graph_id: str
    graph_version_id: str
    listing_id: str
    version_id: str
    stripped: list[dict[str, str]] = Field(description="Settings emptied at publish (secrets, files): fill them in")


class UpdateOut(_Open):
    graph_id: str
    listing_id: str
    installed_version: int
    latest_version: int
    available: bool
    changes: dict[str, Any]
    summary: str
    changelog: str


def listing_json(row: ListingRow, lang: str | None = None) -> dict[str, Any]:
    text = row.text(lang)
    return {"id": row.id, **text, "category": row.category, "tags": row.tags, "language": row.language,
            "languages": sorted({row.language, *row.translations}), "visibility": row.visibility,
            "official": row.official, "author_name": row.author_name, "rating_average": row.rating_average,
            "rating_count": row.rating_count, "installs": row.installs, "latest_version": row.latest_version,
            "node_types": row.node_types, "updated_at": row.updated_at.isoformat(),
            "created_at": row.created_at.isoformat(), "licence": row.licence, "workspace_id": row.workspace_id,
            "translations": row.translations, "relevance": round(row.rank, 4)}


def version_json(v: VersionRow, *, with_spec: bool = False) -> dict[str, Any]:
    out = {"id": v.id, "number": v.number, "changelog": v.changelog, "deprecated": v.deprecated,
           "node_types": v.node_types, "stripped": v.stripped, "interface": v.interface,
           "example_inputs": v.example_inputs, "example_output": v.example_output,
           "created_at": v.created_at.isoformat()}
    if with_spec:
        out["spec"] = v.spec
    return out


def rating_json(r: RatingRow) -> dict[str, Any]:
    return {"id": r.id, "user_name": r.user_name, "stars": r.stars, "review": r.review, "reply": r.reply,
            "replied_at": r.replied_at.isoformat() if r.replied_at else None, "updated_at": r.updated_at.isoformat()}


def update_json(graph_id: str, info: UpdateInfo) -> dict[str, Any]:
    return {"graph_id": graph_id, "listing_id": info.install.listing_id, "installed_version": info.installed_version,
            "latest_version": info.latest_version, "available": info.available, "changes": info.changes,
            "summary": info.summary, "changelog": info.changelog}
