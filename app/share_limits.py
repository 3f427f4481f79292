"""Rate limits of the public share-link side: submissions per address and per link, failed passwords.

Fixed one-minute (or longer) windows. With Redis (settings.redis_url) the counts are shared by every web
process; without it (embedded mode: one process) they live in this process.
"""

from __future__ import annotations

import threading
import time


class RateLimiter:
    """Counts events per key in fixed windows."""

    def __init__(self, redis_url: str | None = None, namespace: str = "minddocs"):
        self.namespace = namespace
        self._redis = None
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url)
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def _window(self, window_s: int) -> tuple[int, float]:
        now = time.time()
        index = int(now // window_s)
        return index, (index + 1) * window_s - now

    def hit(self, key: str, limit: int, window_s: int = 60) -> float | None:
        """Count one event. None while `limit` events or fewer fell in this window; else the seconds until
        the window ends (the event is counted all the same: hammering does not shorten the wait)."""
        count, left = self._add(key, window_s, 1)
        return left if count > limit else None

    def blocked(self, key: str, limit: int, window_s: int = 60) -> float | None:
        """Whether `limit` events already fell in this window (seconds left), without counting one."""
        count, left = self._add(key, window_s, 0)
        return left if count >= limit else None

    def _add(self, key: str, window_s: int, amount: int) -> tuple[int, float]:
        index, left = self._window(window_s)
        if self._redis is not None:
            name = f"{self.namespace}:rate:{key}:{window_s}:{index}"
            if amount:
                pipe = self._redis.pipeline()
                pipe.incrby(name, amount)
                pipe.expire(name, window_s + 5)
                count = int(pipe.execute()[0])
            else:
                count = int(self._redis.get(name) or 0)
            return count, left
        with self._lock:
            slot = (f"{key}:{window_s}", index)
            count = self._counts.get(slot, 0) + amount
            if amount:
                self._counts[slot] = count
                if len(self._counts) > 10_000:  # forget windows that are over
                    self._counts = {k: v for k, v in self._counts.items()
                                    if k[1] >= int(time.time() // int(k[0].rsplit(":", 1)[1])) - 1}
            return count, left

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
