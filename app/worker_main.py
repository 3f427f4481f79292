"""What each `minddocs worker` process imports (via Dramatiq's CLI): services built from the environment."""

from __future__ import annotations

from .logs import configure_logging
from .services import Services
from .settings import Settings

settings = Settings()
configure_logging(settings)  # replaces the handler Dramatiq's CLI set up: text or JSON (log.format)
if settings.embedded:
    raise SystemExit("minddocs worker needs Redis: set MINDDOCS_REDIS_URL (embedded mode runs nodes inside "
                     "'minddocs serve').")
services = Services(settings)
broker = services.executor.broker
