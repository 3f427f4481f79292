"""REST API of the marketplace (/api/v1/marketplace): thin routes over MarketplaceService.

Conventions as in app/api.py: `{code, message, details}` errors, plain JSON arrays paged with ?limit= and
?cursor= (Link header), response models from marketplace/api_models.py. Every route needs a signed-in caller.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from app.api import Cursor, Limit, offset_page
from app.api_models import errors
from app.errors import NotFound, TooLarge
from app.policy import Scope
from app.web_auth import request_scope

from .api_models import (
    DeprecateRequest,
    EditRequest,
    ExportRequest,
    InstallOut,
    InstallRequest,
    ListingOut,
    ListingSummary,
    PublishRequest,
    RatingOut,
    RatingRequest,
    ReplyRequest,
    ReportRequest,
    UpdateOut,
    UpdateRequest,
    VersionRequest,
    VersionSummary,
    listing_json,
    rating_json,
    update_json,
    version_json,
)
from .bundle import MAX_BUNDLE_BYTES
from .search import Filters
from .service import ListingForm, MarketplaceService

router = APIRouter(prefix="/api/v1/marketplace", tags=["marketplace"])

Lang = Query(None, pattern=r"^[a-z]{2}$", description="Texts in this language where the listing has them")


def _market(request: Request) -> tuple[MarketplaceService, Scope]:
    return request.app.state.services.marketplace, request_scope(request)


def _detail(market: MarketplaceService, scope: Scope, listing_id: str, lang: str | None) -> dict[str, Any]:
    detail = market.get(scope, listing_id)
    return {**listing_json(detail.listing, lang), "versions": [version_json(v) for v in detail.versions],
            "ratings": [rating_json(r) for r in detail.ratings],
            "my_rating": rating_json(detail.my_rating) if detail.my_rating else None, "can_manage": detail.can_manage}


def _form(body: PublishRequest | EditRequest) -> ListingForm:
    return ListingForm(**body.model_dump(exclude={"graph_version_id"}))


@router.get("/listings", response_model=list[ListingSummary], responses=errors(422))
def search_listings(request: Request, response: Response, limit: int | None = Limit, cursor: str | None = Cursor,
                    q: str = Query("", max_length=200, description="Words in the title, descriptions or tags"),
                    category: str | None = Query(None, max_length=40), tag: str | None = Query(None, max_length=40),
                    language: str | None = Query(None, max_length=8),
                    node_type: str | None = Query(None, max_length=100, description="Listings using this node type"),
                    official: bool | None = Query(None, description="Only (or no) official templates"),
                    sort: str = Query("relevance", pattern="^(relevance|rating|installs|recent)$"),
                    lang: str | None = Lang) -> list[dict[str, Any]]:
    """Browse and search the listings you may see, best match first (or by rating, installs, recency)."""
    market, scope = _market(request)
    rows = market.search(scope, Filters(q, category, tag, language, node_type, official, sort),  # type: ignore[arg-type]
                         limit=500)
    return offset_page(request, response, [listing_json(r, lang) for r in rows], limit or 50, cursor)


@router.post("/listings", status_code=201, response_model=ListingOut, responses=errors(403, 404, 422))
def publish(request: Request, body: PublishRequest, lang: str | None = Lang) -> dict[str, Any]:
    """Publish a saved graph version as a new listing (secrets and stored files are stripped; refused with
    the list of problems when the graph does not validate)."""
    market, scope = _market(request)
    listing, _ = market.publish(scope, body.graph_version_id, _form(body))
    return _detail(market, scope, listing.id, lang)


@router.get("/listings/{listing_id}", response_model=ListingOut, responses=errors(404))
def get_listing(request: Request, listing_id: str, lang: str | None = Lang) -> dict[str, Any]:
    market, scope = _market(request)
    return _detail(market, scope, listing_id, lang)


@router.put("/listings/{listing_id}", response_model=ListingOut, responses=errors(403, 404, 422))
def edit_listing(request: Request, listing_id: str, body: EditRequest, lang: str | None = Lang) -> dict[str, Any]:
    """Change a listing's texts, category, tags or visibility (the versions stay as published)."""
    market, scope = _market(request)
    market.edit(scope, listing_id, _form(body))
    return _detail(market, scope, listing_id, lang)


