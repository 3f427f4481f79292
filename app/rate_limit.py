"""Fixed-window rate limits: at most N hits per key in each clock minute (API tokens; share links may reuse it).

With Redis (`settings.redis_url`) every process shares the counts: `INCR` + `EXPIRE` on
`<namespace>:rl:<key>:<minute>`; without it, or while Redis cannot be reached, each process counts alone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis

from .errors import TooManyRequests

log = logging.getLogger("minddocs")

class RateLimiter:
    """At most `per_minute` hits per key in each clock minute (a fixed window). In Redis (shared by every
    process) when `redis_url` is set, else in this process."""

    def __init__(self, per_minute: int, *, redis_url: str | None = None, namespace: str = "minddocs",
                 clock: Callable[[], float] = time.time):
        self.per_minute, self.namespace, self.clock = per_minute, namespace, clock
        # short timeouts: a Redis that does not answer must not hold every API request up
        self._redis = (redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1) if redis_url
                       else None)
        self._counts: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, *, what: str = "this API token") -> None:
        """Count one request; TooManyRequests (details.retry_after_s) past the limit."""
        now = self.clock()
        minute = int(now // 60)
        count = self._count_redis(key, minute) if self._redis is not None else None
        if count is None:
            count = self._count_here(key, minute)
        if count > self.per_minute:
            retry = max(1, int(60 - now % 60 + 0.999))
            raise TooManyRequests(f"Too many requests with {what}: at most {self.per_minute} a minute are allowed. "
                                  f"Try again in {retry} seconds.",
                                  details={"retry_after_s": retry, "limit_per_minute": self.per_minute})

    def _count_redis(self, key: str, minute: int) -> int | None:
        name = f"{self.namespace}:rl:{key}:{minute}"
        try:
            with self._redis.pipeline(transaction=True) as pipe:  # type: ignore[union-attr]
                count, _ = pipe.incr(name).expire(name, 120).execute()
            return int(count)
        except redis.RedisError as exc:  # Redis down: limit in this process rather than refuse the API
            log.warning("Rate limit: Redis is unavailable (%s); counting in this process.", exc)
            return None

    def _count_here(self, key: str, minute: int) -> int:
        with self._lock:
            if len(self._counts) > 50_000:  # forget finished minutes
                self._counts = {k: v for k, v in self._counts.items() if v[0] == minute}
            seen, count = self._counts.get(key, (minute, 0))
            count = count + 1 if seen == minute else 1
            self._counts[key] = (minute, count)
            return count

