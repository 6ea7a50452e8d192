"""rcsync's vocabulary: the values RingCentral and the database share, and the batch limits.

Every layer may import this module (it imports nothing of rcsync). The enums are `StrEnum`s,
so a member *is* its string: it compares equal to the text in a RingCentral record or a
``message`` row, binds as a SQL parameter and serialises to JSON unchanged. Code names the
member (``Availability.PURGED``), never the bare string.

Times are ISO-8601 UTC text with milliseconds and ``Z`` everywhere (RingCentral's format,
and the database's: it sorts correctly as text); `iso_utc` is the one place that writes it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

#: A RingCentral message record, raw JSON as received.
Record = dict[str, Any]


class Availability(StrEnum):
    """``availability`` of a message (RingCentral's ``MessageAvailabilityEnum``)."""

    ALIVE = "Alive"
    DELETED = "Deleted"  # in the remote trash
    PURGED = "Purged"  # gone for good; nothing leaves this state


class ReadStatus(StrEnum):
    """``readStatus`` of a message (``MessageReadStatusEnum``)."""

    READ = "Read"
    UNREAD = "Unread"


class MessageType(StrEnum):
    """The message types rcsync mirrors (``[sync] message_types``)."""

    SMS = "SMS"
    FAX = "Fax"
    VOICEMAIL = "VoiceMail"
    PAGER = "Pager"


class ConflictPolicy(StrEnum):
    """``[sync] conflict_policy``: who wins when a field changed on both sides."""

    NEWEST = "newest"  # the later change (local edit time vs lastModifiedTime)
    REMOTE = "remote"
    LOCAL = "local"


class ExtensionScope(StrEnum):
    """``[account] extensions`` as a word (the other form is a list of extension numbers)."""

    SELF = "self"  # the logged-in extension only (a single-extension archive)
    ALL = "all"  # every user extension the login may read, new ones included


class UseExport(StrEnum):
    """``[account] use_export``: fetch missing attachments from a message-store export."""

    AUTO = "auto"  # when the login may export and many attachments are missing
    NEVER = "never"
    ALWAYS = "always"  # whenever attachments the export carries are missing


class RowDelete(StrEnum):
    """``[sync] row_delete``: what ``DELETE FROM message`` means on RingCentral."""

    TRASH = "trash"
    PURGE = "purge"


# Messages per request. PUT readStatus may use the `*` form (ids in the body, up to 1000);
# DELETE and PATCH put ids in the path (at most 50, API-NOTES §2.3-2.5); bulk GET likewise.
PATH_BATCH = 50
READ_BATCH = 1000


def iso_utc(value: dt.datetime | None = None) -> str:
    """`value` (default: now) as ISO-8601 UTC with milliseconds and ``Z``.

    A naive datetime is taken as UTC already (RingCentral never sends local times).
    """
    if value is None:
        value = dt.datetime.now(dt.UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class ItemResult:
    """The outcome for one message id of a (bulk) call.

    `status` is the per-part HTTP status (0 if the server said nothing about this id);
    `record` the message JSON when the part carried one. `gone` is True only when the
    answer names this message as not found: a 207 part for this id with 404, or a read of
    this one message answered 404 ``CMN-102``. A 404 for a whole request (path or endpoint
    unknown, a server that does not route the call) says nothing about the message.
    """

    message_id: int
    ok: bool
    status: int
    record: Record | None = None
    error_code: str | None = None
    error: str | None = None
    gone: bool = False


class SearchOrder(StrEnum):
    """The order of the results (``search --order``)."""

    # Newest first: the FTS5 index walks its matches by rowid (the message id) from the
    # highest down and stops at --limit, so a common word costs what a rare one does; the
    # page is then shown by creation time. That is the newest by creation where ids follow
    # creation, as RingCentral's do in practice (the API does not promise it).
    NEWEST = "newest"
    # Best first (FTS5's bm25 rank, then newest): every match is ranked before the first is
    # shown, so it grows with the matches.
    RELEVANCE = "relevance"