@router.delete("/listings/{listing_id}", status_code=204, responses=errors(403, 404))
def delete_listing(request: Request, listing_id: str) -> Response:
    """Withdraw a listing; graphs installed from it stay, without updates."""
    market, scope = _market(request)
    market.unpublish(scope, listing_id)
    return Response(status_code=204)


@router.post("/listings/{listing_id}/versions", status_code=201, response_model=VersionSummary,
             responses=errors(403, 404, 422))
def publish_version(request: Request, listing_id: str, body: VersionRequest) -> dict[str, Any]:
    """Publish a new version of a listing from a saved graph version (PUT /listings/{id} changes its texts)."""
    market, scope = _market(request)
    form = ListingForm(title="-", changelog=body.changelog, example_inputs=body.example_inputs,
                       example_output=body.example_output)
    _, version = market.publish(scope, body.graph_version_id, form, listing_id=listing_id)
    return version_json(version)


@router.get("/listings/{listing_id}/versions/{number}", response_model=VersionSummary, responses=errors(404))
def get_version(request: Request, listing_id: str, number: int) -> dict[str, Any]:
    """One version, with its graph (`spec`)."""
    market, scope = _market(request)
    return version_json(market.version(scope, listing_id, number), with_spec=True)


@router.patch("/listings/{listing_id}/versions/{number}", response_model=VersionSummary,
              responses=errors(403, 404, 422))
def deprecate_version(request: Request, listing_id: str, number: int, body: DeprecateRequest) -> dict[str, Any]:
    """Deprecate a version (installs then take the newest version that is not deprecated), or undo it."""
    market, scope = _market(request)
    return version_json(market.deprecate(scope, listing_id, number, body.deprecated))


@router.get("/listings/{listing_id}/versions/{number}/preview.svg", response_class=Response,
            responses={200: {"content": {"image/svg+xml": {}}, "description": "The picture"}, **errors(404)})
def preview(request: Request, listing_id: str, number: int) -> Response:
    """The graph drawn as SVG (boxes and wires), for the listing page."""
    market, scope = _market(request)
    svg = market.version(scope, listing_id, number).preview_svg
    return Response(svg, media_type="image/svg+xml",
                    headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                             "Cache-Control": "private, max-age=3600"})


@router.get("/listings/{listing_id}/missing", responses=errors(404))
def missing_node_types(request: Request, listing_id: str, version: int | None = Query(None, ge=1)
                       ) -> dict[str, Any]:
    """Node types the version needs that this installation lacks (empty: it can be installed)."""
    market, scope = _market(request)
    return {"missing": market.missing_for(scope, listing_id, version)}


@router.post("/listings/{listing_id}/install", status_code=201, response_model=InstallOut,
             responses=errors(403, 404, 409, 422))
def install(request: Request, listing_id: str, body: InstallRequest = Body(default_factory=InstallRequest)
            ) -> dict[str, Any]:
    """Copy a version into a workspace as a new graph linked to the listing (409 `missing_node_types` first
    when this installation lacks node types it needs)."""
    market, scope = _market(request)
    done = market.install(scope, listing_id, body.workspace_id, number=body.version, name=body.name)
    return {"install_id": done.install.id, "graph_id": done.install.graph_id, "graph_version_id": done.graph_version_id,
            "listing_id": listing_id, "version_id": done.install.version_id, "stripped": done.stripped}


@router.put("/listings/{listing_id}/rating", response_model=RatingOut, responses=errors(403, 404, 422))
def rate(request: Request, listing_id: str, body: RatingRequest) -> dict[str, Any]:
    """Your rating (1-5) and review of a listing; sending it again changes it. Authors cannot rate their own."""
    market, scope = _market(request)
    return rating_json(market.rate(scope, listing_id, body.stars, body.review))


