"""When `watch`'s WebSocket subscription must change, and how. PURE (no I/O).

The subscription names one message-store event filter per mirrored extension (and, for an
account archive, the extension list's). The mirrored set changes while `watch` runs: a user
added in RingCentral is mirrored by the pull its extension-list event asks for, a deleted
one is marked gone by the 404 on their path. The subscription then follows, with one
``PUT /restapi/v1.0/subscription/{id}`` sent over the socket (RingCentral's WebSocket
subscriptions "cannot be updated via HTTP interface"; the request carries the whole new
list, as the official JS extension's ``refresh`` sends it):

    current filters   wanted filters   ->  change
    same set          same set             None (nothing is sent)
    A                 A + {new}            added (new,)  : the new user's events come now
    A + {gone}        A                    removed (gone,): no filter for a user who is gone
    A + {gone}        A + {new}            both, in one request

Order and repeats do not count: RingCentral treats the filters as a set (a repeated filter
is one filter), so a re-ordered list is no reason to send anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FilterChange:
    """The filters a subscription update adds and removes, each sorted."""

    added: tuple[str, ...]
    removed: tuple[str, ...]

    def describe(self) -> str:
        """``1 event filter added``, ``2 event filters added, 1 removed``: for the log."""
        counts = [(len(self.added), "added"), (len(self.removed), "removed")]
        (n, verb), *rest = [(n, verb) for n, verb in counts if n]
        text = f"{n} event filter{'' if n == 1 else 's'} {verb}"
        return text + "".join(f", {m} {other}" for m, other in rest)


def filter_change(current: Sequence[str], wanted: Sequence[str]) -> FilterChange | None:
    """What turns the `current` subscription into `wanted`; None when they are the same set."""
    have, want = set(current), set(wanted)
    if have == want:
        return None
    return FilterChange(tuple(sorted(want - have)), tuple(sorted(have - want)))
