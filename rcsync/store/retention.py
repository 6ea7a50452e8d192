"""The counts behind `status`'s retention warnings (`rcsync.rules.retention`), per extension.

Read-only, on a sqlite3 or SQLAlchemy connection like the rest of `status`. Counted on the
*remote* columns: RingCentral's caps count what RingCentral holds, not local edits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from rcsync.rules.retention import Cutoffs, ExtensionCounts, cutoffs, limits_from, warnings
from rcsync.store.status import _rows
from rcsync.store.tally import UNHEARD_SQL, MessageGroup, message_groups
from rcsync.types import Availability, MessageType

# An attachment still to fetch: never tried, or its last try failed (not one held back on
# purpose by the settings, nor one gone with its message: those have other reasons).
_INCOMPLETE = (
    "EXISTS (SELECT 1 FROM attachment a WHERE a.message_id = m.id AND a.path IS NULL"
    " AND (a.skipped IS NULL OR a.skipped LIKE 'error:%'))"
)


def _folder(g: MessageGroup) -> str | None:
    """The SMS folder RingCentral files these in (None: not SMS, or not in a folder)."""
    if g.type != MessageType.SMS:
        return None
    if g.remote_availability == Availability.DELETED:
        return "Deleted"
    if g.remote_availability != Availability.ALIVE:
        return None
    return "Inbox" if g.direction == "Inbound" else "Sent"


def extension_counts(conn: Any, cut: Cutoffs) -> list[ExtensionCounts]:
    """One entry per extension in the archive (extension '' when rows carry none)."""
    by_ext: dict[str, ExtensionCounts] = {}

    def get(ext: Any) -> ExtensionCounts:
        key = str(ext or "")
        return by_ext.setdefault(key, ExtensionCounts(key))

    # The capped ones through their partial index (ix_message_unheard, by creation time):
    # O(unheard), or O(the retention window's) once `verify` has read the period.
    live = "" if cut.live_since is None else " AND m.creation_time >= ?"
    for ext, mtype, n, incomplete in _rows(
        conn,
        f"SELECT coalesce(m.extension_id, ''), m.type, count(*), sum({_INCOMPLETE})"
        f" FROM message m {_unheard_index(conn)} WHERE {UNHEARD_SQL}{live} GROUP BY 1, 2",
        tuple([cut.live_since] if cut.live_since else []),
    ):
        c = get(ext)
        if mtype == MessageType.VOICEMAIL:
            c.unheard_voicemail = n
        else:
            c.unread_fax = n
        c.capped_incomplete += int(incomplete or 0)
    # SMS folders from the tally the triggers keep: O(groups).
    for g in message_groups(_rows, conn):
        folder = _folder(g)
        if folder is not None:
            c = get(g.extension_id)
            c.sms_folders[folder] = c.sms_folders.get(folder, 0) + g.n
    # Time windows a few days wide, on ix_message_creation_time: O(the window's messages).
    expiring = (
        "(m.type = 'Fax' AND m.direction = 'Outbound' AND m.creation_time >= ?"
        " AND m.creation_time < ?)"
    )
    params: list[Any] = [*cut.sent_fax]
    if cut.retention is not None:
        expiring += (
            " OR (m.type IN ('Fax', 'VoiceMail') AND m.creation_time >= ? AND m.creation_time < ?)"
        )
        params += cut.retention
    for ext, n, incomplete in _rows(
        conn,
        f"SELECT coalesce(m.extension_id, ''), count(*), sum({_INCOMPLETE}) FROM message m"
        f" WHERE ({expiring}) AND m.remote_availability IN ('Alive', 'Deleted') GROUP BY 1",
        tuple(params),
    ):
        c = get(ext)
        c.expiring, c.expiring_incomplete = n, int(incomplete or 0)
    return [by_ext[k] for k in sorted(by_ext)]


def _unheard_index(conn: Any) -> str:
    """``INDEXED BY`` the partial index when the database has it (0008): the planner would
    rather walk every voicemail by type; a database `status` reads unmigrated has none."""
    found = _rows(
        conn, "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'ix_message_unheard'"
    )
    return "INDEXED BY ix_message_unheard" if found else ""


#: sync_state key: JSON ``{"retention_period", "read_at"}`` as `verify` read it.
RETENTION_STATE = "retention"


def retention_report(conn: Any, now: dt.datetime) -> dict[str, Any]:
    """`status`'s ``retention``: the limits (and their source), per-extension counts,
    and the warnings."""
    found = _rows(conn, "SELECT value FROM sync_state WHERE key = ?", (RETENTION_STATE,))
    limits = limits_from(found[0][0] if found else None)
    counts = extension_counts(conn, cutoffs(limits, now))
    return {
        "limits": limits.as_dict(),
        "source": limits.source.value,
        "summary": limits.describe(),
        "extensions": {c.extension_id: dataclasses.asdict(c) for c in counts},
        "warnings": [w for c in counts for w in warnings(c, limits)],
    }


def empty_retention() -> dict[str, Any]:
    limits = limits_from(None)
    return {
        "limits": limits.as_dict(),
        "source": limits.source.value,
        "summary": limits.describe(),
        "extensions": {},
        "warnings": [],
    }
