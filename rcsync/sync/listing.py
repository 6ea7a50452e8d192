"""Walking the whole message list, newest first, by the keyset cursor of `rules.listing`.

One walk for every reader of the message list: the full pull stores each page of what its
FSync could not give (and the cursor), `verify` compares each page of the whole history
with the database. Every request is ``page=1`` with ``dateTo`` from the cursor (page
numbers shift when messages are purged meanwhile), the cursor's availabilities and lower
bound, 1,000 records: ``ceil(n / 1000)`` requests plus one per page whose oldest instant it
shares with the next (the overlap is dropped here, as are ids the caller already has).
The next page is requested as soon as its ``dateTo`` is known and arrives while the caller
handles this one (`rcsync.sync.prefetch`); pages reach the caller one by one, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rcsync.errors import MalformedResponse
from rcsync.rules import records as rec
from rcsync.rules.listing import Listing, next_listing
from rcsync.sync.prefetch import Prefetch

PER_PAGE = 1000


class ListClient(Protocol):
    """What the walk needs of `rcsync.api.MessageStoreClient`."""

    def list_messages(
        self,
        *,
        date_from: str,
        date_to: str,
        message_types: Sequence[str],
        availability: Sequence[str] = ...,
        page: int = 1,
        per_page: int = 1000,
    ) -> Any: ...


@dataclass(frozen=True)
class Page:
    """One page as the caller gets it."""

    records: list[Mapping[str, Any]]  # the page's records minus the overlap and `skip`
    total: int | None  # the listing's size (first page only; None if unknown)
    listing: Listing  # the cursor after this page (commit it with the page to resume)


def walk_listing(
    client: ListClient,
    listing: Listing,
    *,
    date_from: str,
    message_types: Sequence[str],
    on_page: Callable[[Page], None],
    skip: Collection[int] = frozenset(),
) -> Listing:
    """Call `on_page` for every page from where `listing` stands; returns the final cursor.

    `date_from` is the lower bound where the cursor has none of its own; records whose id
    is in `skip` are left out of the pages. Each page costs one request. If `on_page`
    raises, the prefetched request is settled first, so the client is idle again before
    the error goes up.
    """

    def fetch(cursor: Listing) -> Prefetch[Any]:
        return Prefetch(
            lambda: client.list_messages(
                date_from=cursor.date_from or date_from,
                date_to=cursor.date_to,
                message_types=message_types,
                availability=cursor.availability,
                page=cursor.page,
                per_page=PER_PAGE,
            )
        )

    pending = None if listing.done else fetch(listing)
    first = True
    try:
        while pending is not None:
            answer = pending.result()
            pending = None
            check_times(answer.records)
            total = total_elements(answer.paging) if first else None
            first = False
            seen = set(listing.boundary)
            fresh = [r for r in answer.records if (i := int(r["id"])) not in seen and i not in skip]
            listing = next_listing(listing, answer.records, answer.has_next)
            pending = None if listing.done else fetch(listing)
            on_page(Page(fresh, total, listing))
    except Exception:
        if pending is not None:
            pending.settle()  # Ctrl-C does not wait: the thread is a daemon
        raise
    return listing


def total_elements(paging: Mapping[str, Any]) -> int | None:
    """The listing's size for a progress bar; junk there only means "total unknown"."""
    value = paging.get("totalElements")
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        total = int(value)
    except ValueError:
        return None
    return total if total >= 0 else None


def check_times(records: Sequence[Mapping[str, Any]]) -> None:
    """Keyset paging needs every listed record's creationTime; without it, reject the page."""
    for record in records:
        try:
            rec.parse_time(record["creationTime"])
        except (KeyError, TypeError, ValueError, AttributeError):
            raise MalformedResponse(
                f"malformed response from listMessages: record "
                f"{record.get('id')} has no valid creationTime"
            ) from None
