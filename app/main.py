"""`create_app(settings)`: the FastAPI application with the API, error handling and the worker lifecycle."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from . import api
from .errors import AppError
from .services import Services
from .settings import Settings


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

    app = FastAPI(title="MindDocs", version="0.1.0", lifespan=lifespan,
                  description="Document automation graphs: build, validate and run them.")
    app.state.services = services
    app.include_router(api.router)

    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(exc.to_json(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def request_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        return JSONResponse({"code": "invalid_request", "message": "The request is not what this endpoint expects.",
                             "details": details}, status_code=422)

    from ui.setup import mount  # the browser UI at /, after the API routes so /api and /docs win

    mount(app, services, settings)
    return app
