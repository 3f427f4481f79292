"""Probes and metrics for operators: /healthz (the process answers), /readyz (database and broker reachable),
/metrics (Prometheus). Public routes (app/web_auth.py PUBLIC_ROUTES); /metrics may require a token.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from .metrics import HttpMetrics

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive and serving (no dependency checked: restart only when this fails)."""
    return {"status": "ok"}


def _check_database(services) -> str | None:
    try:
        with services.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        return f"The database does not answer: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return None


def _check_broker(services) -> str | None:
    try:
        services.executor.ping(timeout_s=2.0)
    except Exception as exc:
        return f"The broker (Redis) does not answer: {type(exc).__name__}: {str(exc)[:200]}"
    return None


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Ready for traffic: the database answers SELECT 1 and the broker (Redis) answers PING. 503 names what
    failed, so a load balancer takes the instance out and an operator sees why."""
    services = request.app.state.services
    checks = {"database": await run_in_threadpool(_check_database, services),
              "broker": await run_in_threadpool(_check_broker, services)}
    body = {"status": "ok" if not any(checks.values()) else "unavailable",
            "checks": {name: ("ok" if problem is None else "failed") for name, problem in checks.items()},
            "broker": "in-process" if services.settings.embedded else "redis"}
    problems = {name: problem for name, problem in checks.items() if problem}
    if problems:
        body["message"] = " ".join(problems.values())
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus metrics of this process; with observability.metrics_token set, only for that token."""
    services = request.app.state.services
    settings = services.settings.observability
    if not settings.metrics:
        return JSONResponse({"code": "not_found", "message": "Metrics are switched off "
                             "(MINDDOCS_OBSERVABILITY__METRICS=false).", "details": None},
                            status_code=404)
    if settings.metrics_token is not None:
        expected = f"Bearer {settings.metrics_token.get_secret_value()}".encode()
        if not hmac.compare_digest(request.headers.get("authorization", "").encode(), expected):
            return JSONResponse({"code": "not_signed_in", "message": "Send the metrics token as "
                                 "'Authorization: Bearer <token>' (MINDDOCS_OBSERVABILITY__METRICS_TOKEN).",
                                 "details": None},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
    body, content_type = await run_in_threadpool(services.metrics.render)
    return Response(body, media_type=content_type)


def install(app: FastAPI) -> None:
    """The probe routes and the HTTP latency middleware."""
    app.include_router(router)
    app.add_middleware(HttpMetrics)
