"""`create_app(settings)`: the FastAPI application with the API, error handling and the worker lifecycle."""

from __future__ import annotations

import logging
import re
import uuid
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from marketplace import api as marketplace_api

from . import (
    api,
    api_accounts,  # /me, workspaces, members, invitations, audit log, password reset
    api_admin,  # /admin/... (instance administrators) and a workspace's usage of its plan
    api_data,  # analytics, export and delete my data
    api_share,  # share links: API routes and the /s/, /embed/ frame policy
    api_tokens,  # API tokens and the OAuth2 token endpoint
    auth_routes,  # the browser's sign-in, sign-out, setup, register and reset forms (/auth/...)
    health,  # /healthz, /readyz, /metrics
    oidc_routes,  # single sign-on: /auth/oidc/{name}/login and /callback
)
from .errors import AppError, TooManyRequests
from .services import Services
from .settings import Settings
from .web_auth import SignInGate


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    settings = settings or Settings()
    services = services or Services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        services.start()
        try:
            yield
        finally:
            services.close()

    app = FastAPI(title="MindDocs", version="0.1.0", lifespan=lifespan, openapi_tags=api.TAGS,
                  description=api.DESCRIPTION)
    app.state.services = services
    app.include_router(api.router)
    # routers (one line each)
    health.install(app)  # /healthz, /readyz, /metrics and the HTTP latency middleware (app/health.py)
    app.include_router(oidc_routes.router)
    app.include_router(auth_routes.router)
    api_share.install(app)
    app.include_router(api_tokens.router)
    app.include_router(marketplace_api.router)
    app.include_router(api_accounts.router)
    app.include_router(api_data.router)
    app.include_router(api_admin.router)
    _document(app)

    # keep this the last API route: a route added after it would never be reached (add routes to api.router)
    @app.api_route("/api/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    async def unknown_endpoint(request: Request, path: str) -> JSONResponse:
        """After every API route: an unknown /api path is a JSON 404 (or 405), not the UI's page."""
        allowed = _allowed_methods(app, request.url.path)
        if allowed:
            return JSONResponse({"code": "method_not_allowed", "message": f"{request.method} is not allowed on "
                                 f"{request.url.path}; use {', '.join(allowed)}.", "details": {"allowed": allowed}},
                                status_code=405, headers={"Allow": ", ".join(allowed)})
        return JSONResponse({"code": "not_found", "message": f"There is no API endpoint {request.url.path}; the "
                             "endpoints are listed at /docs and /openapi.json.", "details": None}, status_code=404)

    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError) -> JSONResponse:
        retry = exc.details.get("retry_after_s") if isinstance(exc, TooManyRequests) and isinstance(
            exc.details, dict) else None
        return JSONResponse(exc.to_json(), status_code=exc.status,
                            headers={"Retry-After": str(max(1, round(retry)))} if retry else None)

    @app.exception_handler(RequestValidationError)
    async def request_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        return JSONResponse({"code": "invalid_request", "message": "The request is not what this endpoint expects.",
                             "details": details}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if not request.url.path.startswith("/api/"):
            return await http_exception_handler(request, exc)
        code = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed",
                415: "unsupported_media_type"}.get(
            exc.status_code, f"http_{exc.status_code}")
        return JSONResponse({"code": code, "message": str(exc.detail), "details": None},
                            status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        ref = uuid.uuid4().hex[:8]
        logging.getLogger("minddocs").error("Unexpected error (ref %s) on %s %s", ref, request.method,
                                            request.url.path, exc_info=exc)
        return JSONResponse({"code": "internal_error", "message": f"The server failed unexpectedly (ref {ref}); "
                             "the details are in the server log.", "details": {"ref": ref}}, status_code=500)

    from ui.setup import mount  # the browser UI at /, after the API routes so /api and /docs win

    mount(app, services, settings)
    app.add_middleware(SignInGate, settings=settings)
    return app


def _document(app: FastAPI) -> None:
    """API conventions in the OpenAPI schema: a tag per first path segment for routes without one, and the
    `{code, message, details}` body for 422 and every undocumented status (what the handlers really send)."""
    from fastapi.openapi.utils import get_openapi

    from .api_models import ErrorBody

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description,
                             routes=app.routes, tags=app.openapi_tags)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["ErrorBody"] = ErrorBody.model_json_schema()
        error = {"description": "Error", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                if path.startswith("/api/v1/") and not operation.get("tags"):
                    operation["tags"] = [path.split("/")[3]]
                responses = operation.setdefault("responses", {})
                if "422" in responses:
                    responses["422"] = {**error, "description": "Invalid request or data"}
                responses.setdefault("default", error)
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods of the documented operations whose path template matches `path` (for a 405's Allow)."""
    allowed: set[str] = set()
    for template, operations in app.openapi().get("paths", {}).items():
        pattern = re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            allowed |= {method.upper() for method in operations}
    return sorted(allowed)
