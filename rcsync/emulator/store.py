"""The in-memory message store: columns, lookups, state transitions and the change log.

Layout (why): a million messages must fit in tens of MB and list at >50k records/s, so state
lives in parallel `array` columns indexed by *slot* (see `data.Columns`), not in dicts.

- Lookup by id: generated and arriving messages get ascending ids, so slots ``[0, sorted_n)``
  are found by bisection over the id column; injected records out of that order go to a
  small dict.
- Listing order: ``order`` holds slots sorted by (creationTime, id) with ``order_ct`` the
  matching creation times, so a date range is two bisections; newest-first is read backwards.
  Filter results are cached per (range, filters, store version), so paging a million-record
  result costs one scan, not one per page.
- Change log: every change appends (server ms, slot); message-sync's ISync bisects it instead
  of scanning the store, and a capped ISync resumes from an exact index in it.

Availability transitions follow RingCentral: DELETE moves Alive → Deleted → Purged
(``purge`` jumps to Purged), PATCH ``availability: Alive`` restores only from Deleted, and
Purged messages lose their attachments. Every change sets ``lastModifiedTime`` to the server
clock; a write that changes nothing does not.

All public methods take the store's lock, so HTTP threads can share one store.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from . import media
from .clock import Clock
from .data import (
    ALIVE,
    AVAILABILITY_NAMES,
    CUSTOM_CONTACT,
    DELETED,
    FIRST_ID,
    GONE,
    PAGER,
    PURGED,
    READ_NAMES,
    SMS,
    TYPE_NAMES,
    Columns,
    World,
    arrival,
    generate,
)
from .records import Attachment, Renderer
from .times import format_ms, parse_iso

_CACHE_LIMIT = 100_000
_QUERY_CACHE = 8
_log = logging.getLogger(__name__)


class StoreError(ValueError):
    """A transition RingCentral refuses (e.g. restoring a Purged message)."""


@dataclass(frozen=True)
class Query:
    """A message-store filter. ``None`` means "any"; sets hold column codes."""

    date_from: int
    date_to: int | None
    kinds: frozenset[int] | None = None
    directions: frozenset[int] | None = None
    reads: frozenset[int] | None = None
    avails: frozenset[int] | None = frozenset({ALIVE})
    conversation: int | None = None


class StoreEvent(StrEnum):
    """What a change listener is told happened (see the module docstring)."""

    NEW = "new"
    UPDATED = "updated"
    DELETED = "deleted"
    EXTENSION_ADDED = "extension-added"
    EXTENSION_REMOVED = "extension-removed"


Listener = Callable[[int, str, list[int]], None]


class StoreGroup:
    """What the stores of one account share: the lock, the id space and the listeners."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.stores: list[Store] = []
        self.high_id = FIRST_ID  # the largest message id ever given out in the account
        self._listeners: list[Listener] = []

    def add_listener(self, callback: Listener) -> None:
        with self.lock:
            self._listeners.append(callback)

    def remove_listener(self, callback: Listener) -> None:
        with self.lock:
            self._listeners.remove(callback)

    def emit(self, extension_id: int, event: StoreEvent, message_ids: list[int]) -> None:
        for callback in list(self._listeners):
            try:
                callback(extension_id, event, message_ids)
            except Exception:  # a broken listener must not break the store's writes
                _log.exception("store listener %r failed on %s", callback, event.value)

    def taken(self, message_id: int) -> bool:
        """Whether any store of the account holds this id."""
        return any(store.slot_of(message_id) is not None for store in self.stores)

    def claim(self, message_id: int) -> None:
        self.high_id = max(self.high_id, message_id)


