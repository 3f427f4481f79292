"""What each `minddocs worker` process imports (via Dramatiq's CLI): services built from the environment."""

from __future__ import annotations

import logging

from .services import Services
from .settings import Settings

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
settings = Settings()
if settings.embedded:
    raise SystemExit("minddocs worker needs Redis: set MINDDOCS_REDIS_URL (embedded mode runs nodes inside "
                     "'minddocs serve').")
services = Services(settings)
broker = services.executor.broker
