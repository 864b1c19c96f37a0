"""Alembic environment: migrations run on a connection handed over by ``db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from haystack_collector.db.schema import metadata

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable through the alembic command line
    raise RuntimeError("run migrations through `haystack db upgrade`, which passes a connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
