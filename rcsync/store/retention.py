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
from rcsync.store.tally import (
    UNHEARD_SQL,
    MessageGroup,
    is_unheard,
    message_groups,
    todo_sql,
    unheard_sql,
)
from rcsync.types import Availability, MessageType

# An attachment still to fetch: never tried, or its last try failed (not one held back on
# purpose by the settings, nor one gone with its message: those have other reasons).
_INCOMPLETE = f"EXISTS (SELECT 1 FROM attachment a WHERE a.message_id = m.id AND {todo_sql('a.')})"


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

    groups = message_groups(_rows, conn)
    for ext, mtype, n in _unheard_counts(conn, groups, cut):
        c = get(ext)
        if mtype == MessageType.VOICEMAIL:
            c.unheard_voicemail = n
        else:
            c.unread_fax = n
    # Of those, the ones with a file still to fetch, found from the attachments still to
    # fetch (ix_attachment_todo): O(what a pull has left), not O(unheard). CROSS JOIN keeps
    # the attachments the outer loop (SQLite does not reorder it): the planner would rather
    # walk every voicemail and fax by type and look up their attachments.
    live = "" if cut.live_since is None else " AND m.creation_time >= ?"
    for ext, n in _rows(
        conn,
        f"SELECT coalesce(m.extension_id, ''), count(DISTINCT m.id) FROM attachment a"
        f" CROSS JOIN message m ON m.id = a.message_id WHERE {todo_sql('a.')}"
        f" AND {unheard_sql('m.')}{live} GROUP BY 1",
        tuple([cut.live_since] if cut.live_since else []),
    ):
        get(ext).capped_incomplete += int(n)
    # SMS folders from the tally the triggers keep: O(groups).
    for g in groups:
        folder = _folder(g)
        if folder is not None:
            c = get(g.extension_id)
            c.sms_folders[folder] = c.sms_folders.get(folder, 0) + g.n
    # Time windows a few days wide, on ix_message_creation_time: O(the window's messages).
    # The unary + keeps `type` from being an index term: the planner would otherwise walk
    # ix_message_type_availability over every fax and voicemail of the archive (0.7 s of
    # a 1,000,000-message archive's 0.8 s `status`), the window only a filter.
    expiring = (
        "(+m.type = 'Fax' AND m.direction = 'Outbound' AND m.creation_time >= ?"
        " AND m.creation_time < ?)"
    )
    params: list[Any] = [*cut.sent_fax]
    if cut.retention is not None:
        expiring += (
            " OR (+m.type IN ('Fax', 'VoiceMail') AND m.creation_time >= ? AND m.creation_time < ?)"
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


def _unheard_counts(
    conn: Any, groups: list[MessageGroup], cut: Cutoffs
) -> list[tuple[str, str, int]]:
    """(extension, type, n) of the unheard voicemails and unread faxes RingCentral caps.

    From the tally while the account's retention is unknown: O(groups). Once `verify` has
    read it, only those still within it count, by creation time on their partial index
    (ix_message_unheard): O(the window's unheard).
    """
    if cut.live_since is None:
        counts: dict[tuple[str, str], int] = {}
        for g in groups:
            if is_unheard(g):
                key = (str(g.extension_id or ""), str(g.type))
                counts[key] = counts.get(key, 0) + g.n
        return [(ext, mtype, n) for (ext, mtype), n in counts.items()]
    rows = _rows(
        conn,
        f"SELECT coalesce(m.extension_id, ''), m.type, count(*) FROM message m"
        f" {_unheard_index(conn)} WHERE {UNHEARD_SQL} AND m.creation_time >= ? GROUP BY 1, 2",
        (cut.live_since,),
    )
    return [(str(ext), str(mtype), int(n)) for ext, mtype, n in rows]


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
