"""The exports' reads (`rcsync.export`): the messages and conversations a `Filters` selects.

All reads run inside one read transaction (`snapshot`): in WAL mode it sees one consistent
state of the archive even while a pull writes, so a count taken first (the ``count=`` of an
SMS backup, the progress total) matches the rows streamed after it. Rows are streamed
(``yield_per``), never loaded whole: memory stays flat in the number of messages.

A *conversation* is RingCentral's ``conversation_id`` (SMS/MMS threads); messages without
one (voicemail, fax, pager) are grouped by the other party's number (``with:+1…``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

BATCH = 500


@dataclass(frozen=True)
class Filters:
    """All optional; empty means everything. Bounds are ISO-8601 UTC text like the database's."""

    types: tuple[str, ...] = ()
    since: str | None = None  # creation_time >= since
    before: str | None = None  # creation_time < before
    conversation: str | None = None
    extension: str | None = None


# The other party: recipients of what we sent, the sender of what we received.
_PARTY = "CASE WHEN m.direction = 'Outbound' THEN m.to_phone_numbers ELSE m.from_phone_number END"
CONVERSATION_KEY = (
    f"COALESCE(NULLIF(m.conversation_id, ''), 'with:' || COALESCE({_PARTY}, 'unknown'))"
)
_ATTACHMENTS = (
    "(SELECT json_group_array(json_object('id', a.id, 'type', a.type,"
    " 'content_type', a.content_type, 'size', a.size, 'file_name', a.file_name,"
    " 'path', a.path, 'sha256', a.sha256, 'skipped', a.skipped))"
    " FROM attachment a WHERE a.message_id = m.id)"
)


class Order(StrEnum):
    TIME = "m.creation_time, m.id"  # oldest first
    CONVERSATION = "conversation_key, m.creation_time, m.id"  # thread by thread


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """One read transaction for the whole export."""
    with engine.connect() as conn, conn.begin():
        yield conn


def _where(filters: Filters, conn: Connection) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if filters.types:
        names = [f"t{i}" for i in range(len(filters.types))]
        clauses.append(f"m.type IN ({', '.join(':' + n for n in names)})")
        params.update(zip(names, filters.types, strict=True))
    if filters.since:
        clauses.append("m.creation_time >= :since")
        params["since"] = filters.since
    if filters.before:
        clauses.append("m.creation_time < :before")
        params["before"] = filters.before
    if filters.conversation:
        clauses.append(f"{CONVERSATION_KEY} = :conversation")
        params["conversation"] = filters.conversation
    if filters.extension and has_column(conn, "message", "extension_id"):
        # INTERFACE.md names an extension id here, while every other command's --extension
        # takes the number users know (#12): an id wins, else a number is mapped to its id.
        clauses.append(
            "m.extension_id = COALESCE((SELECT id FROM extension WHERE id = :extension),"
            " (SELECT id FROM extension WHERE number = :extension), :extension)"
        )
        params["extension"] = filters.extension
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def has_column(conn: Connection, table: str, column: str) -> bool:
    rows = conn.execute(sa.text("SELECT name FROM pragma_table_info(:t)"), {"t": table})
    return column in {r[0] for r in rows}


def count_messages(conn: Connection, filters: Filters) -> int:
    where, params = _where(filters, conn)
    sql = f"SELECT count(*) FROM message m{where}"
    return int(conn.execute(sa.text(sql), params).scalar_one())


def iter_messages(
    conn: Connection, filters: Filters, *, order: Order = Order.TIME
) -> Iterator[dict[str, Any]]:
    """Every selected message as a dict of its columns, plus ``conversation_key``,
    ``conversation_size`` (with `Order.CONVERSATION`) and ``attachments`` (dicts)."""
    where, params = _where(filters, conn)
    # The window costs a sort of the selection; only threads (html) need their size.
    size = (
        f"count(*) OVER (PARTITION BY {CONVERSATION_KEY})"
        if order is Order.CONVERSATION
        else "NULL"
    )
    sql = (
        f"SELECT m.*, {CONVERSATION_KEY} AS conversation_key, {size} AS conversation_size,"
        f" {_ATTACHMENTS} AS attachments_json"
        f" FROM message m{where} ORDER BY {order.value}"
    )
    result = conn.execution_options(yield_per=BATCH).execute(sa.text(sql), params)
    for row in result.mappings():
        record = dict(row)
        record["attachments"] = json.loads(record.pop("attachments_json") or "[]")
        yield record


def iter_conversations(conn: Connection, filters: Filters) -> Iterator[dict[str, Any]]:
    """One dict per conversation, newest activity first: key, counts, party, latest text."""
    where, params = _where(filters, conn)
    # SQLite's bare-column rule: with one max(), the other columns come from that newest row.
    sql = (
        f"SELECT {CONVERSATION_KEY} AS key, count(*) AS messages,"
        " sum(m.read_status = 'Unread') AS unread,"
        " max(m.creation_time) AS last_time,"
        " group_concat(DISTINCT m.type) AS types,"
        f" {_PARTY} AS party_number,"
        " CASE WHEN m.direction = 'Outbound' THEN m.to_names ELSE m.from_name END AS party_name,"
        " COALESCE(m.text, m.transcription, m.subject) AS last_text, m.type AS last_type,"
        " m.direction AS last_direction"
        f" FROM message m{where} GROUP BY key ORDER BY last_time DESC, key"
    )
    result = conn.execution_options(yield_per=BATCH).execute(sa.text(sql), params)
    for row in result.mappings():
        yield dict(row)
