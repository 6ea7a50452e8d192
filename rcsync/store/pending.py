"""What is pending: the local edits not yet confirmed by RingCentral. Defined here only.

A message is pending when it has a ``local_edit`` row (the triggers keep one per message
whose read_status or availability differs from its base); a deleted row is pending while
its ``tombstone`` has no ``pushed_at``. Every reader of "pending" (the push, the watch's
cheap check, status, the CLI) asks this module, so the definition cannot drift. Each query
costs O(pending), not O(archive): the triggers keep both tables small.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rcsync.rules.actions import PendingMessage, PendingTombstone
from rcsync.rules.merge import FieldState
from rcsync.store.extensions import extensions_of

# How many edits are pending and the newest edit time, in one query. The time lets the
# watch tell a new edit from one a push already handled (see rcsync.watch.schedule).
_SUMMARY = sa.text("""
    SELECT (SELECT count(*) FROM local_edit)
           + (SELECT count(*) FROM tombstone WHERE pushed_at IS NULL),
           max(coalesce((SELECT max(edited_at) FROM local_edit), ''),
               coalesce((SELECT max(deleted_at) FROM tombstone WHERE pushed_at IS NULL), ''))
""")


_PENDING_MESSAGES = sa.text(
    "SELECT m.id, m.read_status, m.base_read_status, m.remote_read_status,"
    " m.availability, m.base_availability, m.remote_availability,"
    " e.edited_at, m.last_modified_time"
    # CROSS JOIN fixes the loop order (SQLite's rule): local_edit outside, message looked
    # up by primary key. A plain JOIN lets the planner scan the whole archive instead.
    " FROM local_edit e CROSS JOIN message m ON m.id = e.message_id ORDER BY e.message_id"
)
_PENDING_TOMBSTONES = sa.text(
    "SELECT message_id, base_availability, json_extract(row_json, '$.remote_availability'),"
    " deleted_at, json_extract(row_json, '$.last_modified_time')"
    " FROM tombstone WHERE pushed_at IS NULL ORDER BY message_id"
)
_EDITED = sa.text("SELECT message_id FROM local_edit")
_DELETED = sa.text("SELECT message_id FROM tombstone WHERE pushed_at IS NULL")
_ANY = sa.text(
    "SELECT EXISTS (SELECT 1 FROM local_edit)"
    " OR EXISTS (SELECT 1 FROM tombstone WHERE pushed_at IS NULL)"
)


def pending_message_ids(conn: Connection) -> set[int]:
    """Messages with a pending field edit (read status, availability)."""
    return {int(r[0]) for r in conn.execute(_EDITED)}


def pending_row_deletes(conn: Connection) -> set[int]:
    """Messages whose row was deleted locally and whose delete is not pushed yet."""
    return {int(r[0]) for r in conn.execute(_DELETED)}


def pending_summary(conn: Connection) -> tuple[int, str | None]:
    """(number of pending edits, the newest edit's time or None)."""
    row = conn.execute(_SUMMARY).one()
    return int(row[0] or 0), str(row[1] or "") or None


def has_pending(conn: Connection) -> bool:
    """Whether anything at all is pending (cheaper than counting)."""
    return conn.execute(_ANY).scalar() == 1


def load_pending(
    conn: Connection, *, extension: str | None = None
) -> tuple[list[PendingMessage], list[PendingTombstone]]:
    """Everything waiting to be pushed (of one extension id, when given); the cost grows
    with the pending edits only."""
    messages = [
        PendingMessage(
            int(r[0]),
            FieldState(r[1], r[2], r[3], r[7], r[8]),
            FieldState(r[4], r[5], r[6], r[7], r[8]),
        )
        for r in conn.execute(_PENDING_MESSAGES)
    ]
    tombstones = [
        PendingTombstone(int(r[0]), r[1], r[2], r[3], r[4])
        for r in conn.execute(_PENDING_TOMBSTONES)
    ]
    if extension is not None:
        ids = [m.message_id for m in messages] + [t.message_id for t in tombstones]
        owners = extensions_of(conn, ids)
        messages = [m for m in messages if owners.get(m.message_id) == extension]
        tombstones = [t for t in tombstones if owners.get(t.message_id) == extension]
    return messages, tombstones
