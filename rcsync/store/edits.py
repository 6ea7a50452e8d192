"""Local edits made with the CLI: the same SQL a user would type in any SQLite client.

`rcsync mark/delete/restore` only change the local values (read_status, availability); the
schema's triggers turn that into pending edits exactly as for any other client, and the next
push sends them. `revert` drops pending edits before they are pushed (local goes back to base;
a deleted row comes back from its tombstone). Nothing here talks to the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rcsync.errors import SelectionError
from rcsync.store.pending import pending_message_ids, pending_row_deletes
from rcsync.store.schema import ATTACHMENT_COLUMNS, MESSAGE_COLUMNS

_MAX_LISTED = 5


@dataclass(frozen=True)
class Selection:
    """Which messages a command applies to: ids and/or filters (combined with AND)."""

    ids: tuple[int, ...] = ()
    conversation: str | None = None
    before: str | None = None  # ISO date or date-time: creation_time earlier than it
    type: str | None = None
    from_number: str | None = None

    @property
    def has_filter(self) -> bool:
        return any(
            v is not None for v in (self.conversation, self.before, self.type, self.from_number)
        )

    def where(self) -> tuple[str, dict[str, Any]]:
        clauses, params = [], {}
        for col, key, op in (
            ("conversation_id", "conversation", "="),
            ("creation_time", "before", "<"),
            ("type", "type", "="),
            ("from_phone_number", "from_number", "="),
        ):
            value = getattr(self, key)
            if value is not None:
                clauses.append(f"{col} {op} :{key}")
                params[key] = value
        if self.ids:
            clauses.append("id IN (SELECT value FROM json_each(:ids))")
            params["ids"] = _json_ids(self.ids)
        return " AND ".join(clauses) or "1", params


@dataclass(frozen=True)
class EditCount:
    changed: int
    unchanged: int


@dataclass(frozen=True)
class PendingRow:
    message_id: int
    field: str
    old_value: str | None
    new_value: str | None
    since: str | None
    attempts: int
    last_error: str | None


def _json_ids(ids: Sequence[int]) -> str:
    return "[" + ",".join(str(int(i)) for i in ids) + "]"


def _listed(ids: Sequence[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:_MAX_LISTED])
    return shown + (f" and {len(ids) - _MAX_LISTED:,} more" if len(ids) > _MAX_LISTED else "")


def select(conn: Connection, selection: Selection) -> list[int]:
    """The ids of the selected messages. Refuses an empty selection and unknown ids."""
    if not selection.ids and not selection.has_filter:
        raise SelectionError(
            "no messages selected: give message ids or a filter "
            "(--conversation, --before, --type, --from)"
        )
    found = _existing(conn, selection.ids)
    missing = [i for i in selection.ids if i not in found]
    if missing:
        raise SelectionError(f"no message with id {_listed(missing)} in the database")
    where, params = selection.where()
    ids = [
        int(r[0])
        for r in conn.execute(sa.text(f"SELECT id FROM message WHERE {where} ORDER BY id"), params)
    ]
    if not ids:
        raise SelectionError("no message matches the selection; nothing changed")
    return ids


def _existing(conn: Connection, ids: Sequence[int]) -> set[int]:
    if not ids:
        return set()
    return {
        int(r[0])
        for r in conn.execute(
            sa.text("SELECT id FROM message WHERE id IN (SELECT value FROM json_each(:ids))"),
            {"ids": _json_ids(ids)},
        )
    }


def _update(
    conn: Connection,
    ids: Sequence[int],
    assignment: str,
    condition: str,
    params: dict[str, Any] | None = None,
) -> EditCount:
    result = conn.execute(
        sa.text(
            f"UPDATE message SET {assignment} WHERE id IN (SELECT value FROM json_each(:ids))"
            f" AND ({condition})"
        ),
        {"ids": _json_ids(ids), **(params or {})},
    )
    return EditCount(result.rowcount, len(ids) - result.rowcount)


def mark(conn: Connection, ids: Sequence[int], status: str) -> EditCount:
    """Set read_status ('Read' or 'Unread'); purged messages cannot change any more."""
    return _update(
        conn,
        ids,
        "read_status = :v",
        "read_status IS NOT :v AND availability IS NOT 'Purged'",
        {"v": status},
    )


def delete(conn: Connection, ids: Sequence[int], *, purge: bool) -> EditCount:
    """Move to the trash (availability Deleted) or purge (Purged)."""
    if purge:
        return _update(conn, ids, "availability = 'Purged'", "availability IS NOT 'Purged'")
    return _update(conn, ids, "availability = 'Deleted'", "availability = 'Alive'")


def restore(conn: Connection, ids: Sequence[int]) -> EditCount:
    """Back to Alive from the trash (or from a purge not yet pushed)."""
    return _update(
        conn,
        ids,
        "availability = 'Alive'",
        "availability IN ('Deleted', 'Purged') AND base_availability IS NOT 'Purged'",
    )


def pending(conn: Connection) -> list[PendingRow]:
    return [
        PendingRow(int(r[0]), r[1], r[2], r[3], r[4], int(r[5] or 0), r[6])
        for r in conn.execute(
            sa.text(
                "SELECT message_id, field, old_value, new_value, since, attempts, last_error"
                " FROM pending_change ORDER BY since, message_id, field"
            )
        )
    ]


def revert(conn: Connection, ids: Sequence[int] | None = None) -> int:
    """Drop pending edits (all when `ids` is None) before they are pushed; returns how many
    messages were reverted. An id without a pending edit is an error, nothing is changed."""
    edited = _among(pending_message_ids(conn), ids)
    deleted = _among(pending_row_deletes(conn), ids)
    if ids is not None:
        missing = [i for i in ids if i not in edited and i not in deleted]
        if missing:
            raise SelectionError(f"no pending edit for message {_listed(missing)}")
    if edited:
        _update(
            conn,
            sorted(edited),
            "read_status = base_read_status, availability = base_availability",
            "1",
        )
    if deleted:
        _undelete(conn, sorted(deleted))
    return len(edited) + len(deleted)


def _among(found: set[int], ids: Sequence[int] | None) -> set[int]:
    return found if ids is None else found & set(ids)


def _undelete(conn: Connection, ids: Sequence[int]) -> None:
    """Re-insert deleted rows from their tombstones, local = base, and drop the tombstones."""
    cols = ", ".join(MESSAGE_COLUMNS)
    values = ", ".join(
        f"json_extract(row_json, '$.base_{c}')"
        if c in ("read_status", "availability")
        else f"json_extract(row_json, '$.{c}')"
        for c in MESSAGE_COLUMNS
    )
    params = {"ids": _json_ids(ids)}
    conn.execute(
        sa.text(
            f"INSERT INTO message ({cols}) SELECT {values} FROM tombstone"
            " WHERE message_id IN (SELECT value FROM json_each(:ids)) AND pushed_at IS NULL"
        ),
        params,
    )
    att_cols = ", ".join(ATTACHMENT_COLUMNS)
    att_values = ", ".join(f"json_extract(a.value, '$.{c}')" for c in ATTACHMENT_COLUMNS)
    conn.execute(
        sa.text(
            f"INSERT INTO attachment ({att_cols}) SELECT {att_values}"
            " FROM tombstone t, json_each(coalesce(t.attachments_json, '[]')) a"
            " WHERE t.message_id IN (SELECT value FROM json_each(:ids)) AND t.pushed_at IS NULL"
            " ON CONFLICT DO NOTHING"
        ),
        params,
    )
    conn.execute(
        sa.text(
            "DELETE FROM tombstone WHERE message_id IN (SELECT value FROM json_each(:ids))"
            " AND pushed_at IS NULL"
        ),
        params,
    )
