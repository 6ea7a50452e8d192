"""Whose request goes next when several extensions share one rate budget. PURE.

RingCentral counts requests per user and app, so an admin mirroring 50 extensions has one
Light budget (50 a minute) for all of them. Served first come first served, one large
extension's first pull would hold the budget for hours while the others wait; served in
turn, every extension advances one request per round. The rule is round robin *by
request* over the extensions that are waiting to send one now: an extension that is busy
writing its last page is skipped (nobody waits for it), and it is first in line again as
soon as its turn comes round.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def next_turn(order: Sequence[K], last: K | None, waiting: Collection[K]) -> K | None:
    """The waiting participant that follows `last` in `order` (cyclically), or None.

    `order` is every participant, in a fixed order; `last` the one served last (None: start
    at the beginning; one no longer in `order` counts from the beginning too). Waiting ones
    not in `order` are never chosen: the caller registers a participant before it waits.
    """
    if not order or not waiting:
        return None
    start = order.index(last) + 1 if last in order else 0
    n = len(order)
    for step in range(n):
        candidate = order[(start + step) % n]
        if candidate in waiting:
            return candidate
    return None
