"""Alembic environment: runs on the connection that `storage.migrate` hands over."""

from alembic import context

from marketplace.models import include_name  # registers the marketplace tables on Base.metadata
from storage.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # plain `alembic` command line, e.g. to autogenerate a revision
    from sqlalchemy import create_engine

    connection = create_engine(config.get_main_option("sqlalchemy.url")).connect()

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  compare_type=True, include_name=include_name)
with context.begin_transaction():
    context.run_migrations()
