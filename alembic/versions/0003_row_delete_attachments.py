"""Row deletes keep the message's attachment rows for undo and leave no orphans.

- tombstone.attachments_json: the deleted message's attachment rows, so `rcsync revert`
  brings them back with the row.
- message_row_delete becomes a BEFORE trigger (attachment rows still exist then, even for
  a client with foreign keys on) and deletes the attachment rows itself (the sqlite3
  shell runs with foreign keys off, which left orphans).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The SQL of this revision, frozen.
MESSAGE_ROW_DELETE = """
    CREATE TRIGGER message_row_delete BEFORE DELETE ON message
    BEGIN
      INSERT INTO tombstone (message_id, deleted_at, base_availability, row_json,
                             attachments_json, attempts)
        VALUES (OLD.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), OLD.base_availability, json_object('id', OLD.id, 'extension_id', OLD.extension_id, 'type', OLD.type, 'direction', OLD.direction, 'subject', OLD.subject, 'read_status', OLD.read_status, 'availability', OLD.availability, 'message_status', OLD.message_status, 'priority', OLD.priority, 'creation_time', OLD.creation_time, 'last_modified_time', OLD.last_modified_time, 'conversation_id', OLD.conversation_id, 'from_phone_number', OLD.from_phone_number, 'from_name', OLD.from_name, 'to_phone_numbers', OLD.to_phone_numbers, 'to_names', OLD.to_names, 'text', OLD.text, 'transcription', OLD.transcription, 'fax_page_count', OLD.fax_page_count, 'vm_duration', OLD.vm_duration, 'raw', OLD.raw, 'base_read_status', OLD.base_read_status, 'base_availability', OLD.base_availability, 'remote_read_status', OLD.remote_read_status, 'remote_availability', OLD.remote_availability, 'synced_at', OLD.synced_at),
                (SELECT json_group_array(json_object('message_id', message_id, 'id', id, 'type', type, 'content_type', content_type, 'size', size, 'uri', uri, 'file_name', file_name, 'path', path, 'sha256', sha256, 'downloaded_at', downloaded_at, 'skipped', skipped))
                   FROM attachment WHERE message_id = OLD.id), 0)
        ON CONFLICT (message_id) DO NOTHING;
      DELETE FROM local_edit WHERE message_id = OLD.id;
      DELETE FROM attachment WHERE message_id = OLD.id;
    END
"""


def upgrade() -> None:
    with op.batch_alter_table("tombstone", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attachments_json", sa.Text(), nullable=True))
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER IF EXISTS message_row_delete")
    op.execute(MESSAGE_ROW_DELETE)
    # Orphans an older trigger left behind (deleted from a client with foreign keys off).
    op.execute("DELETE FROM attachment WHERE message_id NOT IN (SELECT id FROM message)")


def downgrade() -> None:
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "rcsync_migration_0001", Path(__file__).with_name("0001_initial.py")
    )
    assert spec is not None and spec.loader is not None
    v1 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(v1)
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS message_row_delete")
        op.execute(next(s for s in v1.SQLITE_DDL_0001 if " message_row_delete " in s))
        # Native DROP COLUMN (SQLite >= 3.35): a batch copy of the table would trip over the
        # pending_change view that reads it.
        op.execute("ALTER TABLE tombstone DROP COLUMN attachments_json")
        return
    op.drop_column("tombstone", "attachments_json")
