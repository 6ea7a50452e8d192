"""Typed values returned by the client. Records stay raw JSON dicts, exactly as received.

Python's ``json`` parses integers exactly, so 64-bit ids and ``conversationId`` keep every digit
(RingCentral's own JS samples lose precision; see API-NOTES §2.2). ``conversation.id`` is a
string in the API and stays one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Record = dict[str, Any]


@dataclass(frozen=True)
class MessagePage:
    """One page of ``listMessages``."""

    records: list[Record]
    has_next: bool
    paging: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SyncResult:
    """One ``syncMessages`` answer (FSync or ISync; message-sync has no paging)."""

    records: list[Record]
    sync_token: str
    sync_time: str | None
    older_records_exist: bool
    sync_type: str = ""


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
