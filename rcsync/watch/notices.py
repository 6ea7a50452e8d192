"""What the notification channel's thread tells the watch loop, and the inbox it goes through.

The channel (`rcsync.watch.channel`) runs in a thread of its own; the loop's thread owns the
scheduler. Notices are queued here and the loop is nudged (`Waker.nudge`); the loop takes
them between steps and turns them into scheduler facts, so the scheduler stays single-
threaded and pure.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Hint:
    """Pull these extensions now (None: every one, e.g. after events were lost)."""

    extensions: frozenset[str] | None


@dataclass(frozen=True)
class ChannelState:
    """The channel is up (subscribed, events flow) or down (reconnecting, or given up)."""

    up: bool


Notice = Hint | ChannelState


class Inbox:
    """A thread-safe queue of notices; `post` wakes the loop through `wake`."""

    def __init__(self, wake: Callable[[], None]) -> None:
        self._wake = wake
        self._lock = threading.Lock()
        self._notices: list[Notice] = []

    def post(self, notice: Notice) -> None:
        with self._lock:
            self._notices.append(notice)
        self._wake()

    def take(self) -> list[Notice]:
        with self._lock:
            notices, self._notices = self._notices, []
        return notices
