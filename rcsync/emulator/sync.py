"""Message sync (``GET …/message-sync``): FSync, ISync and the opaque sync token.

The token carries the *sync frame* (creation-date range and filters), the server time of
the sync, and the server's sync *generation*; it is base64url JSON plus an HMAC so a garbled
or foreign token is detected (→ 400 ``MSG-333``, "full synchronization is required").
`invalidate` bumps the generation, which turns every earlier token into MSG-333.

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
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .data import DELETED, GONE, PURGED
from .store import Query, Store
from .times import format_ms

OVERLAP_MS = 5_000


class SyncTokenError(ValueError):
    """The token is garbled, forged or from an older generation."""


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


class SyncService:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.generation = 0
        self._secret = os.urandom(16)

    def invalidate(self) -> None:
        self.generation += 1

    # -- tokens -----------------------------------------------------------------------------

    def encode(self, frame: Query, sync_time: int) -> str:
        payload = {
            "g": self.generation,
            "t": sync_time,
            "f": frame.date_from,
            "u": frame.date_to,
            "k": sorted(frame.kinds) if frame.kinds is not None else None,
            "d": sorted(frame.directions) if frame.directions is not None else None,
            "c": frame.conversation,
        }
        raw = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode())
        body = raw.rstrip(b"=").decode()
        return f"{body}.{self._sign(body)}"

    def _sign(self, body: str) -> str:
        return hmac.new(self._secret, body.encode(), hashlib.sha256).hexdigest()[:16]

    def decode(self, token: str) -> tuple[Query, int]:
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
        frame = Query(
            date_from=int(data["f"]),
            date_to=None if data["u"] is None else int(data["u"]),
            kinds=None if data["k"] is None else frozenset(data["k"]),
            directions=None if data["d"] is None else frozenset(data["d"]),
            avails=None,
            conversation=data["c"],
        )
        return frame, int(data["t"])

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
            take = len(slots) if record_count is None else min(record_count, len(slots))
            picked = [store.record_bytes(s) for s in reversed(slots[len(slots) - take :])]
            return SyncResult(
                picked,
                "FSync",
                self.encode(replace(frame, avails=None), now),
                now,
                take < len(slots),
            )

    def incremental(self, token: str, widen_from: int | None) -> SyncResult:
        store = self.store
        with store.lock:
            frame, synced = self.decode(token)
            if widen_from is not None and widen_from < frame.date_from:
                frame = replace(frame, date_from=widen_from)
            now = store.now_ms()
            changed = [
                s for s in store.changed_since(synced - OVERLAP_MS) if store.matches(s, frame)
            ]
            changed.sort(key=lambda s: (store.cols.ctime[s], store.cols.ids[s]), reverse=True)
            records = [self._isync_record(s) for s in changed if store.cols.avail[s] != GONE]
            return SyncResult(records, "ISync", self.encode(frame, now), now, False)

    def _isync_record(self, slot: int) -> bytes:
        store = self.store
        avail = store.cols.avail[slot]
        if avail in (DELETED, PURGED):
            name = "Deleted" if avail == DELETED else "Purged"
            return b'{"id":%d,"availability":"%s"}' % (store.cols.ids[slot], name.encode())
        return store.record_bytes(slot)
