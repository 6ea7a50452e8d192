"""Full-text search over the archive (subjects, SMS text, voicemail transcriptions, and the
names and numbers of senders and recipients).

Uses the FTS5 index ``message_fts`` (external content over ``message``, kept current by the
triggers in `rcsync.model`; migration 0005 added the name and number columns). The user's
query is always a bound parameter, never spliced into SQL. FTS5 has its own query language
(``"phrase"``, ``AND``/``OR``/``NOT``, ``pre*``); a query it cannot parse (an unbalanced
quote, a stray ``:``) is retried as one quoted phrase, so typing anything never ends in a
traceback. Read-only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rcsync.config import MESSAGE_TYPES
from rcsync.errors import RcsyncError

# Markers around matched terms in snippets; the CLI turns them into bold or drops them.
MARK_START = "\x02"
MARK_END = "\x03"

_SQL = (
    "SELECT m.id, m.creation_time, m.type, m.direction, m.from_name, m.from_phone_number,"
    " m.to_names, m.to_phone_numbers, m.availability,"
    " snippet(message_fts, -1, char(2), char(3), '…', 12)"
    " FROM message_fts JOIN message m ON m.id = message_fts.rowid"
    " WHERE message_fts MATCH :q {type_filter}"
    " ORDER BY rank, m.creation_time DESC LIMIT :limit"
)


class SearchError(RcsyncError):
    """The query cannot be searched for (empty, or not understood even as a phrase)."""


@dataclass(frozen=True)
class Hit:
    id: int
    creation_time: str
    type: str
    direction: str | None
    from_name: str | None
    from_phone_number: str | None
    to_names: str | None
    to_phone_numbers: str | None
    availability: str | None
    snippet: str  # plain text around the matches
    marked: str  # the same with MARK_START/MARK_END around each match

    @property
    def who(self) -> str:
        """The other party: sender of an inbound message, recipients of an outbound one."""
        if self.direction == "Outbound":
            return "to " + (self.to_names or self.to_phone_numbers or "?")
        name, number = self.from_name, self.from_phone_number
        if name and number and name != number:
            return f"{name} ({number})"
        return name or number or "?"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["marked"]
        data["who"] = self.who
        return data


def normalize_type(value: str) -> str:
    """``sms`` -> ``SMS``, ``voicemail`` -> ``VoiceMail``; unknown types raise SearchError."""
    for known in MESSAGE_TYPES:
        if known.lower() == value.lower():
            return known
    raise SearchError(
        f"unknown message type {value!r}: expected one of " + ", ".join(MESSAGE_TYPES)
    )


def as_phrase(query: str) -> str:
    """The query as one FTS5 string (quotes doubled): matches the words in order."""
    return '"' + query.replace('"', '""') + '"'


def _hit(row: Any) -> Hit:
    marked = str(row[9] or "")
    plain = marked.replace(MARK_START, "").replace(MARK_END, "")
    return Hit(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], plain, marked
    )


def search(
    conn: Connection, query: str, *, limit: int = 20, message_type: str | None = None
) -> list[Hit]:
    """Best matches first (FTS5 rank, then newest)."""
    if not query.strip():
        raise SearchError("empty search query")
    if limit < 1:
        raise SearchError("--limit must be at least 1")
    params: dict[str, Any] = {"q": query, "limit": limit}
    type_filter = ""
    if message_type:
        params["type"] = normalize_type(message_type)
        type_filter = "AND m.type = :type"
    statement = sa.text(_SQL.format(type_filter=type_filter))
    try:
        rows = conn.execute(statement, params).all()
    except sa.exc.OperationalError:
        # Not valid FTS5 syntax: search for the text literally instead.
        params["q"] = as_phrase(query)
        try:
            rows = conn.execute(statement, params).all()
        except sa.exc.OperationalError as exc:
            reason = str(exc.orig).splitlines()[0] if exc.orig else "invalid query"
            raise SearchError(f"cannot search for {query!r}: {reason}") from None
    return [_hit(r) for r in rows]
