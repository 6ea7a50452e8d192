"""How long-running library code reports progress without printing.

The engine calls a `Progress` it was given; the CLI supplies one that draws a bar on a
terminal (or nothing with -q / when not a TTY), tests supply a recorder. Only the CLI prints.

Waits are events too (`Progress.waiting`): the API's rate-limit budget and retries and the
engine lock call a `WaitCallback` they were given, so a run that pauses for a minute says
why and for how long instead of looking hung.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Protocol


class WaitReason(StrEnum):
    """Why the work pauses (the display words each one its own way)."""

    RATE_LIMIT = "rate-limit"  # the window of a RingCentral usage-plan group is full
    PENALTY = "penalty"  # RingCentral answered 429: the group is blocked for Retry-After
    RETRY = "retry"  # the server was unreachable or failed: backing off before a retry
    LOCK = "lock"  # another rcsync holds the database's engine lock
    BUSY = "busy"  # another program holds SQLite's write lock (SQLite's busy timeout)
    EXPORT = "export"  # RingCentral is still making a message-store export: polled later


#: ``(reason, seconds, detail)``: seconds is how long the wait will be, None if unknown
#: (a lock lasts as long as its holder); detail names what is waited for, e.g.
#: ``RingCentral rate limit (Medium, 40/min)``.
WaitCallback = Callable[[WaitReason, float | None, str], None]


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 message``, ``2 messages``, ``1,463 messages`` (`many` for irregular plurals): the
    pipelines' summaries and the CLI word counts the same way."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def duration(seconds: float) -> str:
    """``4 s``, ``2 min 5 s``, ``12 min``, ``2 h 47 min``: as precise as a person needs."""
    s = max(round(seconds), 0)
    if s < 90:  # a rate-limit window plus its margin reads better as "61 s"
        return f"{s} s"
    minutes, s = divmod(s, 60)
    if minutes < 60:
        return f"{minutes} min {s} s" if minutes < 10 and s else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def wait_line(reason: WaitReason, seconds: float | None, detail: str) -> str:
    """What a wait says: ``RingCentral rate limit (Medium, 40/min): waiting 58 s``,
    ``server unreachable (ConnectError), retry 3/4 in 4 s``, ``database locked by rcsync
    watch (pid 123): waiting``, ``messages.db: written by another program (an open write
    transaction): waiting up to 29 s``."""
    if reason is WaitReason.RETRY:
        return f"{detail} in {duration(seconds or 0)}"
    if reason is WaitReason.BUSY:  # it ends when the other program commits: a bound only
        return f"{detail}: waiting up to {duration(seconds or 0)}"
    if reason is WaitReason.PENALTY:
        detail += " exceeded (HTTP 429)"
    return f"{detail}: waiting" + ("" if seconds is None else f" {duration(seconds)}")


def no_wait_report(reason: WaitReason, seconds: float | None, detail: str) -> None:
    """The default `WaitCallback`: nobody is told."""


class Progress(Protocol):
    def start(self, phase: str, total: int | None = None) -> None:
        """A new phase begins ("messages", "attachments"); total may be unknown."""

    def advance(self, n: int = 1) -> None:
        """n more items of the current phase are done."""

    def discount(self, n: int) -> None:
        """n items of the current total will not be done after all (a message first heard
        of as purged is not stored), so the total ends at what was really stored."""

    def finish(self) -> None:
        """The current phase is over."""

    def note(self, message: str) -> None:
        """A one-line event worth telling the user (a resync)."""

    def hint(self, message: str) -> None:
        """Advice for a person watching (an estimate, how to stop): not for a log or cron."""

    def waiting(self, reason: WaitReason, seconds: float | None, detail: str) -> None:
        """The work pauses `seconds` (None: unknown) for `detail`; see `WaitCallback`."""


class NullProgress:
    """Reports nothing."""

    def start(self, phase: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def discount(self, n: int) -> None:
        pass

    def finish(self) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def hint(self, message: str) -> None:
        pass

    def waiting(self, reason: WaitReason, seconds: float | None, detail: str) -> None:
        pass
