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

# How many edits are pending and the newest edit time, in one query. The time lets the
# watch tell a new edit from one a push already handled (see rcsync.watch.schedule).
_SUMMARY = sa.text("""
    SELECT (SELECT count(*) FROM local_edit)
           + (SELECT count(*) FROM tombstone WHERE pushed_at IS NULL),
           max(coalesce((SELECT max(edited_at) FROM local_edit), ''),
               coalesce((SELECT max(deleted_at) FROM tombstone WHERE pushed_at IS NULL), ''))
""")


def pending_summary(conn: Connection) -> tuple[int, str | None]:
    """(number of pending edits, the newest edit's time or None)."""
    row = conn.execute(_SUMMARY).one()
    return int(row[0] or 0), str(row[1] or "") or None
