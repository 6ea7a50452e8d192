"""Counts kept current by the database itself, so `status` costs O(groups), not O(archive).

``message_tally`` holds one row per combination of the columns `status` and its retention
warnings group by (`MESSAGE_KEY`: extension, type, direction, availability, and the remote
availability and read status), with how many messages have it; ``attachment_tally`` one
row per attachment state (downloaded, skipped, waiting) with a count and a byte sum. The
key is a JSON array, so a NULL stays apart from any string (``[null]`` is not ``[""]``).

Triggers installed by migration 0008 keep both tables right for every writer, the engine
and a user's SQL alike (insert, delete, an UPDATE that moves a row between groups, a
restore). One exception keeps a first pull free of a per-row cost: while the engine's
``fts_batch`` key exists (migration 0006: set and cleared inside one ``BEGIN IMMEDIATE``
transaction, so no other writer ever runs under it) the message insert trigger stands
aside, like the FTS one, and the engine adds the rows it inserted, grouped, per batch
(`save_inserted`). `recount` rebuilds both tables in bulk from the rows
(a writer that bypassed the triggers, such as a bulk load with the triggers stood aside).

A database not yet at 0008 (`status` opens it read-only, without migrating) has no tally:
the readers then group the rows themselves (`message_groups`, `attachment_states`), the
same answer at O(archive) cost, so `status` is right either way.

Import-light like `rcsync.store.status`: the readers take a sqlite3 or SQLAlchemy connection.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from rcsync.types import Availability, MessageType, ReadStatus

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


def unheard_sql(row: str = "") -> str:
    """Inbound voicemail and faxes that RingCentral still holds as unread: what its caps
    count (remote columns: they count what RingCentral holds, not local edits); `row`
    prefixes each column (``m.``). Unprefixed (`UNHEARD_SQL`), the condition of the partial
    index ix_message_unheard (`rcsync.store.retention` reads through it)."""
    return (
        f"{row}type IN ('VoiceMail', 'Fax') AND {row}direction = 'Inbound'"
        f" AND {row}remote_read_status = 'Unread' AND {row}remote_availability = 'Alive'"
    )


UNHEARD_SQL = unheard_sql()


def is_unheard(g: MessageGroup) -> bool:
    """`unheard_sql` of a tally group: its messages are all unheard, or none is."""
    return (
        g.type in (MessageType.VOICEMAIL, MessageType.FAX)
        and g.direction == "Inbound"
        and g.remote_read_status == ReadStatus.UNREAD
        and g.remote_availability == Availability.ALIVE
    )


def todo_sql(row: str = "") -> str:
    """The attachments a pull still has work for: never tried (no file, no mark) or whose
    last try failed; `row` prefixes each column (``a.``). The condition of the partial index
    ix_attachment_todo: a query that repeats it word for word reads through that index.
    Not LIKE: what it matches turns on PRAGMA case_sensitive_like, which a user's connection
    may set, and an index's condition must mean the same to every writer."""
    return f"{row}path IS NULL AND ({row}skipped IS NULL OR substr({row}skipped, 1, 6) = 'error:')"


MESSAGE_TALLY = "message_tally"
ATTACHMENT_TALLY = "attachment_tally"

# The grouping columns, in the order of the key's JSON array.
MESSAGE_KEY_COLUMNS = (
    "extension_id",
    "type",
    "direction",
    "availability",
    "remote_availability",
    "remote_read_status",
)


def message_key(row: str = "") -> str:
    """The SQL of a message's tally key; `row` prefixes each column (``NEW.``, ``m.``)."""
    return "json_array(" + ", ".join(f"{row}{c}" for c in MESSAGE_KEY_COLUMNS) + ")"


class AttachmentState(StrEnum):
    """What `status` tells of an attachment; `attachment_state` is its SQL."""

    DOWNLOADED = "downloaded"  # path set: the file is in the archive
    SKIPPED = "skipped"  # no file, and a reason why (settings, purged remotely, an error)
    WAITING = "waiting"  # no file, no reason yet: still to fetch


