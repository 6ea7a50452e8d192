"""Alembic environment; run from code (rcsync.store.database), which passes a connection."""

from __future__ import annotations

from alembic import context

from rcsync.store.schema import SQLModel

target_metadata = SQLModel.metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:  # pragma: no cover - only when someone runs `alembic` by hand
        raise RuntimeError("run migrations with `rcsync db upgrade`")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies tables
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