@router.get("/listings/{listing_id}/ratings", response_model=list[RatingOut], responses=errors(404, 422))
def ratings(request: Request, response: Response, listing_id: str, limit: int | None = Limit,
            cursor: str | None = Cursor) -> list[dict[str, Any]]:
    market, scope = _market(request)
    rows = [rating_json(r) for r in market.get(scope, listing_id).ratings]
    return offset_page(request, response, rows, limit or 50, cursor)


@router.put("/listings/{listing_id}/ratings/{rating_id}/reply", response_model=RatingOut,
            responses=errors(403, 404, 422))
def reply(request: Request, listing_id: str, rating_id: int, body: ReplyRequest) -> dict[str, Any]:
    """The author's reply to a review (an empty text removes it)."""
    market, scope = _market(request)
    return rating_json(market.reply(scope, listing_id, rating_id, body.text))


@router.post("/listings/{listing_id}/reports", status_code=201, responses=errors(404, 422))
def report(request: Request, listing_id: str, body: ReportRequest) -> dict[str, Any]:
    """Flag a listing for the administrators (spam, harmful, broken, copyright, other)."""
    market, scope = _market(request)
    return {"id": market.report(scope, listing_id, body.reason, body.details)}


@router.get("/reports", responses=errors(403))
def list_reports(request: Request) -> list[dict[str, Any]]:
    """Reported listings, newest first (instance administrators)."""
    market, scope = _market(request)
    return [{**r, "created_at": r["created_at"].isoformat()} for r in market.reports(scope)]


@router.get("/installed/{graph_id}", response_model=UpdateOut, responses=errors(404))
def update_info(request: Request, graph_id: str) -> dict[str, Any]:
    """For a graph installed from the marketplace: whether a newer version exists and what it changes."""
    market, scope = _market(request)
    info = market.update_info(scope, graph_id)
    if info is None:
        raise NotFound("This graph was not installed from the marketplace.")
    return update_json(graph_id, info)


@router.post("/installed/{graph_id}/update", responses=errors(403, 404, 409))
def update(request: Request, graph_id: str, body: UpdateRequest = Body(default_factory=UpdateRequest)
           ) -> dict[str, Any]:
    """Merge the newest version into the graph, keeping your changes where they do not conflict (409
    `update_conflict` names the nodes otherwise), or with `side_by_side` install it as another graph."""
    market, scope = _market(request)
    return market.update(scope, graph_id, side_by_side=body.side_by_side)


@router.get("/updates", response_model=list[UpdateOut])
def updates(request: Request) -> list[dict[str, Any]]:
    """The current workspace's installed graphs that have a newer version."""
    market, scope = _market(request)
    return [update_json(graph_id, info) for graph_id, info in market.updates(scope).items()]


@router.post("/export", response_class=Response,
             responses={200: {"content": {"application/zip": {}}, "description": "The bundle"}, **errors(404, 422)})
def export_bundle(request: Request, body: ExportRequest) -> Response:
    """A bundle (.zip) of listings and their versions, to import on another MindDocs."""
    market, scope = _market(request)
    data = market.export_bundle(scope, body.listing_ids)
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": 'attachment; filename="minddocs-templates.zip"'})


@router.post("/import", status_code=201, response_model=list[ListingSummary], responses=errors(403, 413, 422),
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/zip": {"schema": {"type": "string", "format": "binary"}},
                 "application/json": {"schema": {"type": "object"}}}}})
async def import_bundle(request: Request, workspace_id: str | None = Query(None, max_length=40)
                        ) -> list[dict[str, Any]]:
    """Import a bundle (the .zip or its JSON as the request body); every version is checked like a publish."""
    market, scope = _market(request)
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BUNDLE_BYTES:
            raise TooLarge("The bundle is larger than 20 MB; export fewer listings per bundle.",
                           code="invalid_bundle")
    rows = await run_in_threadpool(market.import_bundle, scope, bytes(data), workspace_id)
    return [listing_json(r) for r in rows]