class Store:
    """Every message of one emulated extension."""

    def __init__(
        self,
        world: World,
        clock: Clock,
        renderer: Renderer,
        count: int,
        group: StoreGroup | None = None,
    ) -> None:
        self.world = world
        self.clock = clock
        self.renderer = renderer
        self.group = group or StoreGroup()
        self.extension_id = int(world.profile.extension_id)
        self.lock = self.group.lock
        # Generated ids start above every id the account has, so they are account-unique.
        self.cols: Columns = generate(world, count, self.now_ms() - 60_000, self.group.high_id)
        if self.cols.ids:
            self.group.claim(self.cols.ids[-1])
        self.group.stores.append(self)
        self._pending: dict[StoreEvent, list[int]] = {}
        self._batch_depth = 0
        self._sorted_n = len(self.cols.ids)
        self._extra: dict[int, int] = {}
        self._custom: dict[int, dict[str, Any]] = {}
        self._custom_conv: dict[int, int] = {}
        self.order = array("i", range(len(self.cols.ids)))
        self.order_ct = array("q", self.cols.ctime)
        self.log_ms: array[int] = array("q")
        self.log_slot: array[int] = array("i")
        self.version = 0
        self._rng = random.Random(f"arrivals-{world.seed}{world.stream}")
        self._render_cache: dict[int, tuple[int, int, int, bytes]] = {}
        self._queries: dict[tuple[Any, ...], array[int]] = {}

    def now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    # -- change listeners -------------------------------------------------------------------

    def add_listener(self, callback: Listener) -> None:
        """Call ``callback(extension_id, event, message_ids)`` on every change of every store
        of this account (see the module docstring)."""
        self.group.add_listener(callback)

    def remove_listener(self, callback: Listener) -> None:
        self.group.remove_listener(callback)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Hold the lock and gather change events: listeners hear them once, at the end."""
        with self.lock:
            self._batch_depth += 1
            try:
                yield
            finally:
                self._batch_depth -= 1
                if self._batch_depth == 0:
                    self._flush()

    def _note(self, event: StoreEvent, message_id: int) -> None:
        self._pending.setdefault(event, []).append(message_id)
        if self._batch_depth == 0:
            self._flush()

    def _flush(self) -> None:
        pending, self._pending = self._pending, {}
        for event, message_ids in pending.items():
            self.group.emit(self.extension_id, event, message_ids)

    # -- lookup & rendering -----------------------------------------------------------------

    def slot_of(self, message_id: int) -> int | None:
        """Slot of a live (not physically dropped) message, or None."""
        ids = self.cols.ids
        i = bisect_left(ids, message_id, 0, self._sorted_n)
        slot = i if i < self._sorted_n and ids[i] == message_id else self._extra.get(message_id)
        if slot is None or self.cols.avail[slot] == GONE:
            return None
        return slot

    def record_bytes(self, slot: int) -> bytes:
        cols = self.cols
        modified, read, avail = cols.lmt[slot], cols.read[slot], cols.avail[slot]
        cached = self._render_cache.get(slot)
        if cached is not None and cached[:3] == (modified, read, avail):
            return cached[3]
        if cols.contact[slot] == CUSTOM_CONTACT:
            body = self.renderer.custom(self._custom[slot], modified, read, avail)
        else:
            body = self.renderer.generated(
                cols.ids[slot], cols.ctime[slot], modified, cols.kind[slot],
                cols.direction[slot], read, avail, cols.contact[slot],
            )  # fmt: skip
        if len(self._render_cache) >= _CACHE_LIMIT:
            self._render_cache.clear()
        self._render_cache[slot] = (modified, read, avail, body)
        return body

    def set_base_url(self, base_url: str) -> None:
        with self.lock:
            self.renderer.set_base_url(base_url)
            self._render_cache.clear()

    def get(self, message_id: int) -> dict[str, Any] | None:
        """The record as the API shows it, or None if unknown."""
        with self.lock:
            slot = self.slot_of(message_id)
            return None if slot is None else dict(json.loads(self.record_bytes(slot)))

    def all_records(self) -> list[dict[str, Any]]:
        """Every record, all availabilities, newest first."""
        with self.lock:
            return [json.loads(self.record_bytes(s)) for s in reversed(self.order)]

    def __len__(self) -> int:
        return len(self.order)

    def attachments(self, slot: int) -> list[Attachment]:
        cols = self.cols
        if cols.avail[slot] >= PURGED:
            return []
        if cols.contact[slot] != CUSTOM_CONTACT:
            return self.renderer.generated_attachments(cols.ids[slot], cols.kind[slot])
        return [
            Attachment(int(a["id"]), str(a.get("type", "")), str(a["contentType"]), int(a["size"]))
            for a in self._custom[slot].get("attachments", [])
        ]

    def content(self, slot: int, attachment_id: int) -> tuple[Attachment, bytes] | None:
        """An attachment and its bytes, or None (unknown, or the message is Purged)."""
        with self.lock:
            match = [a for a in self.attachments(slot) if a.id == attachment_id]
            if not match:
                return None
            cols = self.cols
            if cols.contact[slot] != CUSTOM_CONTACT:
                data = self.renderer.generated_content(
                    cols.ids[slot], cols.kind[slot], attachment_id
                )
            else:
                data = _custom_content(self._custom[slot], match[0])
            return None if data is None else (match[0], data)

    # -- queries ----------------------------------------------------------------------------

    def conversation_of(self, slot: int) -> int | None:
        cols = self.cols
        if cols.contact[slot] == CUSTOM_CONTACT:
            return self._custom_conv.get(slot)
        if cols.kind[slot] in (SMS, PAGER):
            return self.world.contacts[cols.contact[slot]].conversation_id
        return None

    def select(self, query: Query) -> array[int]:
        """Slots matching `query`, oldest first (callers read backwards for newest first)."""
        with self.lock:
            lo = bisect_left(self.order_ct, query.date_from)
            hi = len(self.order_ct)
            if query.date_to is not None:
                hi = bisect_left(self.order_ct, query.date_to)
            key = (lo, hi, query.kinds, query.directions, query.reads, query.avails,
                   query.conversation, self.version)  # fmt: skip
            found = self._queries.get(key)
            if found is None:
                found = array("i", self._filter(self.order[lo : max(lo, hi)], query))
                if len(self._queries) >= _QUERY_CACHE:
                    self._queries.pop(next(iter(self._queries)))
                self._queries[key] = found
            return found

    def _filter(self, slots: Iterable[int], query: Query) -> Iterable[int]:
        cols = self.cols
        for column, wanted in (
            (cols.avail, query.avails),
            (cols.kind, query.kinds),
            (cols.direction, query.directions),
            (cols.read, query.reads),
        ):
            if wanted is not None:
                slots = [s for s in slots if column[s] in wanted]
        if query.conversation is not None:
            conv = query.conversation
            slots = [s for s in slots if self.conversation_of(s) == conv]
        return slots

    def matches(self, slot: int, query: Query) -> bool:
        """Whether one slot is inside a frame (used by ISync on changed slots)."""
        created = self.cols.ctime[slot]
        if created < query.date_from or (query.date_to is not None and created >= query.date_to):
            return False
        return bool(list(self._filter([slot], query)))

    def log_index_at(self, since_ms: int) -> int:
        """Index of the first change-log entry at or after `since_ms` (server time)."""
        with self.lock:
            return bisect_left(self.log_ms, since_ms)

    def changes_from(self, start: int) -> list[tuple[int, int]]:
        """(slot, index of its latest change) for every slot changed at log index ≥ `start`,
        each once, ordered by that index: a prefix of this list plus the log from just after
        its last index is every change, which is how a capped ISync resumes without gaps."""
        with self.lock:
            log, latest = self.log_slot, dict[int, int]()
            for index in range(len(log) - 1, start - 1, -1):
                latest.setdefault(log[index], index)
            return list(reversed(latest.items()))

    # -- changes ----------------------------------------------------------------------------

    def _touch(self, slot: int, event: StoreEvent) -> None:
        now = self.now_ms()
        self.cols.lmt[slot] = now
        self.log_ms.append(max(now, self.log_ms[-1]) if self.log_ms else now)
        self.log_slot.append(slot)
        self.version += 1
        self._note(event, self.cols.ids[slot])

    def set_read(self, slot: int, read_status: str) -> bool:
        """Set readStatus ('Read'/'Unread'); True if it changed."""
        value = READ_NAMES.index(read_status)
        with self.lock:
            if self.cols.read[slot] == value:
                return False
            self.cols.read[slot] = value
            self._touch(slot, StoreEvent.UPDATED)
            return True

    def delete_step(self, slot: int, *, purge: bool = False) -> None:
        """One DELETE: Alive → Deleted, Deleted → Purged; ``purge`` → Purged; Purged stays."""
        with self.lock:
            current = self.cols.avail[slot]
            target = PURGED if purge or current != ALIVE else DELETED
            if current != target:
                self.cols.avail[slot] = target
                self._touch(slot, StoreEvent.DELETED)

    def set_availability(self, slot: int, availability: str, *, remote: bool = False) -> bool:
        """PATCH semantics (only Alive from Deleted) or, with `remote`, any change but un-purge."""
        target = AVAILABILITY_NAMES.index(availability)
        with self.lock:
            current = self.cols.avail[slot]
            if current == target:
                return False
            if current == PURGED:
                raise StoreError("a Purged message cannot be restored")
            if not remote and target != ALIVE:
                raise StoreError("only restoring (availability Alive) is supported")
            self.cols.avail[slot] = target
            self._touch(slot, StoreEvent.UPDATED if target == ALIVE else StoreEvent.DELETED)
            return True

    def remote_edit(
        self, message_id: int, *, read_status: str | None = None, availability: str | None = None
    ) -> dict[str, Any]:
        """A change made elsewhere (another device): bumps lastModifiedTime like any change."""
        with self.batch():
            slot = self.slot_of(message_id)
            if slot is None:
                raise KeyError(message_id)
            if read_status is not None:
                self.set_read(slot, read_status)
            if availability is not None:
                self.set_availability(slot, availability, remote=True)
            return dict(json.loads(self.record_bytes(slot)))

    def _add_slot(self, message_id: int, created: int, modified: int, kind: int,
                  direction: int, read: int, avail: int, contact: int) -> int:  # fmt: skip
        cols = self.cols
        slot = len(cols.ids)
        if self.group.taken(message_id):
            raise StoreError(f"message {message_id} already exists")
        self.group.claim(message_id)
        for column, value in zip(
            (cols.ids, cols.ctime, cols.lmt, cols.kind, cols.direction, cols.read, cols.avail,
             cols.contact),
            (message_id, created, modified, kind, direction, read, avail, contact),
            strict=True,
        ):  # fmt: skip
            column.append(value)
        if self._sorted_n == slot and (slot == 0 or cols.ids[slot - 1] < message_id):
            self._sorted_n += 1
        else:
            self._extra[message_id] = slot
        pos = bisect_right(self.order_ct, created)
        while (
            pos > 0
            and self.order_ct[pos - 1] == created
            and cols.ids[self.order[pos - 1]] > message_id
        ):
            pos -= 1
        self.order.insert(pos, slot)
        self.order_ct.insert(pos, created)
        self._touch(slot, StoreEvent.NEW)
        cols.lmt[slot] = modified
        return slot

    def next_id(self) -> int:
        """Above every id of the account, with a gap as between RingCentral's ids."""
        return self.group.high_id + 1 + self._rng.randrange(4000)

    def arrive(self, count: int) -> list[dict[str, Any]]:
        """`count` new inbound messages, created now, Unread."""
        with self.batch():
            out = []
            for _ in range(count):
                kind, direction, contact = arrival(self.world, self._rng)
                now = self.now_ms()
                slot = self._add_slot(self.next_id(), now, now, kind, direction, 0, ALIVE, contact)
                out.append(dict(json.loads(self.record_bytes(slot))))
            return out

    def inject(self, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Records as given (ids, times, fields kept); attachments get matching content."""
        with self.batch():
            return [self._inject_one(r) for r in records]

    def _inject_one(self, record: dict[str, Any]) -> dict[str, Any]:
        now = self.now_ms()
        static = {k: v for k, v in record.items() if k not in ("uri", "vmSideRecipients")}
        message_id = int(static.get("id") or self.next_id())
        static["id"] = message_id
        kind = TYPE_NAMES.index(static.setdefault("type", "SMS"))
        created = parse_iso(static["creationTime"]) if "creationTime" in static else now
        static["creationTime"] = format_ms(created)
        modified = parse_iso(static["lastModifiedTime"]) if "lastModifiedTime" in static else now
        direction = ("Inbound", "Outbound").index(static.setdefault("direction", "Inbound"))
        read = READ_NAMES.index(static.get("readStatus", "Unread"))
        avail = AVAILABILITY_NAMES.index(static.get("availability", "Alive"))
        static.setdefault("extensionId", self.world.profile.extension_id)
        static["attachments"] = [
            _complete_attachment(a, message_id, i, static)
            for i, a in enumerate(static.get("attachments", []))
        ]
        slot = self._add_slot(
            message_id, created, modified, kind, direction, read, avail, CUSTOM_CONTACT
        )
        self._custom[slot] = static
        if static.get("conversationId") is not None:
            self._custom_conv[slot] = int(static["conversationId"])
        return dict(json.loads(self.record_bytes(slot)))

    def drop_before(self, before_ms: int) -> int:
        """Physically remove messages created before `before_ms` (retention); returns count."""
        with self.lock:
            cut = bisect_left(self.order_ct, before_ms)
            for slot in self.order[:cut]:
                self.cols.avail[slot] = GONE
            del self.order[:cut]
            del self.order_ct[:cut]
            self.version += 1
            return cut

    def all_slots(self) -> Iterator[int]:
        return iter(self.order)


def _complete_attachment(
    att: dict[str, Any], message_id: int, index: int, record: dict[str, Any]
) -> dict[str, Any]:
    out = dict(att)
    out.setdefault("id", message_id * 10 + index)
    out.setdefault(
        "type", "Text" if out.get("contentType", "").startswith("text/") else "MmsAttachment"
    )
    out.setdefault("contentType", "text/plain")
    probe = Attachment(int(out["id"]), str(out["type"]), str(out["contentType"]), 0)
    out["size"] = len(_custom_content(record, probe))
    return out


def _custom_content(record: dict[str, Any], att: Attachment) -> bytes:
    if att.content_type.startswith("text/plain") and att.type == "Text":
        return str(record.get("subject", "")).encode()
    return media.placeholder_for(att.content_type, att.id)
