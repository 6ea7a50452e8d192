"""Edits first: what the attachment phase checks before each download.

Attachment downloads and edits share RingCentral's Medium group (40 requests a minute per
user and app, whichever process sends them), and a download phase can last hours. So
before each download, `EditsFirst.before_download`:

1. asks `interrupt` (`watch`) whether to end the phase now: a new edit waits, a pull is
   due. The watch pushes and pulls, then starts the phase again where it stopped;
2. pushes first (`push`, given by `sync`) when edits were made since the phase began,
   then goes on downloading;
3. keeps a reserve: a download leaves free in the window of the write group what the
   pending edits need (the requests their push would send, `requests_needed`) plus
   `WRITE_RESERVE` for an edit made meanwhile, so a push, ours or another process's
   (RingCentral counts per user and app, not per process), neither waits behind the
   downloads nor meets a 429 penalty they earned. When the window is that full the phase
   waits, in slices of `POLL` seconds, so 1 and 2 are asked at least that often.

A plain `pull` gives neither `interrupt` nor `push`: it only keeps the reserve. The
reserve needs the client's `RateBudget`; a client without one (a test double) only gets
1 and 2. Known from the headers, a media host in a group of its own needs no reserve.

The phase may begin with a message-store export (`rcsync.sync.bootstrap`), whose requests
are Heavy, not Medium: its waits for the task and its zip downloads ask 1 and 2 alone
(`yield_to_edits`, `pause`), so an edit made during a long export wait goes out within
`POLL`, not after the export.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from rcsync.api.client import UPDATE, requests_needed
from rcsync.api.content import CONTENT
from rcsync.api.ratelimit import RateBudget, describe_limit
from rcsync.config import Config
from rcsync.progress import NullProgress, Progress, WaitReason
from rcsync.rules.actions import Op
from rcsync.rules.plan import plan_push
from rcsync.store.pending import load_pending, pending_summary
from rcsync.types import PATH_BATCH, ConflictPolicy

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

#: Places of the write group's window downloads always leave free: an edit made while the
#: window is full (one message, both fields) goes out at once instead of a minute later.
#: Two pushes a window go out at once beside the downloads; a third waits for the window to
#: slide (a larger reserve would slow every download phase for a rare case).
WRITE_RESERVE = 2
#: Longest sleep between two looks at the pending edits while the window is full: a new
#: edit is noticed within this (the watch's "about a second").
POLL = 0.5
#: A wait that moves later by more than this is announced again.
_REANNOUNCE = 1.0


class Clearance(StrEnum):
    """What `EditsFirst.before_download` decided."""

    DOWNLOAD = "download"  # go on
    PUSHED = "pushed"  # new edits were pushed first; go on
    STOP = "stop"  # end the phase (`interrupt` said so)


#: (pending edits, newest edit time): what the reserve was last computed for.
Snapshot = tuple[int, str | None]


def write_requests(engine: Engine, config: Config, *, star: bool = True) -> int:
    """The write requests a push of what is pending now would send (an upper bound: the
    push may find some already agreed). Read status via `requests_needed`; the others 50
    ids a request (API-NOTES §2.2-2.5)."""
    with engine.connect() as conn:
        messages, tombstones = load_pending(conn)
    if not messages and not tombstones:
        return 0
    plan = plan_push(
        messages,
        tombstones,
        policy=ConflictPolicy(config.sync.conflict_policy),
        row_delete=config.sync.row_delete,
    )
    total = 0
    for group in plan.groups():
        if group.op is Op.READ:
            total += requests_needed(group.messages, star=star)
        else:
            total += math.ceil(group.messages / PATH_BATCH)
    return total


@dataclass
class EditsFirst:
    """The checks before each download; see the module docstring."""

    engine: Engine
    config: Config
    budget: RateBudget | None = None
    progress: Progress = field(default_factory=NullProgress)
    #: `sync`: push the pending edits (between two downloads).
    push: Callable[[], None] | None = None
    #: `watch`: whether to end the phase now.
    interrupt: Callable[[], bool] | None = None
    star: bool = True  # the client's `star_bulk`, for `requests_needed`
    _seen: Snapshot | None = field(default=None, init=False)  # edits handled at the start
    _reserve_for: Snapshot | None = field(default=None, init=False)
    _reserve: int = field(default=0, init=False)
    _announced_until: float | None = field(default=None, init=False)

    def begin(self) -> None:
        """The phase starts: edits pending now were handed to a push already (or are for
        `rcsync push`); only later ones are pushed first."""
        self._seen = self._pending()

    def before_download(self) -> Clearance:
        """Return when a download may go (or the phase must end); see the module docstring."""
        pushed = False
        self._announced_until = None
        while True:
            clearance, pending = self._edits_go_first()
            if clearance is Clearance.STOP:
                return clearance
            if clearance is Clearance.PUSHED:
                pushed = True
                continue
            wait = self._wait_for_room(pending)
            if wait <= 0:
                return Clearance.PUSHED if pushed else Clearance.DOWNLOAD
            assert self.budget is not None  # no wait without a budget
            self.budget.pause(min(wait, POLL))

    def yield_to_edits(self) -> Clearance:
        """Steps 1 and 2 alone, for work that spends nothing of the write group (the
        export's Heavy requests): no reserve to keep."""
        return self._edits_go_first()[0]

    def pause(self, seconds: float, reason: WaitReason, detail: str) -> Clearance:
        """Wait `seconds` (announced like any wait of the client's, and again after a push,
        which draws its own line), asking `yield_to_edits` every `POLL`; STOP ends it early.
        Without a budget (a test double) there is no clock to wait on: returns at once."""
        pushed = False
        end = self._now() + seconds
        announce = True
        while True:
            left = end - self._now()
            if left <= 0 or self.budget is None:
                return Clearance.PUSHED if pushed else Clearance.DOWNLOAD
            if announce:  # again after a push, which drew its own line
                self.budget.on_wait(reason, left, detail)
            clearance = self.yield_to_edits()
            if clearance is Clearance.STOP:
                return clearance
            announce = clearance is Clearance.PUSHED
            pushed = pushed or announce
            self.budget.pause(min(left, POLL))

    def _edits_go_first(self) -> tuple[Clearance, Snapshot]:
        """1 and 2 of the module docstring, with what is pending now."""
        if self.interrupt is not None and self.interrupt():
            return Clearance.STOP, (0, None)
        pending = self._pending()
        if self.push is not None and self._is_new(pending):
            self._seen = pending
            self.push()
            return Clearance.PUSHED, pending
        return Clearance.DOWNLOAD, pending

    def _now(self) -> float:
        return self.budget.now() if self.budget is not None else 0.0

    def keep(self, pending: Snapshot) -> int:
        """Places of the write group's window to leave free for `pending` edits."""
        if pending != self._reserve_for:
            self._reserve_for = pending
            needed = write_requests(self.engine, self.config, star=self.star) if pending[0] else 0
            self._reserve = needed + WRITE_RESERVE
        return self._reserve

    def _pending(self) -> Snapshot:
        with self.engine.connect() as conn:
            return pending_summary(conn)

    def _is_new(self, pending: Snapshot) -> bool:
        count, newest = pending
        if count == 0 or self._seen is None:
            return False
        seen_count, seen_newest = self._seen
        return count > seen_count or (newest or "") > (seen_newest or "")

    def _wait_for_room(self, pending: Snapshot) -> float:
        """Seconds until a download leaves the reserve free (0: now), announced once."""
        budget = self.budget
        if budget is None:
            return 0.0
        group = budget.group_for(CONTENT.name, CONTENT.group)
        if group != budget.group_for(UPDATE.name, UPDATE.group):
            return 0.0  # downloads do not spend what writes need
        keep = self.keep(pending)
        wait = budget.delay_keeping(group, keep)
        if wait > 0:
            self._announce(budget, group, wait)
        return wait

    def _announce(self, budget: RateBudget, group: str, wait: float) -> None:
        until = budget.now() + wait
        if self._announced_until is not None and until <= self._announced_until + _REANNOUNCE:
            return
        self._announced_until = until
        # The same words as any wait for the window: what is kept for edits would make
        # the line longer than a terminal for little news.
        limit, window = budget.limit_of(group)
        self.progress.waiting(WaitReason.RATE_LIMIT, wait, describe_limit(group, limit, window))
