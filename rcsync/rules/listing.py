"""The full pull's cursor over the message list: keyset paging by date. PURE.

The list reads only what the first pull's FSync could not give (see `rcsync.sync.pull`):
Deleted and Purged messages (`after_fsync`), and, when the FSync said
``olderRecordsExist``, every message older than the oldest one it returned (a second pass,
``older``). A cursor saved by an older rcsync (no ``availability``) lists everything.

Page numbers shift when messages are purged during a listing, so every request is
``page=1`` with ``dateTo`` = the oldest creationTime stored so far + 1 ms (inclusive or
exclusive, the instant is covered). The ids stored at that instant are remembered, and
the page that repeats them has the overlap dropped. If a whole page shares one instant
(more than a page of messages created in the same millisecond), pages 2, 3, ... of that
instant follow before ``dateTo`` moves on. The cursor is committed with each page, as JSON
in ``sync_state[FIRST_PULL]``, so an interrupted pull resumes at the page it stopped at.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from rcsync.rules import records as rec
from rcsync.types import Availability

ALL = tuple(str(a) for a in Availability)
# What an FSync of the whole history may leave out: it returns Alive records (whether it
# also returns Deleted ones is not documented, so the trash is always listed).
NOT_ALIVE = (str(Availability.DELETED), str(Availability.PURGED))


@dataclass(frozen=True)
class Listing:
    """Progress of a full pull (stored as JSON in sync_state[FIRST_PULL])."""

    frame: dict[str, Any]
    token: str  # T0; "" while the FSync that takes it is under way
    date_to: str  # exclusive upper bound of the next request
    page: int = 1
    oldest: str | None = None  # oldest creationTime stored so far
    boundary: tuple[int, ...] = ()  # ids stored at `oldest`, which the next page repeats
    done: bool = False
    widen: bool = False  # T0's FSync said olderRecordsExist: its frame may be cut
    availability: tuple[str, ...] = ALL  # what this pass lists
    date_from: str | None = None  # this pass's lower bound (None: the frame's history start)
    older: str | None = None  # then a pass over every availability with this dateTo

    @classmethod
    def before_fsync(cls, frame: dict[str, Any]) -> Listing:
        """A full pull whose FSync has not completed: resuming it starts with the FSync."""
        return cls(frame=frame, token="", date_to="")

    @property
    def fsynced(self) -> bool:
        return bool(self.token)

    def to_json(self) -> str:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["boundary"] = list(self.boundary)
        data["availability"] = list(self.availability)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Listing:
        data = json.loads(text)
        data["boundary"] = tuple(data.get("boundary", ()))
        data["availability"] = tuple(data.get("availability", ALL))
        return cls(**data)


def after_fsync(
    frame: dict[str, Any], token: str, date_to: str, *, capped: bool, oldest: str | None
) -> Listing:
    """The listing that completes an FSync of the whole history.

    `oldest` is the oldest creationTime among the FSync's records. A complete FSync had
    every Alive message: only Deleted and Purged ones are listed. A capped one
    (``olderRecordsExist``) had the newest Alive messages down to `oldest`: the trash is
    listed above that instant, then everything from it down (the instant is in both, so
    messages sharing it are never missed).
    """
    listing = Listing(frame=frame, token=token, date_to=date_to, widen=capped)
    if not capped:
        return replace(listing, availability=NOT_ALIVE)
    if oldest is None:  # capped before its first record: nothing was covered
        return listing
    return replace(listing, availability=NOT_ALIVE, date_from=oldest, older=rec.plus_one_ms(oldest))


def next_listing(
    listing: Listing, page_records: Sequence[Mapping[str, Any]], has_next: bool
) -> Listing:
    """Where the listing goes after a page of `page_records` (newest first)."""
    if not has_next or not page_records:
        if listing.older is not None:  # the second pass of a capped FSync's listing
            return replace(
                listing,
                date_to=listing.older,
                page=1,
                oldest=None,
                boundary=(),
                availability=ALL,
                date_from=None,
                older=None,
            )
        return replace(listing, done=True)
    times = [str(r["creationTime"]) for r in page_records]
    oldest = min(times)
    ids = {int(r["id"]) for r, t in zip(page_records, times, strict=True) if t == oldest}
    if oldest == listing.oldest:
        # Nothing older on this page: a crowded instant; page through it.
        return replace(
            listing, page=listing.page + 1, boundary=tuple(sorted(set(listing.boundary) | ids))
        )
    return replace(
        listing, date_to=rec.plus_one_ms(oldest), page=1, oldest=oldest, boundary=tuple(sorted(ids))
    )