def attachment_state(row: str = "") -> str:
    return (
        f"CASE WHEN {row}path IS NOT NULL THEN '{AttachmentState.DOWNLOADED}'"
        f" WHEN {row}skipped IS NOT NULL THEN '{AttachmentState.SKIPPED}'"
        f" ELSE '{AttachmentState.WAITING}' END"
    )


_MESSAGE_GROUPS = f"SELECT {message_key()}, count(*) FROM message GROUP BY 1"
_ATTACHMENT_STATES = (
    f"SELECT {attachment_state()}, count(*), coalesce(sum(size), 0) FROM attachment GROUP BY 1"
)
# The key is built by SQLite's json_array from the values bound, as the triggers build it
# from the stored columns: all TEXT columns, so the values are stored as bound and the two
# keys are the same text (no Python JSON encoding to keep in step with SQLite's).
_ADD_GROUP = (
    f"INSERT INTO {MESSAGE_TALLY} (key, n)"
    f" VALUES (json_array({', '.join('?' for _ in MESSAGE_KEY_COLUMNS)}), ?)"
    " ON CONFLICT (key) DO UPDATE SET n = n + excluded.n"
)


@dataclass(frozen=True)
class MessageGroup:
    """How many messages share these values (one tally row)."""

    extension_id: Any
    type: Any
    direction: Any
    availability: Any
    remote_availability: Any
    remote_read_status: Any
    n: int


Rows = Callable[[Any, str], list[tuple[Any, ...]]]


def has_tally(rows: Rows, conn: Any) -> bool:
    found = rows(
        conn, f"SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '{MESSAGE_TALLY}'"
    )
    return bool(found)


def message_groups(rows: Rows, conn: Any) -> list[MessageGroup]:
    """Every non-empty group of messages; `rows` runs a query on `conn` (status's `_rows`)."""
    sql = (
        f"SELECT key, n FROM {MESSAGE_TALLY} WHERE n <> 0"
        if has_tally(rows, conn)
        else _MESSAGE_GROUPS
    )
    return [_group(key, n) for key, n in rows(conn, sql)]


def _group(key: str, n: Any) -> MessageGroup:
    ext, mtype, direction, avail, remote_avail, remote_read = json.loads(key)
    return MessageGroup(ext, mtype, direction, avail, remote_avail, remote_read, int(n))


def attachment_states(rows: Rows, conn: Any) -> dict[AttachmentState, tuple[int, int]]:
    """(count, bytes) per attachment state; states with no attachment are absent."""
    sql = (
        f"SELECT state, n, bytes FROM {ATTACHMENT_TALLY} WHERE n <> 0"
        if has_tally(rows, conn)
        else _ATTACHMENT_STATES
    )
    return {AttachmentState(s): (int(n), int(b)) for s, n, b in rows(conn, sql)}


def save_inserted(conn: Connection, keys: Iterable[Sequence[Any]]) -> None:
    """Count rows the engine inserted while the insert trigger stood aside (`fts_batch`).

    `keys` holds each inserted row's values of `MESSAGE_KEY_COLUMNS`, as bound to the
    insert; they must be exactly the rows inserted under it, like the FTS batch's: a row
    counted twice or never would make every later status wrong. Grouped here from the
    rows the engine already holds: a grouped SELECT over the batch (json_each of its ids)
    cost 0.26 s of a 100k first pull.
    """
    groups = Counter(tuple(key) for key in keys)
    if groups:
        conn.exec_driver_sql(_ADD_GROUP, [(*key, n) for key, n in groups.items()])


def recount(conn: Connection, *, messages: bool = True) -> None:
    """Rebuild both tallies from the rows (one pass over each table); the attachment one
    alone if not `messages`."""
    if messages:
        conn.exec_driver_sql(f"DELETE FROM {MESSAGE_TALLY}")
        conn.exec_driver_sql(f"INSERT INTO {MESSAGE_TALLY} (key, n) {_MESSAGE_GROUPS}")
    conn.exec_driver_sql(f"DELETE FROM {ATTACHMENT_TALLY}")
    conn.exec_driver_sql(f"INSERT INTO {ATTACHMENT_TALLY} (state, n, bytes) {_ATTACHMENT_STATES}")
