"""The full pull's cursor over the message list: keyset paging by date. PURE.

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


@dataclass(frozen=True)
class Listing:
    """Progress of a full pull (stored as JSON in sync_state[FIRST_PULL])."""

    frame: dict[str, Any]
    token: str
    date_to: str  # exclusive upper bound of the next request
    page: int = 1
    oldest: str | None = None  # oldest creationTime stored so far
    boundary: tuple[int, ...] = ()  # ids stored at `oldest`, which the next page repeats
    done: bool = False
    widen: bool = False  # T0's FSync said olderRecordsExist: its frame may be cut

    def to_json(self) -> str:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["boundary"] = list(self.boundary)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Listing:
        data = json.loads(text)
        data["boundary"] = tuple(data.get("boundary", ()))
        return cls(**data)


def next_listing(
    listing: Listing, page_records: Sequence[Mapping[str, Any]], has_next: bool
) -> Listing:
    """Where the listing goes after a page of `page_records` (newest first)."""
    if not has_next or not page_records:
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
