"""Alembic environment: runs on the connection that ``gateway.store.migrate`` hands over."""

from __future__ import annotations

from alembic import context

import gateway.webapp.store  # noqa: F401 - its tables join the metadata
from gateway.store import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through gateway.store.migrate (blo-gateway serve does)")
context.configure(connection=connection, target_metadata=metadata, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
