"""Typed values returned by the client. Records stay raw JSON dicts, exactly as received.

Python's ``json`` parses integers exactly, so 64-bit ids and ``conversationId`` keep every digit
(RingCentral's own JS samples lose precision; see API-NOTES §2.2). ``conversation.id`` is a
string in the API and stays one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rcsync.types import ItemResult, Record

# ItemResult and Record live in rcsync.types (the error a lost answer raises carries
# ItemResults, and errors.py sits below api/); they stay importable from here.
__all__ = ["ItemResult", "MessagePage", "Record", "SyncResult"]


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
