"""SQL that rcsync shows or hands over as a user's own: edits made outside the engine.

`rcsync demo` runs its edits through Python's own ``sqlite3`` driver, not rcsync's engine,
on purpose: it shows that any client's UPDATE becomes a pending change (the triggers see
it), and it prints each statement as the user would type it. `CANNED_EDITS` are the
write queries `rcsync datasette` offers: plain UPDATEs of ``message`` too, pushed like any.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

#: Datasette canned queries: name -> (title, SQL with :id).
CANNED_EDITS = {
    "mark_read": ("Mark a message read", "UPDATE message SET read_status = 'Read' WHERE id = :id"),
    "mark_unread": (
        "Mark a message unread",
        "UPDATE message SET read_status = 'Unread' WHERE id = :id",
    ),
    "trash": (
        "Move a message to RingCentral's trash",
        "UPDATE message SET availability = 'Deleted' WHERE id = :id AND availability = 'Alive'",
    ),
    "restore": (
        "Restore a message from the trash",
        "UPDATE message SET availability = 'Alive' WHERE id = :id AND availability = 'Deleted'",
    ),
}


def pick_messages(db: Path) -> dict[str, list[int]]:
    """A few recent messages of each kind worth editing: {edit: ids}."""
    with sqlite3.connect(db) as con:

        def ids(where: str, n: int) -> list[int]:
            return [
                r[0]
                for r in con.execute(
                    f"SELECT id FROM message WHERE {where} ORDER BY creation_time DESC LIMIT {n}"
                )
            ]

        return {
            "read": ids("type = 'SMS' AND read_status = 'Unread' AND availability = 'Alive'", 3),
            "trash": ids("type = 'Fax' AND availability = 'Alive'", 2),
            "restore": ids("availability = 'Deleted'", 1),
        }


def user_edits(picked: dict[str, list[int]]) -> list[str]:
    """The UPDATEs a user would type for `picked` (shown, then run by `run_as_user`)."""

    def id_list(ids: list[int]) -> str:
        return ", ".join(map(str, ids)) or "NULL"

    return [
        f"UPDATE message SET read_status = 'Read' WHERE id IN ({id_list(picked['read'])})",
        f"UPDATE message SET availability = 'Deleted' WHERE id IN ({id_list(picked['trash'])})",
        f"UPDATE message SET availability = 'Alive' WHERE id IN ({id_list(picked['restore'])})",
    ]


def run_as_user(db: Path, statements: Sequence[str]) -> None:
    with sqlite3.connect(db) as con:
        for sql in statements:
            con.execute(sql)


def count_pending_changes(db: Path) -> int:
    with sqlite3.connect(db) as con:
        return int(con.execute("SELECT count(*) FROM pending_change").fetchone()[0])


def read_local(db: Path, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """{id: (read_status, availability)} as the local database has them."""
    with sqlite3.connect(db) as con:
        return {
            mid: con.execute(
                "SELECT read_status, availability FROM message WHERE id = ?", (mid,)
            ).fetchone()
            for mid in ids
        }
