"""The node result cache: outputs kept under a key made of node type, version, config and inputs.

The key is computed by the engine; here entries are stored, found (which marks them used) and evicted,
least recently used first, once their total size passes the limit. An entry's size counts its outputs
and the files they refer to; eviction removes the entry and the cache's own file (outputs too large
for the database) — files that runs produced stay, for their runs.
"""

from __future__ import annotations

import json
from datetime import UTC, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .artifacts import ArtifactStore
from .db import Database
from .models import NodeCacheEntry, NodeRun, utcnow

TOUCH_EVERY = timedelta(minutes=1)


def outputs_size(outputs: Any) -> int:
    """Bytes of a JSON value plus the sizes of the stored files it refers to."""
    total = 0

    def walk(value: Any) -> None:
        nonlocal total
        if isinstance(value, dict):
            if isinstance(value.get("artifact"), str) and isinstance(value.get("size"), int):
                total += value["size"]
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(outputs)
    return total + len(json.dumps(outputs, separators=(",", ":")))


class NodeCache:
    def __init__(self, db: Database, artifacts: ArtifactStore, *, max_bytes: int,
                 touch_every: timedelta = TOUCH_EVERY):
        self.touch_every = touch_every
        self.db = db
        self.artifacts = artifacts
        self.max_bytes = max_bytes
        self._since_check = 0

    def get(self, key: str) -> tuple[dict | None, str | None] | None:
        """(outputs, or the artifact holding them) for a key.

        Using an entry marks it recently used; that write happens at most once a minute per entry, so a
        batch of cache hits costs reads, not commits (eviction needs minutes, not milliseconds).
        """
        with self.db.read() as s:
            row = s.execute(select(NodeCacheEntry.outputs, NodeCacheEntry.outputs_artifact, NodeCacheEntry.used_at)
                            .where(NodeCacheEntry.key == key)).first()
        if row is None:
            return None
        now = utcnow()
        used_at = row[2] if row[2].tzinfo else row[2].replace(tzinfo=UTC)
        if now - used_at >= self.touch_every:
            with self.db.session() as s:
                s.execute(update(NodeCacheEntry).where(NodeCacheEntry.key == key).values(used_at=now))
        return row[0], row[1]

    def put(self, key: str, node_type: str, outputs: dict | None, outputs_artifact: str | None, size: int) -> None:
        if size > self.max_bytes:
            return
        insert = sqlite_insert if self.db.is_sqlite else pg_insert
        with self.db.session() as s:
            s.execute(insert(NodeCacheEntry).values(key=key, node_type=node_type, outputs=outputs,
                                                    outputs_artifact=outputs_artifact, size=size)
                      .on_conflict_do_nothing())
        self._since_check += size
        if self._since_check > self.max_bytes // 20:  # look at the total now and then, not on every put
            self._since_check = 0
            self.evict()

    def stats(self) -> dict[str, int]:
        with self.db.read() as s:
            entries, size = s.execute(select(func.count(), func.coalesce(func.sum(NodeCacheEntry.size), 0))).one()
            hits = s.scalar(select(func.count()).select_from(NodeRun).where(NodeRun.reused == "cache"))
        return {"entries": entries, "bytes": int(size), "hits": int(hits), "max_bytes": self.max_bytes}

    def evict(self, max_bytes: int | None = None) -> int:
        """Drop least recently used entries until the total fits `max_bytes`; returns how many went."""
        limit = self.max_bytes if max_bytes is None else max_bytes
        with self.db.read() as s:
            total = s.scalar(select(func.coalesce(func.sum(NodeCacheEntry.size), 0))) or 0
            if total <= limit:
                return 0
            victims, target = [], int(limit * 0.9) if limit else 0
            for key, size, artifact in s.execute(select(NodeCacheEntry.key, NodeCacheEntry.size,
                                                        NodeCacheEntry.outputs_artifact)
                                                 .order_by(NodeCacheEntry.used_at, NodeCacheEntry.key)):
                if total <= target:
                    break
                victims.append((key, artifact))
                total -= size
        for start in range(0, len(victims), 500):
            with self.db.session() as s:
                s.execute(delete(NodeCacheEntry).where(NodeCacheEntry.key.in_([k for k, _ in victims[start:start + 500]])))
        for _, artifact in victims:
            if artifact and not self._referenced(artifact):
                self.artifacts.remove(artifact)
        return len(victims)

    def clear(self) -> int:
        return self.evict(0)

    def _referenced(self, artifact: str) -> bool:
        with self.db.read() as s:
            return bool(s.scalar(select(func.count()).select_from(NodeRun).where(NodeRun.outputs_artifact == artifact))
                        or s.scalar(select(func.count()).select_from(NodeCacheEntry)
                                    .where(NodeCacheEntry.outputs_artifact == artifact)))
