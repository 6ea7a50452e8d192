"""Message sync (``GET …/message-sync``): FSync, ISync and the opaque sync token.

The token carries the *sync frame* (creation-date range and filters), the server time of
the sync, and the server's sync *generation*; it is base64url JSON plus an HMAC so a garbled
or foreign token is detected (→ 400 ``MSG-333``, "full synchronization is required", or
``CMN-101`` "Parameter [syncToken] is invalid" with ``invalid_sync_token_code``).
`invalidate` bumps the generation, which turns every earlier token into that error.

- FSync: Alive records in the frame, newest first, at most ``recordCount`` of them
  (``olderRecordsExist`` says when that cut anything). Like the list endpoint, FSync
  returns Alive messages only (the docs do not say; this is the list default).
- ISync: every message in the frame *changed* since the token's syncTime minus 5 s (the
  overlap RingCentral documents, so duplicates are normal), whatever its age: the change
  log is bisected, the store is never scanned. Deleted and Purged messages come back as
  ``{"id", "availability"}`` only. Not paged; ``recordCount`` is ignored. A ``dateFrom`` given
  with ISync widens the frame, as the docs allow. "Changed" means a server-side change
  (write, remote edit, arrival, injection) after the sync, whatever ``lastModifiedTime`` the
  record carries.

Two readings of the docs, chosen by configuration (`SyncService.configure`):

- ``sync_frame``: ``dates`` (default) = the frame is ``dateFrom``..now whatever the FSync's
  ``recordCount``; ``records`` = the stricter reading of "recordCount sets the size of the
  sync frame": when ``recordCount`` cut the FSync short, the frame is the records it returned
  plus anything that sorts after them (newer), so later ISyncs never report changes to the
  older messages. The token keeps that floor as (creationTime, id) of the oldest record sent;
  an ISync ``dateFrom`` widens the dates but not that floor (only a new FSync does).
- ``isync_max_records``: an ISync with more changes than this answers the oldest changes
  first (in change order) with ``olderRecordsExist: true`` and a *continuation* token that
  holds an exact position in the change log, so repeating ISync with it yields the rest
  without gaps and without the 5 s overlap bringing the same page back forever.

In an account of several extensions each extension has its own `SyncService` over its own
store, and all share one `SyncSettings` (the readings above, the generation, the signing
key): invalidating or reconfiguring is account-wide. A token names its extension, so one
extension's token presented on another extension's path is invalid like a garbled one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, TypeVar

from .data import DELETED, GONE, PURGED
from .store import Query, Store
from .times import format_ms
from .wire import Response, api_error

OVERLAP_MS = 5_000
_E = TypeVar("_E", bound=StrEnum)


class SyncTokenError(ValueError):
    """The token is garbled, forged or from an older generation."""


class TokenErrorCode(StrEnum):
    """The error an invalid sync token gets: both are 400 and both occur in RingCentral's
    clients (the docs' MSG-333; MessageStore clients also expect CMN-101)."""

    MSG_333 = "MSG-333"
    CMN_101 = "CMN-101"


class FrameReading(StrEnum):
    """What bounds the sync frame a token covers (see the module docstring)."""

    DATES = "dates"
    RECORDS = "records"


Key = tuple[int, int]  # (creationTime ms, id): the listing order of messages


@dataclass(frozen=True)
class Cursor:
    """What a sync token says: the frame, when it was taken, and the two optional bounds."""

    frame: Query
    sync_time: int
    floor: Key | None = None  # records frame: only messages sorting at or after this
    position: int | None = None  # continuation: exact change-log index to resume from


@dataclass(frozen=True)
class SyncResult:
    records: list[bytes]
    sync_type: str
    token: str
    sync_time: int
    older_records_exist: bool

    def body(self) -> bytes:
        info = {
            "syncType": self.sync_type,
            "syncToken": self.token,
            "syncTime": format_ms(self.sync_time),
            "olderRecordsExist": self.older_records_exist,
        }
        return (
            b'{"records":['
            + b",".join(self.records)
            + b'],"syncInfo":'
            + json.dumps(info).encode()
            + b"}"
        )


@dataclass
class SyncSettings:
    """What every extension's sync shares (see the module docstring)."""

    generation: int = 0
    secret: bytes = b""
    token_error_code: TokenErrorCode = TokenErrorCode.MSG_333
    frame_reading: FrameReading = FrameReading.DATES
    isync_max_records: int | None = None

    def __post_init__(self) -> None:
        self.secret = self.secret or os.urandom(16)


class SyncService:
    def __init__(self, store: Store, settings: SyncSettings | None = None) -> None:
        self.store = store
        self.settings = settings or SyncSettings()

    @property
    def generation(self) -> int:
        return self.settings.generation

    @property
    def token_error_code(self) -> TokenErrorCode:
        return self.settings.token_error_code

    @property
    def frame_reading(self) -> FrameReading:
        return self.settings.frame_reading

    @property
    def isync_max_records(self) -> int | None:
        return self.settings.isync_max_records

    def invalidate(self) -> None:
        self.settings.generation += 1

    def configure(self, **options: Any) -> None:
        """``invalid_sync_token_code``, ``sync_frame``, ``isync_max_records`` (None = no cap).

        All are checked before any applies: a bad value changes nothing."""
        code, reading, cap = self.token_error_code, self.frame_reading, self.isync_max_records
        for name, value in options.items():
            match name:
                case "invalid_sync_token_code":
                    code = choice(TokenErrorCode, name, value)
                case "sync_frame":
                    reading = choice(FrameReading, name, value)
                case "isync_max_records":
                    if value is not None and (
                        not isinstance(value, int) or isinstance(value, bool) or value < 1
                    ):
                        raise ValueError(f'"{name}" must be null or an integer ≥ 1, not {value!r}')
                    cap = value
                case _:
                    raise ValueError(f"unknown config key {name!r}")
        settings = self.settings
        settings.token_error_code, settings.frame_reading = code, reading
        settings.isync_max_records = cap

    def config(self) -> dict[str, Any]:
        return {
            "invalid_sync_token_code": self.token_error_code.value,
            "sync_frame": self.frame_reading.value,
            "isync_max_records": self.isync_max_records,
        }

    def token_error(self) -> Response:
        """The answer to an ISync whose token is missing, garbled or invalidated."""
        if self.token_error_code is TokenErrorCode.CMN_101:
            return api_error(400, "CMN-101", "Parameter [syncToken] is invalid", "syncToken")
        return api_error(
            400,
            "MSG-333",
            "Invalid message synchronisation request: full synchronization is required",
        )

    # -- tokens -----------------------------------------------------------------------------

    def encode(self, cursor: Cursor) -> str:
        frame = cursor.frame
        payload = {
            "g": self.generation,
            "t": cursor.sync_time,
            "f": frame.date_from,
            "u": frame.date_to,
            "k": sorted(frame.kinds) if frame.kinds is not None else None,
            "d": sorted(frame.directions) if frame.directions is not None else None,
            "c": frame.conversation,
            "r": list(cursor.floor) if cursor.floor is not None else None,
            "p": cursor.position,
            "x": self.store.extension_id,
        }
        raw = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode())
        body = raw.rstrip(b"=").decode()
        return f"{body}.{self._sign(body)}"

    def _sign(self, body: str) -> str:
        return hmac.new(self.settings.secret, body.encode(), hashlib.sha256).hexdigest()[:16]

    def decode(self, token: str) -> Cursor:
        body, _, sig = token.partition(".")
        if not hmac.compare_digest(sig.encode(), self._sign(body).encode()):  # str: ASCII only
            raise SyncTokenError("bad signature")
        try:
            data: dict[str, Any] = json.loads(
                base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            )
        except ValueError as exc:
            raise SyncTokenError("unreadable") from exc
        if data.get("g") != self.generation:
            raise SyncTokenError("invalidated")
        if data.get("x") != self.store.extension_id:
            raise SyncTokenError("another extension's token")
        frame = Query(
            date_from=int(data["f"]),
            date_to=None if data["u"] is None else int(data["u"]),
            kinds=None if data["k"] is None else frozenset(data["k"]),
            directions=None if data["d"] is None else frozenset(data["d"]),
            avails=None,
            conversation=data["c"],
        )
        floor = data.get("r")
        return Cursor(
            frame,
            int(data["t"]),
            None if floor is None else (int(floor[0]), int(floor[1])),
            data.get("p"),
        )

    # -- operations -------------------------------------------------------------------------

    def full(
        self,
        frame: Query,
        record_count: int | None,
        keep: Callable[[Sequence[int]], Sequence[int]] | None = None,
    ) -> SyncResult:
        """`keep` narrows the frame's slots before the cut (distinctConversations)."""
        store = self.store
        with store.lock:
            now = store.now_ms()
            slots: Sequence[int] = store.select(replace(frame, avails=frozenset({0})))
            if keep is not None:
                slots = keep(slots)
            take = len(slots) if record_count is None else max(0, min(record_count, len(slots)))
            picked = slots[len(slots) - take :]
            cut = take < len(slots)
            floor = None
            if cut and self.frame_reading is FrameReading.RECORDS:
                # The oldest record sent; with none sent, just past the newest one.
                floor = self._key(picked[0]) if take else _after(self._key(slots[-1]))
            cursor = Cursor(replace(frame, avails=None), now, floor)
            records = [store.record_bytes(s) for s in reversed(picked)]
            return SyncResult(records, "FSync", self.encode(cursor), now, cut)

    def incremental(self, token: str, widen_from: int | None) -> SyncResult:
        store = self.store
        with store.lock:
            cursor = self.decode(token)
            frame = cursor.frame
            if widen_from is not None and widen_from < frame.date_from:
                frame = replace(frame, date_from=widen_from)
            now = store.now_ms()
            changed = self._changes(cursor, frame)
            cap = self.isync_max_records
            position = None
            if cap is not None and len(changed) > cap:
                changed = changed[:cap]
                position = changed[-1][1] + 1  # every change not sent is at or after it
            slots = sorted((s for s, _ in changed), key=self._key, reverse=True)
            records = [self._isync_record(s) for s in slots]
            token = self.encode(Cursor(frame, now, cursor.floor, position))
            return SyncResult(records, "ISync", token, now, position is not None)

    def _changes(self, cursor: Cursor, frame: Query) -> list[tuple[int, int]]:
        """(slot, change-log index) of every change the token has not yet reported, in
        change order: since its sync time minus the overlap, or exactly from a continuation."""
        store = self.store
        start = (
            store.log_index_at(cursor.sync_time - OVERLAP_MS)
            if cursor.position is None
            else cursor.position
        )
        return [
            (slot, index)
            for slot, index in store.changes_from(start)
            if store.cols.avail[slot] != GONE
            and store.matches(slot, frame)
            and (cursor.floor is None or self._key(slot) >= cursor.floor)
        ]

    def _key(self, slot: int) -> Key:
        return (self.store.cols.ctime[slot], self.store.cols.ids[slot])

    def _isync_record(self, slot: int) -> bytes:
        store = self.store
        avail = store.cols.avail[slot]
        if avail in (DELETED, PURGED):
            name = "Deleted" if avail == DELETED else "Purged"
            return b'{"id":%d,"availability":"%s"}' % (store.cols.ids[slot], name.encode())
        return store.record_bytes(slot)


def _after(key: Key) -> Key:
    return (key[0], key[1] + 1)


def choice(kind: type[_E], name: str, value: Any) -> _E:
    """A config value as its enum member, or a ValueError listing the choices."""
    try:
        return kind(value)
    except ValueError:
        choices = " or ".join(repr(member.value) for member in kind)
        raise ValueError(f'"{name}" must be {choices}, not {value!r}') from None
