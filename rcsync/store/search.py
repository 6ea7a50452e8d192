"""Full-text search over the archive (subjects, SMS text, voicemail transcriptions, and the
names and numbers of senders and recipients).

Uses the FTS5 index ``message_fts`` (external content over ``message``, kept current by the
triggers in `rcsync.store.schema`; migration 0005 added the name and number columns). The user's
query is always a bound parameter, never spliced into SQL. FTS5 has its own query language
(``"phrase"``, ``AND``/``OR``/``NOT``, ``pre*``); a query it cannot parse (an unbalanced
quote, a stray ``:`` as in ``16:45``) is retried as its words, each quoted (``café 16:45``
-> ``"café" "16:45"``): every word must occur, in any order, which is what a person typing
words means. Filters (sender, date, conversation, unread) narrow the matches in plain SQL.
Results come newest first, found by walking the index from the highest message id down
and stopping at the limit (`SearchOrder`), so a word in half the archive costs what a rare
one does; best-ranked first is the other order. Read-only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rcsync.errors import SearchError
from rcsync.types import MessageType, SearchOrder

# Markers around matched terms in snippets; the CLI turns them into bold or drops them.
MARK_START = "\x02"
MARK_END = "\x03"

_FROM = (
    " FROM message_fts JOIN message m ON m.id = message_fts.rowid"
    " WHERE message_fts MATCH :q {filters}"
)
_COLUMNS = (
    "SELECT m.id, m.creation_time, m.type, m.direction, m.from_name, m.from_phone_number,"
    " m.to_names, m.to_phone_numbers, m.availability, m.read_status, m.conversation_id,"
    " snippet(message_fts, -1, char(2), char(3), '…', 12)"
)
_SQL = {
    # The newest `limit` by id (FTS5 walks the matches from the highest rowid down and
    # stops there), shown by creation time.
    SearchOrder.NEWEST: (
        "SELECT * FROM (" + _COLUMNS + _FROM + " ORDER BY message_fts.rowid DESC LIMIT :limit)"
        " ORDER BY 2 DESC, 1 DESC"
    ),
    SearchOrder.RELEVANCE: (
        _COLUMNS + _FROM + " ORDER BY rank, m.creation_time DESC, m.id DESC LIMIT :limit"
    ),
}
_COUNT_SQL = "SELECT count(*)" + _FROM
# Without filters the index alone counts (its doclists), with no row read per match.
_COUNT_ALL_SQL = "SELECT count(*) FROM message_fts WHERE message_fts MATCH :q"


@dataclass(frozen=True)
class SearchFilters:
    """What narrows the matches; every filter given must hold (AND)."""

    message_type: str | None = None
    # A name or phone number, matched as a substring of the sender's (case-insensitive).
    sender: str | None = None
    # ISO-8601 UTC; messages created at or after it.
    since: str | None = None
    conversation: str | None = None
    unread: bool = False
    extension: str | None = None  # an extension id (account archives)

    def where(self) -> tuple[str, dict[str, Any]]:
        """SQL conditions (each starting with AND) and their bound parameters."""
        parts: list[str] = []
        params: dict[str, Any] = {}
        if self.message_type:
            parts.append("AND m.type = :type")
            params["type"] = normalize_type(self.message_type)
        if self.sender:
            parts.append(
                "AND (m.from_name LIKE :sender ESCAPE '\\'"
                " OR m.from_phone_number LIKE :sender ESCAPE '\\')"
            )
            params["sender"] = "%" + _escape_like(self.sender) + "%"
        if self.since:
            parts.append("AND m.creation_time >= :since")
            params["since"] = self.since
        if self.conversation:
            parts.append("AND m.conversation_id = :conversation")
            params["conversation"] = self.conversation
        if self.extension:
            parts.append("AND m.extension_id = :extension")
            params["extension"] = self.extension
        if self.unread:
            parts.append("AND m.read_status = 'Unread'")
        return " ".join(parts), params


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
    read_status: str | None
    conversation_id: str | None
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


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    total: int  # all matches, of which `hits` are the first `limit` in the order asked
    fts_query: str  # what was given to FTS5 (the words, when the query did not parse)


def normalize_type(value: str) -> str:
    """``sms`` -> ``SMS``, ``voicemail`` -> ``VoiceMail``; unknown types raise SearchError."""
    for known in MessageType:
        if known.lower() == value.lower():
            return known
    raise SearchError(f"unknown message type {value!r}: expected one of " + ", ".join(MessageType))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def as_phrase(query: str) -> str:
    """The query as one FTS5 string (quotes doubled): matches the words in order."""
    return '"' + query.replace('"', '""') + '"'


def as_words(query: str) -> str:
    """Each whitespace-separated word as its own FTS5 string: all must occur, any order."""
    return " ".join(as_phrase(word) for word in query.split())


def _hit(row: Any) -> Hit:
    marked = str(row[11] or "")
    plain = marked.replace(MARK_START, "").replace(MARK_END, "")
    return Hit(
        id=row[0],
        creation_time=row[1],
        type=row[2],
        direction=row[3],
        from_name=row[4],
        from_phone_number=row[5],
        to_names=row[6],
        to_phone_numbers=row[7],
        availability=row[8],
        read_status=row[9],
        conversation_id=row[10],
        snippet=plain,
        marked=marked,
    )


def _run(
    conn: Connection, fts_query: str, limit: int, filters: SearchFilters, order: SearchOrder
) -> tuple[list[Hit], int]:
    where, params = filters.where()
    params.update(q=fts_query, limit=limit)
    rows = conn.execute(sa.text(_SQL[order].format(filters=where)), params).all()
    count = _COUNT_SQL.format(filters=where) if where else _COUNT_ALL_SQL
    total = conn.execute(sa.text(count), params).scalar_one()
    return [_hit(r) for r in rows], int(total)


def search_with_total(
    conn: Connection,
    query: str,
    *,
    limit: int = 20,
    filters: SearchFilters | None = None,
    order: SearchOrder = SearchOrder.NEWEST,
) -> SearchResult:
    """The first `limit` matches in `order` (newest first by default), and how many match."""
    if not query.strip():
        raise SearchError("empty search query")
    if limit < 1:
        raise SearchError("--limit must be at least 1")
    filters = filters or SearchFilters()
    try:
        return SearchResult(*_run(conn, query, limit, filters, order), fts_query=query)
    except sa.exc.OperationalError:
        words = as_words(query)
        try:
            return SearchResult(*_run(conn, words, limit, filters, order), fts_query=words)
        except sa.exc.OperationalError as exc:
            reason = str(exc.orig).splitlines()[0] if exc.orig else "invalid query"
            raise SearchError(f"cannot search for {query!r}: {reason}") from None


def search(
    conn: Connection,
    query: str,
    *,
    limit: int = 20,
    message_type: str | None = None,
    order: SearchOrder = SearchOrder.NEWEST,
) -> list[Hit]:
    """The first `limit` matches in `order` (newest first by default)."""
    filters = SearchFilters(message_type=message_type)
    return search_with_total(conn, query, limit=limit, filters=filters, order=order).hits
