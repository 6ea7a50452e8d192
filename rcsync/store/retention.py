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

# An attachment still to fetch: never tried, or its last try failed (not one held back on
# purpose by the settings, nor one gone with its message: those have other reasons).
_INCOMPLETE = (
    "EXISTS (SELECT 1 FROM attachment a WHERE a.message_id = m.id AND a.path IS NULL"
    " AND (a.skipped IS NULL OR a.skipped LIKE 'error:%'))"
)
_UNHEARD = (
    "m.direction = 'Inbound' AND m.remote_read_status = 'Unread'"
    " AND m.remote_availability = 'Alive'"
)


def extension_counts(conn: Any, cut: Cutoffs) -> list[ExtensionCounts]:
    """One entry per extension in the archive (extension '' when rows carry none)."""
    by_ext: dict[str, ExtensionCounts] = {}

    def get(ext: Any) -> ExtensionCounts:
        key = str(ext or "")
        return by_ext.setdefault(key, ExtensionCounts(key))

    live = "" if cut.live_since is None else " AND m.creation_time >= ?"
    for ext, mtype, n, incomplete in _rows(
        conn,
        f"SELECT coalesce(m.extension_id, ''), m.type, count(*), sum({_INCOMPLETE}) FROM message m"
        f" WHERE m.type IN ('VoiceMail', 'Fax') AND {_UNHEARD}{live} GROUP BY 1, 2",
        tuple([cut.live_since] if cut.live_since else []),
    ):
        c = get(ext)
        if mtype == "VoiceMail":
            c.unheard_voicemail = n
        else:
            c.unread_fax = n
        c.capped_incomplete += int(incomplete or 0)
    folders = (
        "CASE WHEN m.remote_availability = 'Deleted' THEN 'Deleted'"
        " WHEN m.direction = 'Inbound' THEN 'Inbox' ELSE 'Sent' END"
    )
    for ext, folder, n in _rows(
        conn,
        f"SELECT coalesce(m.extension_id, ''), {folders}, count(*) FROM message m"
        " WHERE m.type = 'SMS' AND m.remote_availability IN ('Alive', 'Deleted') GROUP BY 1, 2",
    ):
        get(ext).sms_folders[str(folder)] = n
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
