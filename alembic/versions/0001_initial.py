"""Initial schema: messages, attachments, conflicts, edit capture, tombstones, FTS.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The SQLite-only SQL of this revision, frozen here (later revisions change it).
SQLITE_DDL_0001 = (
    """
    CREATE TRIGGER message_edit_check BEFORE UPDATE OF read_status, availability ON message
    BEGIN
      SELECT RAISE(ABORT, 'rcsync: read_status must be ''Read'' or ''Unread''')
       WHERE NEW.read_status IS NOT OLD.read_status
         AND NEW.read_status IS NOT NEW.base_read_status
         AND NEW.read_status NOT IN ('Read', 'Unread');
      SELECT RAISE(ABORT, 'rcsync: availability must be ''Alive'', ''Deleted'' or ''Purged''')
       WHERE NEW.availability IS NOT OLD.availability
         AND NEW.availability IS NOT NEW.base_availability
         AND NEW.availability NOT IN ('Alive', 'Deleted', 'Purged');
      SELECT RAISE(ABORT, 'rcsync: a purged message cannot be restored or un-purged')
       WHERE NEW.availability IS NOT OLD.availability
         AND NEW.base_availability = 'Purged' AND NEW.availability <> 'Purged';
    END
    """,
    """
    CREATE TRIGGER message_edit AFTER UPDATE OF read_status, availability ON message
    WHEN NEW.read_status IS NOT OLD.read_status OR NEW.availability IS NOT OLD.availability
    BEGIN
      INSERT INTO local_edit (message_id, edited_at, attempts)
        SELECT NEW.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 0 WHERE (NEW.read_status IS NOT NEW.base_read_status OR NEW.availability IS NOT NEW.base_availability)
        ON CONFLICT (message_id) DO UPDATE SET edited_at = excluded.edited_at,
                                               last_error = NULL;
      DELETE FROM local_edit WHERE message_id = NEW.id AND NOT (NEW.read_status IS NOT NEW.base_read_status OR NEW.availability IS NOT NEW.base_availability);
    END
    """,
    """
    CREATE TRIGGER message_base_moved AFTER UPDATE OF base_read_status, base_availability
    ON message WHEN NOT (NEW.read_status IS NOT NEW.base_read_status OR NEW.availability IS NOT NEW.base_availability)
    BEGIN
      DELETE FROM local_edit WHERE message_id = NEW.id;
    END
    """,
    """
    CREATE TRIGGER message_row_delete AFTER DELETE ON message
    BEGIN
      INSERT INTO tombstone (message_id, deleted_at, base_availability, row_json, attempts)
        VALUES (OLD.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), OLD.base_availability, json_object('id', OLD.id, 'extension_id', OLD.extension_id, 'type', OLD.type, 'direction', OLD.direction, 'subject', OLD.subject, 'read_status', OLD.read_status, 'availability', OLD.availability, 'message_status', OLD.message_status, 'priority', OLD.priority, 'creation_time', OLD.creation_time, 'last_modified_time', OLD.last_modified_time, 'conversation_id', OLD.conversation_id, 'from_phone_number', OLD.from_phone_number, 'from_name', OLD.from_name, 'to_phone_numbers', OLD.to_phone_numbers, 'to_names', OLD.to_names, 'text', OLD.text, 'transcription', OLD.transcription, 'fax_page_count', OLD.fax_page_count, 'vm_duration', OLD.vm_duration, 'raw', OLD.raw, 'base_read_status', OLD.base_read_status, 'base_availability', OLD.base_availability, 'remote_read_status', OLD.remote_read_status, 'remote_availability', OLD.remote_availability, 'synced_at', OLD.synced_at), 0)
        ON CONFLICT (message_id) DO NOTHING;
      DELETE FROM local_edit WHERE message_id = OLD.id;
    END
    """,
    """
    CREATE VIEW pending_change AS
      SELECT m.id AS message_id, 'read_status' AS field, m.base_read_status AS old_value,
             m.read_status AS new_value, e.edited_at AS since, e.attempts AS attempts,
             e.last_error AS last_error
        FROM local_edit e JOIN message m ON m.id = e.message_id
       WHERE m.read_status IS NOT m.base_read_status
      UNION ALL
      SELECT m.id, 'availability', m.base_availability, m.availability, e.edited_at,
             e.attempts, e.last_error
        FROM local_edit e JOIN message m ON m.id = e.message_id
       WHERE m.availability IS NOT m.base_availability
      UNION ALL
      SELECT t.message_id, 'row', t.base_availability, 'row deleted', t.deleted_at,
             t.attempts, t.last_error
        FROM tombstone t WHERE t.pushed_at IS NULL
    """,
    """
    CREATE VIRTUAL TABLE message_fts USING fts5(
      subject, text, transcription, content='message', content_rowid='id',
      tokenize='unicode61 remove_diacritics 2'
    )
    """,
    """
    CREATE TRIGGER message_fts_insert AFTER INSERT ON message BEGIN
      INSERT INTO message_fts (rowid, subject, text, transcription)
        VALUES (NEW.id, NEW.subject, NEW.text, NEW.transcription);
    END
    """,
    """
    CREATE TRIGGER message_fts_delete AFTER DELETE ON message BEGIN
      INSERT INTO message_fts (message_fts, rowid, subject, text, transcription)
        VALUES ('delete', OLD.id, OLD.subject, OLD.text, OLD.transcription);
    END
    """,
    """
    CREATE TRIGGER message_fts_update AFTER UPDATE OF subject, text, transcription ON message
    WHEN NEW.subject IS NOT OLD.subject OR NEW.text IS NOT OLD.text
      OR NEW.transcription IS NOT OLD.transcription
    BEGIN
      INSERT INTO message_fts (message_fts, rowid, subject, text, transcription)
        VALUES ('delete', OLD.id, OLD.subject, OLD.text, OLD.transcription);
      INSERT INTO message_fts (rowid, subject, text, transcription)
        VALUES (NEW.id, NEW.subject, NEW.text, NEW.transcription);
    END
    """,
)
SQLITE_OBJECTS_0001 = {
    "trigger": (
        "message_edit_check",
        "message_edit",
        "message_base_moved",
        "message_row_delete",
        "message_fts_insert",
        "message_fts_delete",
        "message_fts_update",
    ),
    "view": ("pending_change",),
    "table": ("message_fts",),
}


def upgrade() -> None:
    op.create_table(
        "conflict",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("field", sa.Text(), nullable=False),
        sa.Column("base_value", sa.Text(), nullable=True),
        sa.Column("local_value", sa.Text(), nullable=True),
        sa.Column("remote_value", sa.Text(), nullable=True),
        sa.Column("local_time", sa.Text(), nullable=True),
        sa.Column("remote_time", sa.Text(), nullable=True),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=False),
        sa.Column("resolved_value", sa.Text(), nullable=True),
        sa.Column("detected_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("conflict", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_conflict_message_id"), ["message_id"], unique=False)

    op.create_table(
        "local_edit",
        sa.Column(
            "message_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("edited_at", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("message_id"),
    )
    op.create_table(
        "message",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("extension_id", sa.Text(), nullable=True),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("direction", sa.Text(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("read_status", sa.Text(), nullable=True),
        sa.Column("availability", sa.Text(), nullable=True),
        sa.Column("message_status", sa.Text(), nullable=True),
        sa.Column("priority", sa.Text(), nullable=True),
        sa.Column("creation_time", sa.Text(), nullable=False),
        sa.Column("last_modified_time", sa.Text(), nullable=True),
        sa.Column("conversation_id", sa.Text(), nullable=True),
        sa.Column("from_phone_number", sa.Text(), nullable=True),
        sa.Column("from_name", sa.Text(), nullable=True),
        sa.Column("to_phone_numbers", sa.Text(), nullable=True),
        sa.Column("to_names", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("transcription", sa.Text(), nullable=True),
        sa.Column("fax_page_count", sa.Integer(), nullable=True),
        sa.Column("vm_duration", sa.Integer(), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("base_read_status", sa.Text(), nullable=True),
        sa.Column("base_availability", sa.Text(), nullable=True),
        sa.Column("remote_read_status", sa.Text(), nullable=True),
        sa.Column("remote_availability", sa.Text(), nullable=True),
        sa.Column("synced_at", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.create_index("ix_message_conversation", ["conversation_id"], unique=False)
        batch_op.create_index("ix_message_creation_time", ["creation_time"], unique=False)
        batch_op.create_index(
            "ix_message_type_availability", ["type", "availability"], unique=False
        )

    op.create_table(
        "sync_state",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "tombstone",
        sa.Column(
            "message_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("deleted_at", sa.Text(), nullable=False),
        sa.Column("base_availability", sa.Text(), nullable=True),
        sa.Column("row_json", sa.Text(), nullable=True),
        sa.Column("action", sa.Text(), nullable=True),
        sa.Column("pushed_at", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("message_id"),
    )
    op.create_table(
        "attachment",
        sa.Column(
            "message_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("type", sa.Text(), nullable=True),
        sa.Column("content_type", sa.Text(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("uri", sa.Text(), nullable=True),
        sa.Column("file_name", sa.Text(), nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("sha256", sa.Text(), nullable=True),
        sa.Column("downloaded_at", sa.Text(), nullable=True),
        sa.Column("skipped", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_id", "id"),
    )
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_DDL_0001:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_OBJECTS_0001["trigger"]:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        for name in SQLITE_OBJECTS_0001["view"]:
            op.execute(f"DROP VIEW IF EXISTS {name}")
        for name in SQLITE_OBJECTS_0001["table"]:
            op.execute(f"DROP TABLE IF EXISTS {name}")
    for table in ("attachment", "tombstone", "sync_state", "message", "local_edit", "conflict"):
        op.drop_table(table)
