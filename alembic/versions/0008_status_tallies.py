"""`status` in O(groups), not O(archive): tallies kept by triggers, and an unheard index.

``message_tally`` counts messages per combination of the columns `status` groups by
(extension, type, direction, availability, remote availability and read status; the key a
JSON array, so NULL stays apart from ''), ``attachment_tally`` attachments per state with
their bytes. Both are filled from the rows here, then kept by the triggers below for every
writer. The message insert trigger stands aside while ``fts_batch`` exists, as the FTS one
does (0006): the engine then adds the rows it inserted with one grouped statement per
batch (`rcsync.store.tally.save_inserted`), so a first pull pays no per-row trigger for it.
The UPDATE trigger only acts when a grouped column changes.

``ix_message_unheard`` is a partial index over the unheard voicemails and unread faxes
(remote columns) that RingCentral caps at 200: the retention warnings count those by
creation time without scanning every voicemail in the archive.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The SQL of this revision, frozen.
_KEY = (
    "json_array({r}extension_id, {r}type, {r}direction, {r}availability,"
    " {r}remote_availability, {r}remote_read_status)"
)
_STATE = (
    "CASE WHEN {r}path IS NOT NULL THEN 'downloaded' WHEN {r}skipped IS NOT NULL THEN 'skipped'"
    " ELSE 'waiting' END"
)
_NEW, _OLD = _KEY.format(r="NEW."), _KEY.format(r="OLD.")
_NEW_STATE, _OLD_STATE = _STATE.format(r="NEW."), _STATE.format(r="OLD.")


def _bump(key: str, delta: str) -> str:
    return (
        f"INSERT INTO message_tally (key, n) VALUES ({key}, {delta})"
        f" ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;"
    )


def _bump_attachment(state: str, row: str, sign: str) -> str:
    return (
        f"INSERT INTO attachment_tally (state, n, bytes)"
        f" VALUES ({state}, {sign}1, {sign}coalesce({row}size, 0))"
        " ON CONFLICT (state) DO UPDATE SET n = n + excluded.n, bytes = bytes + excluded.bytes;"
    )


TRIGGERS = {
    "message_tally_insert": f"""
    CREATE TRIGGER message_tally_insert AFTER INSERT ON message
    WHEN NOT EXISTS (SELECT 1 FROM sync_state WHERE key = 'fts_batch')
    BEGIN {_bump(_NEW, "1")} END""",
    "message_tally_delete": f"""
    CREATE TRIGGER message_tally_delete AFTER DELETE ON message
    BEGIN {_bump(_OLD, "-1")} END""",
    "message_tally_update": f"""
    CREATE TRIGGER message_tally_update AFTER UPDATE OF extension_id, type, direction,
      availability, remote_availability, remote_read_status ON message
    WHEN {_OLD} IS NOT {_NEW}
    BEGIN {_bump(_OLD, "-1")} {_bump(_NEW, "1")} END""",
    "attachment_tally_insert": f"""
    CREATE TRIGGER attachment_tally_insert AFTER INSERT ON attachment
    BEGIN {_bump_attachment(_NEW_STATE, "NEW.", "")} END""",
    "attachment_tally_delete": f"""
    CREATE TRIGGER attachment_tally_delete AFTER DELETE ON attachment
    BEGIN {_bump_attachment(_OLD_STATE, "OLD.", "-")} END""",
    "attachment_tally_update": f"""
    CREATE TRIGGER attachment_tally_update AFTER UPDATE OF path, skipped, size ON attachment
    WHEN {_OLD_STATE} IS NOT {_NEW_STATE} OR OLD.size IS NOT NEW.size
    BEGIN {_bump_attachment(_OLD_STATE, "OLD.", "-")} {_bump_attachment(_NEW_STATE, "NEW.", "")} END""",
}
FILL = (
    f"INSERT INTO message_tally (key, n) SELECT {_KEY.format(r='')}, count(*) FROM message"
    " GROUP BY 1",
    f"INSERT INTO attachment_tally (state, n, bytes) SELECT {_STATE.format(r='')}, count(*),"
    " coalesce(sum(size), 0) FROM attachment GROUP BY 1",
)
UNHEARD = (
    "type IN ('VoiceMail', 'Fax') AND direction = 'Inbound'"
    " AND remote_read_status = 'Unread' AND remote_availability = 'Alive'"
)


def upgrade() -> None:
    op.create_table(
        "message_tally",
        sa.Column("key", sa.Text(), primary_key=True),
        sa.Column("n", sa.Integer(), nullable=False),
    )
    op.create_table(
        "attachment_tally",
        sa.Column("state", sa.Text(), primary_key=True),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ix_message_unheard",
        "message",
        ["creation_time"],
        sqlite_where=sa.text(UNHEARD),
        postgresql_where=sa.text(UNHEARD),
    )
    if op.get_bind().dialect.name != "sqlite":
        return
    for statement in FILL:
        op.execute(statement)
    for sql in TRIGGERS.values():
        op.execute(sql)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index("ix_message_unheard", table_name="message")
    op.drop_table("attachment_tally")
    op.drop_table("message_tally")
