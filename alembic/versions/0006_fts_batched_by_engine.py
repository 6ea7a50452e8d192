"""The pull indexes its own inserts in one statement per batch, not one FTS write per row.

``message_fts_insert`` (0005) wrote the FTS index once per inserted row; for a first pull
that was half of the insert cost. It now stands aside while the row ``sync_state`` key
``fts_batch`` exists, and `rcsync.store.messages.save_records` indexes the rows it inserted
with one ``INSERT INTO message_fts ... SELECT`` instead. The engine sets that key and
deletes it again inside one ``BEGIN IMMEDIATE`` transaction, so no other connection ever
sees it (WAL readers see committed states only, writers wait for the lock) and a crash
rolls it back with the rows: every other insert (a user's, an undo) is indexed by the
trigger as before.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# The SQL of this revision, frozen.
FTS_INSERT = """
    CREATE TRIGGER message_fts_insert AFTER INSERT ON message
    WHEN NOT EXISTS (SELECT 1 FROM sync_state WHERE key = 'fts_batch')
    BEGIN
      INSERT INTO message_fts (rowid, subject, text, transcription, from_name, from_phone_number, to_names, to_phone_numbers)
        VALUES (NEW.id, NEW.subject, NEW.text, NEW.transcription, NEW.from_name, NEW.from_phone_number, NEW.to_names, NEW.to_phone_numbers);
    END
"""
FTS_INSERT_0005 = """
    CREATE TRIGGER message_fts_insert AFTER INSERT ON message BEGIN
      INSERT INTO message_fts (rowid, subject, text, transcription, from_name, from_phone_number, to_names, to_phone_numbers)
        VALUES (NEW.id, NEW.subject, NEW.text, NEW.transcription, NEW.from_name, NEW.from_phone_number, NEW.to_names, NEW.to_phone_numbers);
    END
"""


def _replace(statement: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER IF EXISTS message_fts_insert")
    op.execute(statement)


def upgrade() -> None:
    _replace(FTS_INSERT)


def downgrade() -> None:
    _replace(FTS_INSERT_0005)
