"""Account-wide archives (issue 12): the ``extension`` table and ``message.extension_id``.

One database can hold every extension of a RingCentral account. ``extension`` keeps what
RingCentral said of each one the archive mirrors (number, name, type, status), when it was
first seen and last pulled, and whether RingCentral still has it (``remote_gone``: a user
deleted in RingCentral keeps their archive here). The per-extension cursor and first-pull
progress live in ``sync_state`` under keys suffixed by the extension id
(`rcsync.store.extensions.StateKeys`); the unsuffixed keys of a single-extension database
stay the cursor of its *home* extension (the login that built it), so an existing database
upgrades without moving a row.

Rows whose ``extension_id`` is still NULL are backfilled from their stored record's
``extensionId`` (RingCentral puts it in every message record); what is left is adopted by
the home extension on the next pull, when its id is known. Portable SQL except the JSON
read, which has a dialect for each database.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_BACKFILL = {
    "sqlite": (
        "UPDATE message SET extension_id = CAST(json_extract(raw, '$.extensionId') AS TEXT)"
        " WHERE extension_id IS NULL AND json_valid(raw)"
        " AND json_extract(raw, '$.extensionId') IS NOT NULL"
    ),
    "postgresql": (
        "UPDATE message SET extension_id = (raw::json ->> 'extensionId')"
        " WHERE extension_id IS NULL AND (raw::json ->> 'extensionId') IS NOT NULL"
    ),
}


def upgrade() -> None:
    op.create_table(
        "extension",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("number", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("type", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("first_seen", sa.Text(), nullable=False),
        sa.Column("last_pulled", sa.Text(), nullable=True),
        sa.Column("remote_gone", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("gone_since", sa.Text(), nullable=True),
    )
    op.create_index("ix_message_extension", "message", ["extension_id"])
    sql = _BACKFILL.get(op.get_bind().dialect.name)
    if sql is not None:
        op.execute(sql)


def downgrade() -> None:
    op.drop_index("ix_message_extension", table_name="message")
    op.drop_table("extension")
