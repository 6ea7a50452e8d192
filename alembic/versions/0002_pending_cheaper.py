"""Cheaper pending edits, and edit times that only user changes set.

- pending_change: CROSS JOIN so local_edit drives the join (it scanned the archive before).
- ix_tombstone_pending: a partial index for row deletes not yet pushed.
- message_edit: only a user's change (a field moved away from its base) stamps edited_at;
  an engine write to one field no longer re-stamps a pending edit of the other.
- message_base_moved: base moving away from local (an edit undone while its write was in
  flight) records a pending edit, not only the reverse.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The SQL of this revision, frozen.
MESSAGE_EDIT = """
    CREATE TRIGGER message_edit AFTER UPDATE OF read_status, availability ON message
    WHEN NEW.read_status IS NOT OLD.read_status OR NEW.availability IS NOT OLD.availability
    BEGIN
      INSERT INTO local_edit (message_id, edited_at, attempts)
        SELECT NEW.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 0 WHERE ((NEW.read_status IS NOT OLD.read_status AND NEW.read_status IS NOT NEW.base_read_status) OR (NEW.availability IS NOT OLD.availability AND NEW.availability IS NOT NEW.base_availability))
        ON CONFLICT (message_id) DO UPDATE SET edited_at = excluded.edited_at,
                                               last_error = NULL;
      DELETE FROM local_edit WHERE message_id = NEW.id AND NOT (NEW.read_status IS NOT NEW.base_read_status OR NEW.availability IS NOT NEW.base_availability);
    END
"""
MESSAGE_BASE_MOVED = """
    CREATE TRIGGER message_base_moved AFTER UPDATE OF base_read_status, base_availability
    ON message
    BEGIN
      DELETE FROM local_edit WHERE message_id = NEW.id AND NOT (NEW.read_status IS NOT NEW.base_read_status OR NEW.availability IS NOT NEW.base_availability);
      INSERT INTO local_edit (message_id, edited_at, attempts)
        SELECT NEW.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 0 WHERE (NEW.read_status IS NOT NEW.base_read_status OR NEW.availability IS NOT NEW.base_availability)
        ON CONFLICT (message_id) DO NOTHING;
    END
"""
PENDING_CHANGE = """
    CREATE VIEW pending_change AS
      SELECT m.id AS message_id, 'read_status' AS field, m.base_read_status AS old_value,
             m.read_status AS new_value, e.edited_at AS since, e.attempts AS attempts,
             e.last_error AS last_error
        FROM local_edit e CROSS JOIN message m ON m.id = e.message_id
       WHERE m.read_status IS NOT m.base_read_status
      UNION ALL
      SELECT m.id, 'availability', m.base_availability, m.availability, e.edited_at,
             e.attempts, e.last_error
        FROM local_edit e CROSS JOIN message m ON m.id = e.message_id
       WHERE m.availability IS NOT m.base_availability
      UNION ALL
      SELECT t.message_id, 'row', t.base_availability, 'row deleted', t.deleted_at,
             t.attempts, t.last_error
        FROM tombstone t WHERE t.pushed_at IS NULL
"""


def upgrade() -> None:
    with op.batch_alter_table("tombstone", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tombstone_pending",
            ["message_id"],
            unique=False,
            sqlite_where=sa.text("pushed_at IS NULL"),
            postgresql_where=sa.text("pushed_at IS NULL"),
        )
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP VIEW IF EXISTS pending_change")
    op.execute(PENDING_CHANGE)
    op.execute("DROP TRIGGER IF EXISTS message_edit")
    op.execute(MESSAGE_EDIT)
    op.execute("DROP TRIGGER IF EXISTS message_base_moved")
    op.execute(MESSAGE_BASE_MOVED)


def downgrade() -> None:
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "rcsync_migration_0001", Path(__file__).with_name("0001_initial.py")
    )
    assert spec is not None and spec.loader is not None
    v1 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(v1)
    with op.batch_alter_table("tombstone", schema=None) as batch_op:
        batch_op.drop_index("ix_tombstone_pending")
    if op.get_bind().dialect.name != "sqlite":
        return
    for name, kind in (
        ("pending_change", "VIEW"),
        ("message_edit", "TRIGGER"),
        ("message_base_moved", "TRIGGER"),
    ):
        op.execute(f"DROP {kind} IF EXISTS {name}")
        op.execute(next(s for s in v1.SQLITE_DDL_0001 if f" {name} " in s))
