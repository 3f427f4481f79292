"""Apply the Alembic migrations (on start and by `minddocs db upgrade`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from .db import Database

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_ID = 0x6D696E64  # "mind": serialises concurrent upgrades on PostgreSQL


def alembic_config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database"] = db
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema up to `revision`; safe when several processes start at once."""
    config = alembic_config(db)
    with db.engine.connect() as connection:
        if db.is_sqlite:
            # Batch migrations rebuild SQLite tables (copy, drop, rename): with foreign keys enforced, dropping
            # a table other rows refer to fails. Off for the upgrade (outside any transaction, where SQLite
            # honours it); `foreign_key_check` below then proves nothing was left dangling.
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        if not db.is_sqlite:
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _LOCK_ID})
            connection.commit()
        try:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            connection.commit()
            if db.is_sqlite:
                dangling = connection.connection.dbapi_connection.execute("PRAGMA foreign_key_check").fetchall()
                if dangling:
                    raise RuntimeError(f"the migration left rows pointing at nothing: {dangling[:5]}")
        finally:
            if db.is_sqlite:
                connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")
            if not db.is_sqlite:
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _LOCK_ID})
                connection.commit()


def current(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
