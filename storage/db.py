"""The database engine and sessions. Only this package holds a Session."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for plain PostgreSQL URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        # Writers take the lock up front: a deferred transaction that later writes can fail with
        # "database is locked" without waiting, which busy_timeout cannot fix.
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """Sessions for writing (`session`) and for reading (`read`), on SQLite or PostgreSQL."""

    def __init__(self, url: str):
        self.url = normalise_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        if self.is_sqlite:
            path = self.url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine = _sqlite_engine(self.url, immediate=True)
            self.read_engine = _sqlite_engine(self.url, immediate=False)
        else:
            self.engine = create_engine(self.url, pool_size=10, max_overflow=20)
            self.read_engine = self.engine
        # SQLite lets one writer in at a time and makes the others sleep-and-retry (1, 2, 5, 10… ms).
        # Threads of this process queue on a lock instead, and are woken the moment it is free.
        self._write_lock: threading.RLock | contextlib.nullcontext = (
            threading.RLock() if self.is_sqlite else contextlib.nullcontext())
        self._write = sessionmaker(self.engine, expire_on_commit=False)
        self._read = sessionmaker(self.read_engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on error."""
        with self._write_lock, self._write.begin() as session:
            yield session

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A Core-level write transaction, for the runtime's hot path (no ORM bookkeeping)."""
        with self._write_lock, self.engine.begin() as connection:
            yield connection

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read.begin() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()
